"""Content-addressed reasoning traces: round trip, sharded atomic files, tamper detection, trace encoding."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tools.routing import (
    LocalTraceStore,
    RoutingError,
    TraceNotFound,
    TraceStore,
    TraceTampered,
    trace_from_events,
)
from tools.routing.traces import sha256_ref

EVENTS = [
    {"role": "user", "text": "Cheapest A100 for 10 hours in North America, please."},
    {
        "role": "model",
        "text": "Let me get quotes.",
        "tool_calls": [{"name": "quote", "args": {"gpu_model": "a100", "hours": 10}, "id": "c1"}],
    },
    {
        "role": "tool",
        "tool_results": [
            {"name": "quote", "response": {"status": "ok", "best": "akash:akash1alpha"}, "id": "c1"}
        ],
    },
    {"role": "model", "text": "Akash provider alpha ranks first at $1.10/h. Deploy?"},
]


def test_round_trip(tmp_path) -> None:
    store = LocalTraceStore(tmp_path / "traces")
    data = trace_from_events(EVENTS, job_id="job-1")
    ref = store.put(data)
    digest = hashlib.sha256(data).hexdigest()
    assert ref == f"sha256:{digest}" == sha256_ref(data)
    assert store.exists(ref)
    assert store.get(ref) == data
    path = tmp_path / "traces" / digest[:2] / digest[2:]
    assert path.read_bytes() == data
    assert store.put(data) == ref  # idempotent
    assert [p.name for p in path.parent.iterdir()] == [digest[2:]]  # no temporary files left behind
    assert isinstance(store, TraceStore)


def test_tampered_file_raises(tmp_path) -> None:
    store = LocalTraceStore(tmp_path)
    ref = store.put(b'{"events":[]}')
    path = store.path_of(ref)
    path.write_bytes(b'{"events":[{"role":"model","text":"I never said that"}]}')
    with pytest.raises(TraceTampered, match="was changed after it was stored"):
        store.get(ref)
    with pytest.raises(TraceTampered):  # putting the original again does not hide the evidence
        store.put(b'{"events":[]}')


def test_unknown_and_malformed_refs(tmp_path) -> None:
    store = LocalTraceStore(tmp_path)
    missing = "sha256:" + "0" * 64
    assert not store.exists(missing)
    with pytest.raises(TraceNotFound):
        store.get(missing)
    for bad in ("sha256:../../etc/passwd", "0g:abc", "sha256:" + "A" * 64, "sha256:" + "0" * 63):
        with pytest.raises(RoutingError, match="not a local trace ref"):
            store.get(bad)


def test_trace_is_canonical_json() -> None:
    data = trace_from_events(EVENTS, job_id="job-1")
    trace = json.loads(data)
    assert trace["format"] == "necto-trace/1" and trace["job_id"] == "job-1"
    assert [e["role"] for e in trace["events"]] == ["user", "model", "tool", "model"]
    assert trace["events"][1]["tool_calls"] == [
        {"name": "quote", "args": {"gpu_model": "a100", "hours": 10}, "id": "c1"}
    ]
    assert trace["events"][2]["tool_results"][0]["response"]["best"] == "akash:akash1alpha"
    assert "text" not in trace["events"][2]
    reordered = [{key: event[key] for key in reversed(list(event))} for event in EVENTS]
    assert trace_from_events(reordered, job_id="job-1") == data
    assert data == json.dumps(trace, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_adk_events_and_odd_values() -> None:
    adk_event = {
        "author": "necto",
        "timestamp": 1772366400.25,
        "content": {
            "role": "model",
            "parts": [
                {"text": "Comparing."},
                {"function_call": {"name": "quote", "args": {"max_usd": Decimal("3.50")}, "id": "c9"}},
                {
                    "function_response": {
                        "name": "quote",
                        "response": {"score": float("nan"), "at": datetime(2026, 3, 1, tzinfo=UTC)},
                    }
                },
            ],
        },
    }
    trace = json.loads(trace_from_events([adk_event, {"role": "model", "text": "Done", "extra": object()}]))
    first = trace["events"][0]
    assert first["role"] == "necto" and first["text"] == "Comparing." and first["timestamp"] == 1772366400.25
    assert first["tool_calls"] == [{"name": "quote", "args": {"max_usd": "3.50"}, "id": "c9"}]
    assert first["tool_results"] == [
        {"name": "quote", "response": {"score": "nan", "at": "2026-03-01T00:00:00Z"}}
    ]
    assert trace["events"][1] == {"role": "model", "text": "Done"}
    assert trace["job_id"] is None
