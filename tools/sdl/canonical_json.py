"""Go-compatible canonical JSON: the bytes Akash hashes to get a deployment "version".

The provider recomputes the manifest hash with ``json.Marshal`` followed by cosmos-sdk's ``sdk.SortJSON``
(chain-sdk ``go/manifest/v2beta3/manifest.go``, ``Manifest.Version``) and answers HTTP 422 when it differs
from the hash in ``MsgCreateDeployment`` (akash.md §4). ``SortJSON`` decodes into ``interface{}`` and
re-encodes, so the bytes are Go's encoder output for a generic value:

- compact, object keys sorted by byte order (code point order == UTF-8 byte order);
- HTML-safe strings: ``<`` ``>`` ``&`` become ``\\u003c`` ``\\u003e`` ``\\u0026``, and U+2028/U+2029 are escaped;
- ``\\n \\r \\t \\b \\f`` short escapes, other control characters ``\\u00XX`` with lower-case hex (Go >= 1.22);
- every number went through ``float64``: integers print plainly, other values use Go's shortest float format.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

__all__ = ["manifest_json_bytes"]

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_FLOAT64_EXACT_INT = 2**53


def manifest_json_bytes(obj: Any) -> bytes:
    """Encode a JSON-able value exactly as Go's ``json.Marshal`` + ``sdk.SortJSON`` would.

    Raises ``ValueError`` for values Go could not have produced (non-string keys, NaN/Inf, lone surrogates).
    """
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts).encode("utf-8")


def _encode(obj: Any, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(_go_string(obj))
    elif isinstance(obj, int):
        out.append(_go_int(obj))
    elif isinstance(obj, float):
        out.append(_go_float(obj))
    elif isinstance(obj, dict):
        out.append("{")
        for index, key in enumerate(sorted(_checked_keys(obj))):
            if index:
                out.append(",")
            out.append(_go_string(key))
            out.append(":")
            _encode(obj[key], out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for index, item in enumerate(obj):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise ValueError(f"cannot encode {type(obj).__name__} as manifest JSON")


def _checked_keys(obj: dict) -> list[str]:
    keys = list(obj)
    if not all(isinstance(key, str) for key in keys):
        raise ValueError("manifest JSON object keys must be strings")
    return keys


# Strings made only of these characters encode as themselves in quotes (no JSON or HTML escape applies):
# printable ASCII without '"', '\\', '<', '>' and '&'. Most SDL strings are like that; the rest take the full path.
_PLAIN = re.compile(r"[ !#-%'-;=?-\[\]-~]*")


def _go_string(value: str) -> str:
    if _PLAIN.fullmatch(value):
        return f'"{value}"'
    return _go_string_escaped(value)


def _go_string_escaped(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("string is not valid UTF-8 (lone surrogate)") from None
    encoded = json.dumps(value, ensure_ascii=False)
    for char, escape in _HTML_ESCAPES.items():
        if char in encoded:
            encoded = encoded.replace(char, escape)
    return encoded


def _go_int(value: int) -> str:
    # SortJSON round-trips numbers through float64; beyond 2^53 the value is whatever float64 keeps.
    if abs(value) < _FLOAT64_EXACT_INT:
        return str(value)
    return _go_float(float(value))


def _go_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'f' or 'e', -1, 64)`` as used by encoding/json."""
    if not math.isfinite(value):
        raise ValueError("NaN and Inf are not valid JSON")
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    shortest = Decimal(repr(value))  # repr is the shortest round-trip decimal, same digits Go picks
    magnitude = abs(value)
    if 1e-6 <= magnitude < 1e21:
        text = format(shortest, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    sign, digits, exponent = shortest.normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    exp10 = exponent + len(digits) - 1
    body = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    # Go prints at least two exponent digits, then encoding/json trims "e-07" to "e-7".
    exp_text = f"e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if exp_text.startswith("e-0"):
        exp_text = "e-" + exp_text[3:]
    return ("-" if sign else "") + body + exp_text
