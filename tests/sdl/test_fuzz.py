"""Property: compile_sdl returns a CompiledSDL or raises InvalidSDL, for any input whatsoever."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sdl_paths import CONFORMANCE, VALID_CASES

from tools.errors import InvalidSDL
from tools.sdl import CompiledSDL, compile_sdl

FIXTURES = [
    yaml.safe_load((CONFORMANCE / "input" / "v2.0" / c / "input.yaml").read_text()) for c in VALID_CASES
]

YAML_TOKENS = st.sampled_from(
    ["version:", '"2.0"', "services:", "profiles:", "deployment:", "  ", "\n", "- ", "&a", "*a", "{", "}", "[", "]",
     ":", "port: 80", "units: 1", "size: 1Gi", "'", '"', "!!python/object", "<<: *a", "?", "#", "---", "off", "1e9"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12),
    st.sampled_from(["100m", "1Gi", "-1", "0", "uact", "global", "80", "ip", "ram", "beta2", "off", "/data"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def outcome(text: str) -> None:
    try:
        result = compile_sdl(text)
    except InvalidSDL as exc:
        assert exc.message and "\n" not in exc.message and "Traceback" not in exc.message
        return
    assert isinstance(result, CompiledSDL)
    assert len(result.manifest_hash) == 32


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(YAML_TOKENS, max_size=40).map("".join)))
def test_random_text_never_escapes(text: str) -> None:
    outcome(text)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_fixture(draw: st.DrawFn) -> str:
    document = copy.deepcopy(draw(st.sampled_from(FIXTURES)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(document) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, dict):
            parent[f"{path[-1]}x"] = copy.deepcopy(parent[path[-1]])
        else:
            parent[path[-1]] = draw(VALUES)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


@settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_fixture())
def test_mutated_fixtures_never_escape(text: str) -> None:
    outcome(text)


def test_a_key_with_newlines_still_gives_a_one_line_error() -> None:
    # Found by fuzzing under load: a service named "\n\n" made the message span lines.
    text = FIXTURES and yaml.safe_dump({**FIXTURES[0], "services": {"\n\n": None}}, sort_keys=False)
    try:
        compile_sdl(text)
    except InvalidSDL as exc:
        assert "\n" not in exc.message and '"\\n\\n"' in exc.message
    else:
        raise AssertionError("a null service must be rejected")
