"""Content-addressed storage for the agent's reasoning traces.

A ``TraceStore`` keeps immutable blobs under refs derived from their content: ``put(data) -> ref``,
``get(ref) -> data`` (verified: a blob that no longer matches its ref raises ``TraceTampered``),
``exists(ref)``. Refs are opaque strings with a scheme prefix, so backends can coexist in one ledger.

``LocalTraceStore(directory)`` (the default) uses ``sha256:<64 hex>`` refs and stores each blob at
``<directory>/<first 2 hex>/<remaining 62 hex>``, written to a temporary file in the same directory, fsynced
and renamed into place, so a reader never sees half a trace.

A 0G Storage backend would implement the same protocol: ``put`` uploads the bytes with the 0G SDK (split
into segments, Merkle-tree'd, submitted through the flow contract) and returns ``0g:<merkle root hash>``;
``get`` downloads by root hash with proof verification on (the root *is* the content address, so a
tampered download fails the proof and must raise ``TraceTampered``); ``exists`` asks the indexer for the
file info. Refs of both kinds can be stored side by side; the router record keeps whichever it got.

``trace_from_events(events)`` turns ADK-ish turn events into canonical JSON bytes for ``put``.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from tools.routing.canonical import canonical_data, canonical_json
from tools.routing.errors import NotCanonical, RoutingError, TraceNotFound, TraceTampered

TRACE_FORMAT = "necto-trace/1"
_REF = re.compile(r"sha256:([0-9a-f]{64})")
_MAX_SAFE_INT = 2**53 - 1


@runtime_checkable
class TraceStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; return its ref (the same bytes always give the same ref)."""
        ...

    def get(self, ref: str) -> bytes:
        """The bytes stored under ``ref``, verified against it (TraceNotFound, TraceTampered)."""
        ...

    def exists(self, ref: str) -> bool: ...


def sha256_ref(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class LocalTraceStore:
    """Traces in a local directory, content-addressed by SHA-256 (module docstring)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path_of(self, ref: str) -> Path:
        match = _REF.fullmatch(ref)
        if match is None:
            raise RoutingError(f"{ref!r} is not a local trace ref (sha256:<64 lower-case hex>)")
        digest = match.group(1)
        return self.directory / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        ref = sha256_ref(data)
        path = self.path_of(ref)
        if path.exists():
            self.get(ref)  # already stored; refuse to paper over a tampered copy (TraceTampered)
            return ref
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return ref

    def get(self, ref: str) -> bytes:
        path = self.path_of(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise TraceNotFound(f"No trace {ref} in {self.directory}.") from None
        actual = sha256_ref(data)
        if actual != ref:
            raise TraceTampered(
                f"Trace {ref} at {path} now hashes to {actual}: the file was changed after it was stored.",
                hint="Restore it from a backup or from the agent's session log; do not trust its contents.",
            )
        return data

    def exists(self, ref: str) -> bool:
        return self.path_of(ref).is_file()


def _trace_data(value: Any) -> Any:
    """``canonical_data``, lenient where a trace must not fail: odd values become their text."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")  # lone surrogates have no UTF-8 form
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        return str(value)
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset | BaseModel):
        pass  # walked below, so one odd leaf does not turn the whole container into text
    else:
        try:
            return canonical_data(value)
        except NotCanonical:
            pass
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return _trace_data(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        return {str(key): _trace_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_trace_data(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_trace_data(item) for item in value), key=canonical_json)
    return str(value)


def _first(event: Mapping[str, Any], *keys: str) -> Any:
    return next((event[key] for key in keys if event.get(key) is not None), None)


def _call(call: Mapping[str, Any], payload_key: str, *payload_aliases: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": str(call.get("name", ""))}
    payload = _first(call, payload_key, *payload_aliases)
    entry[payload_key] = _trace_data(payload if payload is not None else {})
    if call.get("id") is not None:
        entry["id"] = str(call["id"])
    return entry


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    role = _first(event, "role", "author")
    texts: list[str] = []
    calls: list[Mapping[str, Any]] = list(_first(event, "tool_calls", "function_calls") or [])
    results: list[Mapping[str, Any]] = list(_first(event, "tool_results", "function_responses") or [])
    text = event.get("text")
    if text is not None:
        texts.append(str(text))
    content = event.get("content")
    if isinstance(content, Mapping):
        role = role or content.get("role")
        for part in content.get("parts") or []:
            if not isinstance(part, Mapping):
                continue
            if part.get("text") is not None:
                texts.append(str(part["text"]))
            if part.get("function_call") is not None:
                calls.append(part["function_call"])
            if part.get("function_response") is not None:
                results.append(part["function_response"])
    elif isinstance(content, str):
        texts.append(content)
    entry: dict[str, Any] = {"role": str(role or "unknown")}
    if texts:
        entry["text"] = "\n".join(texts)
    if calls:
        entry["tool_calls"] = [_call(call, "args", "arguments") for call in calls]
    if results:
        entry["tool_results"] = [_call(result, "response", "result", "output") for result in results]
    timestamp = event.get("timestamp")
    if timestamp is not None:
        entry["timestamp"] = _trace_data(timestamp)
    return entry


def trace_from_events(events: Iterable[Mapping[str, Any]], *, job_id: str | None = None) -> bytes:
    """A reasoning trace as canonical JSON bytes, ready for ``TraceStore.put``.

    Args:
        events: turn events in order, each a dict with ``role`` (or ADK's ``author``), ``text``,
            ``tool_calls`` (``[{"name", "args", "id"?}]``) and ``tool_results`` (``[{"name", "response",
            "id"?}]``); ADK's ``content.parts`` (``text``, ``function_call``, ``function_response``) work too.
        job_id: the job the trace belongs to.

    Returns:
        ``{"format": "necto-trace/1", "job_id", "events": [{"role", "text"?, "tool_calls"?, "tool_results"?,
        "timestamp"?}]}`` as RFC 8785 bytes. Values with no JSON form (NaN, objects) become their text.
    """
    return canonical_json({"format": TRACE_FORMAT, "job_id": job_id, "events": [_event(e) for e in events]})


__all__ = ["TRACE_FORMAT", "LocalTraceStore", "TraceStore", "sha256_ref", "trace_from_events"]
