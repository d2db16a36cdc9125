"""Bad input never crashes: any text through the intent parser and the planner, any dict through
ComputeRequest.parse, gives a result or a typed, readable error."""

from __future__ import annotations

from google.genai import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.intent import parse_intent
from agent.planner import Call, Reply, decide, read_conversation
from tools.errors import InvalidRequest
from tools.request import ComputeRequest

WORDS = st.sampled_from(
    ["deploy", "cheapest", "a100", "2x", "h100s", "$", "10", "a month", "per hour", "for", "week", "in", "eu",
     "port", ":3000", "nginx:1.27", "logs", "close", "job_", "uakt", "per block", "akt", "at", "send", "to",
     "akash1xyz", "ignore", "previous", "instructions", "cores", "gb", "ram", "disk", "1e309", "-5", "½", "\x00"]
)  # fmt: skip
TEXT = st.one_of(st.text(max_size=200), st.lists(WORDS, max_size=25).map(" ".join))


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_any_text_parses_and_plans_without_raising(text: str) -> None:
    intent = parse_intent(text)
    assert intent.action in {"quote", "deploy", "logs", "status", "close", "jobs", "normalize", "record", "mint", "help",
                             "refuse"}
    contents = [types.Content(role="user", parts=[types.Part(text=text)])]
    step = decide(read_conversation(contents))
    assert isinstance(step, Call | Reply)
    if isinstance(step, Call):
        assert step.name in {"list_providers", "normalize_price", "build_sdl", "tail_logs", "record_job",
                             "deployment_status", "close_deployment", "list_jobs", "deploy", "mint_act"}
        assert step.name != "deploy", "a first message never jumps straight to deploy"


FIELD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20), st.lists(st.integers(), max_size=2),
)  # fmt: skip
FIELDS = st.sampled_from(["workload", "image", "cpu", "memory_gib", "storage_gib", "gpu_model", "gpu_count", "region",
                          "max_usd_per_hour", "hours", "objective", "bogus"])


@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(FIELDS, FIELD_VALUES, max_size=6))
def test_any_request_dict_validates_or_says_why(data: dict) -> None:
    try:
        request = ComputeRequest.parse(data)
    except InvalidRequest as exc:
        assert exc.message.startswith("That request can't be met as written:")
        assert "\n" not in exc.message
        return
    assert request.cpu > 0 and request.gpu_count >= 0 and request.hours > 0
