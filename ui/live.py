"""The chat's live elements: the bid countdown, the deployment card and the log stream, kept up to date.

Each view owns one Chainlit ``CustomElement`` (``public/elements/<name>.jsx``) whose props are built by
``ui/elements.py`` from service data and pushed with ``element.update()``. The browser never drives
anything but these views: the log stream's follow/stop/filter and the card's Close arrive as action
callbacks (``ui/app.py``), and Close only starts the normal close flow (a code-built card, then Approve).

Failures stay inside a view: the element says what happened and what to do next; the log keeps the detail.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

import chainlit as cl

from tools.errors import NectoError
from ui import elements, render

log = logging.getLogger("necto.ui")

PUSH_INTERVAL_S = 0.5  # at most two element updates a second: each one is a websocket frame and a file
LOG_TAIL = 50
LOG_FOLLOW_MAX_S = 600.0  # a followed stream stops by itself after ten minutes; Follow starts it again
CARD_REFRESH_S = 10.0
CARD_WATCH_MAX_S = 1800.0
KUBE_EVENTS_TIMEOUT_S = 5.0
OPEN_STATES = frozenset({"plan", "confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent", "running"})


async def send_message(message: cl.Message) -> None:
    """Send ``message``; if its elements cannot be stored (Chainlit writes each to <app root>/.files), the
    text has already gone out and stays the fallback: log it and carry on with the turn."""
    try:
        await message.send()
    except Exception:
        if not message.elements:
            raise
        log.exception("sending the elements of a message failed; its text stands alone")


def _custom(name: str, props: dict[str, Any]) -> cl.CustomElement:
    return cl.CustomElement(name=name, props=props, display="inline")


async def _push(element: cl.CustomElement, props: dict[str, Any]) -> None:
    element.props = props
    try:
        await element.update()
    except Exception:  # a closed tab or a dropped socket: the next push (or none) is fine
        log.debug("element update failed", exc_info=True)


# ------------------------------------------------------------------------------------------ bids
class BidCountdownView:
    """The countdown element under the deploy progress message, fed by the same progress events."""

    def __init__(self, service: Any, owner: str) -> None:
        self._service = service
        self._owner = owner
        self._board: elements.BidBoard | None = None
        self._element: cl.CustomElement | None = None
        self._for_id: str | None = None
        self._last_push = 0.0
        self._dirty = False

    async def start(self, for_id: str) -> None:
        settings = getattr(self._service, "settings", None)
        block_time: float | None = None
        try:
            # The chain's real pace (the sandbox's blocks are fast), as the deploy machine waits by it.
            block_time = float(await self._service.backend.block_time_s())
        except Exception:
            log.debug("block time unavailable for the bid countdown", exc_info=True)
        names: dict[str, str] = {}
        try:
            for offer in self._service.last_quote_offers(self._owner):
                if offer.get("provider_address") and offer.get("provider"):
                    names[str(offer["provider_address"])] = str(offer["provider"])
        except Exception:
            log.debug("no quote to name the bidders from", exc_info=True)
        self._board = elements.BidBoard(
            names=names,
            block_time_s=block_time,
            wait_blocks=getattr(settings, "bid_wait_blocks", None),
            deadline_s=getattr(settings, "bid_deadline_s", None),
            now=time.monotonic(),
        )
        self._for_id = for_id

    async def take(self, event: Any) -> None:
        if self._board is None or not self._board.take(event, now=time.monotonic()):
            return
        self._dirty = True
        await self.flush(force=self._element is None or self._board.phase in ("leased", "failed"))

    async def flush(self, *, force: bool = False) -> None:
        if self._board is None or not self._dirty or self._for_id is None:
            return
        now = time.monotonic()
        if not force and now - self._last_push < PUSH_INTERVAL_S:
            return
        props = self._board.props(now=now)
        self._last_push, self._dirty = now, False
        if self._element is None:
            self._element = _custom(elements.BID_COUNTDOWN, props)
            try:
                await self._element.send(for_id=self._for_id)
            except Exception:
                log.debug("sending the bid countdown failed", exc_info=True)
            return
        await _push(self._element, props)


# ----------------------------------------------------------------------------------- deployments
async def job_card_props(service: Any, owner: str, job_id: str) -> dict[str, Any] | None:
    """Card props from the service's own status view (and the provider's cluster events); None if unknown."""
    result = await service.status(job_id, owner=owner)
    job = result.get("job") if isinstance(result, Mapping) else None
    if not isinstance(job, Mapping):
        return None
    kube: list[dict[str, Any]] = []
    read = getattr(service, "lease_events", None)
    if read is not None and job.get("state") in ("running", "manifest_sent"):
        try:
            async with asyncio.timeout(KUBE_EVENTS_TIMEOUT_S):
                kube = list(await read(job_id, owner=owner))
        except Exception:  # cluster events are a bonus; the card shows without them
            log.debug("cluster events unavailable for %s", job_id, exc_info=True)
    return elements.deployment_card_props(job, kube_events=kube)


class DeploymentCardView:
    """A deployment card message, refreshed from the service while the job is open."""

    def __init__(self, service: Any, owner: str, job_id: str) -> None:
        self.service = service
        self.owner = owner
        self.job_id = job_id
        self.element: cl.CustomElement | None = None
        self.message: cl.Message | None = None
        self.task: asyncio.Future | None = None
        self.state = ""

    async def show(self, *, web: bool) -> bool:
        """Send the card (the web gets the element, every client the Markdown summary); False if unknown."""
        props = await job_card_props(self.service, self.owner, self.job_id)
        if props is None:
            return False
        self.state = props["state"]
        element = [_custom(elements.DEPLOYMENT_CARD, props)] if web else []
        # The web shows the card itself; other clients (and the thread's text) get the same figures in Markdown.
        content = render.deployment_heading(props) if web else render.deployment_summary(props)
        self.message = cl.Message(content=content, author="Necto", elements=element)
        await send_message(self.message)
        self.element = element[0] if element else None
        return True

    async def refresh(self) -> None:
        props = await job_card_props(self.service, self.owner, self.job_id)
        if props is None or self.element is None:
            return
        self.state = props["state"]
        await _push(self.element, props)

    def watch(self) -> asyncio.Future | None:
        """Keep the card current: on each of this job's events, and every ``CARD_REFRESH_S`` seconds."""
        if self.element is None or self.state not in OPEN_STATES:
            return None
        self.task = asyncio.ensure_future(self._watch())
        return self.task

    async def _watch(self) -> None:
        events = getattr(self.service, "events", None)
        queue = events.subscribe(self.owner) if events is not None else None
        deadline = time.monotonic() + CARD_WATCH_MAX_S
        try:
            while self.state in OPEN_STATES and time.monotonic() < deadline:
                await _next_job_event(queue, self.job_id, CARD_REFRESH_S)
                try:
                    await self.refresh()
                except Exception:  # the chain or provider hiccuped: keep the last card, try again later
                    log.debug("refreshing the deployment card failed", exc_info=True)
        finally:
            if events is not None and queue is not None:
                events.unsubscribe(self.owner, queue)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _next_job_event(queue: asyncio.Queue | None, job_id: str, timeout: float) -> None:
    """Return on the next event about ``job_id`` or after ``timeout`` seconds, whichever comes first."""
    if queue is None:
        await asyncio.sleep(timeout)
        return
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            return
        if isinstance(event, Mapping) and str(event.get("job_id") or "") == job_id:
            await asyncio.sleep(0.2)  # let the ledger settle (a burst of events comes together)
            return


# ------------------------------------------------------------------------------------------ logs
class LogStreamView:
    """One log stream element and the task that feeds it; follow, stop and filter come from the page."""

    def __init__(self, service: Any, owner: str, job_id: str, *, services: list[str] | None = None) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.service = service
        self.owner = owner
        self.job_id = job_id
        self.buffer = elements.LogBuffer()
        self.services = list(services or [])
        self.following = False
        self.filter: str | None = None
        self.note = ""
        self.task: asyncio.Future | None = None
        self.element: cl.CustomElement | None = None
        self._last_push = 0.0
        self._dirty = False

    def props(self) -> dict[str, Any]:
        return self.buffer.props(
            stream_id=self.id, job_id=self.job_id, following=self.following, service_filter=self.filter,
            services=self.services, note=self.note,
        )

    async def show(self, *, lines: list[Any] | None = None, note: str = "") -> None:
        for line in lines or []:
            self.buffer.add(line)
        self.note = note
        self.element = _custom(elements.LOG_STREAM, self.props())
        header = f"**Logs** (job {render.safe_text(self.job_id, 40)}): container output, shown as data."
        await send_message(cl.Message(content=header, author="Necto", elements=[self.element]))

    async def push(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.element is None or (not force and now - self._last_push < PUSH_INTERVAL_S):
            return
        self._last_push, self._dirty = now, False
        await _push(self.element, self.props())

    async def follow(self, *, tail: int = 0) -> None:
        """(Re)start following; ``tail`` earlier lines first (0 after a stop: only what is new)."""
        await self._cancel()
        self.following = True
        self.note = ""
        self.task = asyncio.ensure_future(self._run(tail))
        await self.push(force=True)

    async def stop(self, note: str = "Stopped. Press Follow to continue from here.") -> None:
        await self._cancel()
        self.following = False
        self.note = note
        await self.push(force=True)

    async def set_filter(self, service: str | None) -> None:
        """Show only ``service`` (None: all): the stream restarts with that service's recent lines."""
        wanted = service if service in self.buffer.services or service in self.services else None
        was_following = self.following
        await self._cancel()
        self.filter = wanted
        self.buffer.clear()
        if was_following:
            await self.follow(tail=LOG_TAIL)
            return
        await self._read_once(LOG_TAIL)

    async def _cancel(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def _read_once(self, tail: int) -> None:
        try:
            async with asyncio.timeout(15):
                async for line in self.service.stream_logs(
                    self.job_id, owner=self.owner, tail=tail, follow=False, service=self.filter
                ):
                    self.buffer.add(line)
            self.note = f"Last {tail} lines" + (f" of {self.filter}" if self.filter else "") + "."
        except Exception as exc:  # noqa: BLE001 - every failure becomes a note with a next step
            self.note = _log_failure_note(exc)
        await self.push(force=True)

    async def _run(self, tail: int) -> None:
        stream = self.service.stream_logs(
            self.job_id, owner=self.owner, tail=tail, follow=True, service=self.filter
        )
        reader = asyncio.ensure_future(self._read(stream))
        deadline = time.monotonic() + LOG_FOLLOW_MAX_S
        note = "End of the log stream."
        try:
            while not reader.done():
                await asyncio.wait({reader}, timeout=PUSH_INTERVAL_S)
                if self._dirty:
                    await self.push()
                if time.monotonic() > deadline:
                    note = f"Stopped following after {int(LOG_FOLLOW_MAX_S // 60)} min; press Follow to continue."
                    break
            else:
                failure = reader.exception()
                if failure is not None:
                    note = _log_failure_note(failure)
        finally:
            if not reader.done():
                reader.cancel()
                try:
                    await reader
                except (asyncio.CancelledError, Exception):
                    pass
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                try:
                    await aclose()
                except Exception:
                    log.debug("closing the log stream failed", exc_info=True)
        self.following = False
        self.note = note
        await self.push(force=True)

    async def _read(self, stream: Any) -> None:
        async for line in stream:
            if self.buffer.add(line):
                self._dirty = True


def _log_failure_note(exc: BaseException) -> str:
    if isinstance(exc, NectoError):
        hint = getattr(exc, "hint", "") or "Press Follow to try again."
        return f"{render.plain_text(exc.message, 160)} {render.plain_text(hint, 160)}"
    if isinstance(exc, TimeoutError):
        return "The provider did not answer in time; press Follow to try again."
    log.error("log stream failed", exc_info=exc)
    return "The log stream broke off; press Follow to try again."
