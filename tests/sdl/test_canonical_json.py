"""Go encoding rules behind the manifest hash (akash.md §4)."""

from __future__ import annotations

import json

import pytest

from tools.sdl import manifest_json_bytes


def test_compact_and_sorted_keys_at_every_level() -> None:
    value = {"b": 1, "a": {"z": [True, None], "y": "x"}, "A": False}
    assert manifest_json_bytes(value) == b'{"A":false,"a":{"y":"x","z":[true,null]},"b":1}'


def test_html_characters_are_escaped_like_go() -> None:
    encoded = manifest_json_bytes({"cmd": "a<b>c&d"})
    assert encoded == b'{"cmd":"a\\u003cb\\u003ec\\u0026d"}'
    assert json.loads(encoded) == {"cmd": "a<b>c&d"}


def test_line_and_paragraph_separators_are_escaped() -> None:
    assert manifest_json_bytes("\u2028\u2029") == b'"\\u2028\\u2029"'


def test_control_characters_and_quotes() -> None:
    assert manifest_json_bytes('q"\\\n\r\t\b\f\x01\x7f') == b'"q\\"\\\\\\n\\r\\t\\b\\f\\u0001\x7f"'


def test_non_ascii_is_raw_utf8() -> None:
    assert manifest_json_bytes({"k": "é漢"}) == '{"k":"é漢"}'.encode()


def test_keys_sort_by_code_point_and_are_escaped() -> None:
    assert manifest_json_bytes({"é": 1, "z": 2, "<": 3}) == b'{"\\u003c":3,"z":2,"\xc3\xa9":1}'


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0, b"0"),
        (80, b"80"),
        (-3, b"-3"),
        (1.5, b"1.5"),
        (100.0, b"100"),
        (1e21, b"1e+21"),
        (1e-7, b"1e-7"),
        (2**53 + 1, b"9007199254740992"),
        (123456789.125, b"123456789.125"),
    ],
)
def test_numbers_follow_go_float64_formatting(number: float, text: bytes) -> None:
    assert manifest_json_bytes(number) == text


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, {"s": {1, 2}}, "\ud800"])
def test_values_go_cannot_produce_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        manifest_json_bytes(bad)


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text())
def test_plain_string_fast_path_equals_the_escaping_path(text):
    from tools.sdl.canonical_json import _go_string, _go_string_escaped

    try:
        slow = _go_string_escaped(text)
    except ValueError:
        return  # lone surrogates are refused on both paths (they never match the plain set)
    assert _go_string(text) == slow


def test_every_ascii_character_alone_and_in_context():
    from tools.sdl.canonical_json import _go_string, _go_string_escaped

    for code in range(128):
        for text in (chr(code), f"a{chr(code)}b"):
            assert _go_string(text) == _go_string_escaped(text), repr(text)
