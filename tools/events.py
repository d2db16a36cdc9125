"""A tiny in-process event bus: deploy progress for the chat and CLI to show as it happens.

Events are plain dicts: ``{"kind": "progress", "job_id", "state", "message", "data": {...}}``. Each
subscriber gets its own bounded queue; a slow subscriber loses old events rather than blocking a deploy.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any


class EventBus:
    def __init__(self, maxsize: int = 500) -> None:
        self._subscribers: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]]] = defaultdict(list)
        self._maxsize = maxsize

    def subscribe(self, owner: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=self._maxsize)
        self._subscribers[owner].append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, owner: str, queue: asyncio.Queue) -> None:
        self._subscribers[owner] = [(lp, q) for lp, q in self._subscribers.get(owner, []) if q is not queue]

    def publish(self, owner: str, event: dict[str, Any]) -> None:
        for loop, queue in list(self._subscribers.get(owner, [])):
            loop.call_soon_threadsafe(self._put, queue, event)

    @staticmethod
    def _put(queue: asyncio.Queue, event: dict[str, Any]) -> None:
        if queue.full():
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
        queue.put_nowait(event)
