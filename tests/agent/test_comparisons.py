"""Side-by-side GPU comparisons: "A6000 vs L40S", "2x H100 vs 4x A100"."""

from __future__ import annotations

import pytest
from google.adk.runners import InMemoryRunner

from agent.agent import build_agent
from agent.conversation import run_turn
from agent.intent import parse_intent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("compare prices for an A6000 vs L40S", [("a6000", None), ("l40s", None)]),
        ("A100 or H100 for 10 hours?", [("a100", None), ("h100", None)]),
        ("2x h100 vs 4x a100 for training", [("h100", 2), ("a100", 4)]),
        ("l40s versus l40", [("l40s", None), ("l40", None)]),
        ("rtx 4090 compared to rtx 3090 in europe", [("rtx4090", None), ("rtx3090", None)]),
    ],
)
def test_alternatives(text, expected):
    intent = parse_intent(text)
    assert intent.action == "quote"
    got = [(a["gpu_model"], a.get("gpu_count") if a.get("gpu_count") not in (1,) else None) for a in intent.alternatives]
    assert got == expected


def test_one_gpu_or_a_deploy_is_not_a_comparison():
    assert parse_intent("cheapest a100 for 10 hours").alternatives == ()
    assert parse_intent("deploy vllm on an h100 or an a100").action == "deploy"
    assert parse_intent("deploy vllm on an h100 or an a100").alternatives == ()


async def test_comparison_then_deploy_the_chosen_one():
    from fake_backend import FakeBackend

    backend = FakeBackend()
    runner = InMemoryRunner(agent=build_agent(backend), app_name="necto")
    session = await runner.session_service.create_session(app_name="necto", user_id="u")
    turn = await run_turn(runner, user_id="u", session_id=session.id, text="a6000 vs l40s for 10 hours")
    assert [c.args.get("gpu_model") for c in turn.tool_calls] == ["a6000", "l40s"]
    assert "A6000" in turn.text and "L40S" in turn.text
    follow = await run_turn(runner, user_id="u", session_id=session.id, text="deploy it with the a6000")
    build = next(c for c in follow.tool_calls if c.name == "build_sdl")
    assert build.args["gpu_model"] == "a6000" and build.args.get("hours") == 10
    await runner.close()


@pytest.mark.parametrize(
    ("text", "model", "count"),
    [
        ("what is the cheapest way to run llama 3 70b with vllm", "a100", 4),  # 70 x 2 B x 1.2 = 168 GB
        ("serve mistral 7b", "rtx4090", 1),  # 16.8 GB
        ("run qwen 32b with ollama", "rtx4090", 1),  # Ollama's 4-bit default: 19.2 GB
        ("deploy a 405B model in fp8", "a100", 8),  # 486 GB
        ("llama 3 13b awq", "rtx4090", 1),  # 4-bit: 7.8 GB
        ("serve llama 30b", "a100", 1),  # 72 GB
    ],
)
def test_model_sizes_become_gpus_when_no_gpu_is_named(text, model, count):
    intent = parse_intent(text)
    assert (intent.request_args["gpu_model"], intent.request_args["gpu_count"]) == (model, count)
    assert intent.sizing and "GB of GPU memory" in intent.sizing


def test_a_named_gpu_is_never_overridden_by_sizing():
    intent = parse_intent("llama 70b on an h100")
    assert intent.request_args["gpu_model"] == "h100" and intent.sizing is None
