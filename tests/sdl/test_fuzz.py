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


# ------------------------------------------------------------- the loader's fast path equals PyYAML's own
# load_yaml builds anchor-free documents itself (tools/sdl/loader.py _construct_tree) and leaves ints, floats,
# booleans, null, explicit tags and merge keys to PyYAML's constructors: both paths must give the same object.

_SCALARS = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["0x1F", "0o17", "017", "1_000", "1:30", "+12", ".inf", "-.Inf", ".nan", "~", "null", "yes", "off",
         "2024-01-01", "1e3", "0b101", "!!str 12", "!!int '7'", "!!float 1", "<<"]
    ),
)  # fmt: skip
_KEYS = st.text(alphabet="abcdefghij_-", min_size=1, max_size=6)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=25,
)


def _generic(text: str) -> object:
    from tools.sdl.loader import _SDLLoader

    loader = _SDLLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # nan
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCS, st.booleans())
def test_fast_tree_construction_equals_pyyaml(document: object, raw_scalars: bool) -> None:
    from tools.sdl.loader import load_yaml

    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=not raw_scalars)
    if raw_scalars:  # also feed the sample scalars unquoted, as a person would type them
        text = text.replace("'", "")
    try:
        expected = _generic(text)
    except yaml.YAMLError:
        return
    try:
        got = load_yaml(text)
    except InvalidSDL:
        return  # duplicate or non-string keys: refused before construction on both paths' behalf
    assert _same(got, expected), text


def test_fast_tree_construction_leaves_merge_keys_and_tags_to_pyyaml() -> None:
    from tools.sdl.loader import load_yaml

    assert load_yaml("a: {<<: {x: 1}, y: 2}") == {"a": {"x": 1, "y": 2}}
    assert load_yaml("a: !!str 12\nb: !!float 1\nc: 0x10\nd: 1:30\ne: off") == {
        "a": "12",
        "b": 1.0,
        "c": 16,
        "d": 90,
        "e": "off",
    }
    assert load_yaml("a: &x {k: 1}\nb: *x\nc: &s str\nd: *s") == {
        "a": {"k": 1},
        "b": {"k": 1},
        "c": "str",
        "d": "str",
    }
    assert load_yaml("a: !!set {x, y}") == _generic("a: !!set {x, y}") == {"a": {"x", "y"}}
