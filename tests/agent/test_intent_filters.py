"""Hard filters read from plain words, and carried through a real ADK runner to the quote."""

from __future__ import annotations

import pytest
from fake_backend import FakeBackend
from helpers import new_session

from agent.conversation import run_turn
from agent.intent import parse_intent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cheapest gpu with at least 48GB VRAM for 10 hours", {"min_vram_gib": 48, "gpu_count": 1}),
        ("an A100 with 80 GB of GPU memory", {"min_vram_gib": 80, "gpu_model": "a100"}),
        ("A100 from audited providers only", {"audited_only": True, "gpu_model": "a100"}),
        ("an h100, uptime above 99.5%", {"min_uptime": 0.995}),
        ("H100 on aws only", {"sources": ["aws"]}),
        ("compare 1 a100 only on runpod", {"sources": ["skypilot:runpod"]}),
        ("a100 for a day, no spot please", {"pricing_models": ["fixed", "auction", "token"]}),
        ("cheapest a10, spot only", {"pricing_models": ["spot"]}),
        ("consumer gpus for stable diffusion", {"gpu_class": "consumer"}),
        ("datacenter GPUs for training, 2 of them", {"gpu_class": "datacenter"}),
    ],
)
def test_filters_from_words(text, expected):
    args = parse_intent(text).request_args
    for key, value in expected.items():
        assert args.get(key) == value, (text, args)


def test_vram_is_not_read_as_ram_and_ram_still_is():
    args = parse_intent("I need 2 H100 with 80 GB VRAM and 64gb ram").request_args
    assert args["min_vram_gib"] == 80 and args["memory_gib"] == 64 and args["gpu_count"] == 2


@pytest.mark.parametrize(
    "text",
    ["deploy my Next.js app cheaply", "cheapest A100 for 10 hours", "run nginx:1.27 on akash with 4 GB RAM",
     "deploy on akash please", "is spot pricing cheaper?"],
)
def test_no_filter_where_none_was_asked(text):
    args = parse_intent(text).request_args
    assert not {"min_vram_gib", "audited_only", "min_uptime", "sources", "pricing_models", "gpu_class"} & set(args)


async def test_filters_reach_the_quote_through_the_agent():
    backend = FakeBackend()
    runner, session = await new_session(backend)
    await run_turn(runner, user_id="u1", session_id=session,
                   text="cheapest A100 for 10 hours from audited providers only, no spot")
    name, call = backend.calls[0]
    assert name == "quote"
    assert call["request"]["audited_only"] is True
    assert call["request"]["pricing_models"] == ["fixed", "auction", "token"]


@pytest.mark.parametrize(
    ("text", "tracked"),
    [
        ("deploy my nextjs app and track it on chain", True),
        ("deploy wordpress, record it on-chain", True),
        ("deploy nginx:1.27 untracked", False),
        ("deploy my nextjs app cheaply", None),
    ],
)
def test_tracked_or_untracked_from_words(text, tracked):
    intent = parse_intent(text)
    assert intent.action == "deploy"
    assert intent.request_args.get("tracked") is tracked


def test_record_job_still_means_record_job():
    assert parse_intent("record job job_abc with a note: worked well").action == "record"
