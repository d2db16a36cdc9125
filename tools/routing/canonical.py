"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme) for everything Necto hashes.

``canonical_json(value)`` first turns ``value`` into plain JSON data (``canonical_data``), then serializes it
with the ``rfc8785`` package: keys sorted by their UTF-16 code units, no whitespace, strings as UTF-8 with
only the mandatory escapes, numbers in ECMAScript form. The rules for Python values:

- **Money is a string.** Every ``Decimal`` becomes its exact ``str``: ``Decimal("0.10")`` -> ``"0.10"``,
  ``Decimal("1E+2")`` -> ``"1E+2"``. It never goes through a float, so a hash cannot depend on float
  formatting or binary rounding, and ``Decimal(text)`` reads back the same value *and exponent* (which the
  ranking's exact ``terms`` strings show). The price is that ``0.1`` and ``0.10`` hash differently: the
  record keeps each figure exactly as the source gave it, which is the point. Pydantic models are dumped in
  Python mode, so ``Offer``'s ``Money`` fields reach this rule as Decimal (their JSON mode would give floats).
- **Floats stay numbers** (vCPU, GiB, uptime): RFC 8785 prints a float as its shortest round-trip form, a
  function of its value alone, and ``json.loads`` gives back the same float. NaN and infinities are refused.
- **Datetimes** must be timezone-aware and become ISO-8601 UTC with a ``Z``
  (``2026-03-01T12:00:00Z``, ``.123456`` only when there are microseconds).
- ``bytes`` become ``"0x"`` + lower-case hex; tuples, lists and sets (sorted) become arrays; dataclasses
  and pydantic models become objects; dict keys must be strings; integers must fit in 53 bits (JSON).

Anything else raises ``NotCanonical``: a hash over a guessed encoding would not be reproducible.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import rfc8785
from pydantic import BaseModel

from tools.routing.errors import NotCanonical

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


def utc_iso(moment: datetime) -> str:
    """``2026-03-01T12:00:00Z``: the one text form of an aware datetime in canonical JSON."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NotCanonical(f"naive datetime {moment.isoformat()} has no canonical form (give it a timezone)")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def canonical_data(value: Any) -> JsonValue:
    """``value`` as plain JSON data under the rules in the module docstring."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotCanonical(f"{value} has no JSON form (RFC 8785 forbids NaN and infinities)")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NotCanonical(f"Decimal {value} has no JSON form (RFC 8785 forbids NaN and infinities)")
        return str(value)
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, BaseModel):
        return canonical_data(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        data: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"object key {key!r} is not a string")
            data[key] = canonical_data(item)
        return data
    if isinstance(value, list | tuple):
        return [canonical_data(item) for item in value]
    if isinstance(value, set | frozenset):
        items = [canonical_data(item) for item in value]
        return sorted(items, key=lambda item: rfc8785.dumps(item))
    raise NotCanonical(f"{type(value).__name__} has no canonical JSON form")


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (see the module docstring for how Python values map to JSON)."""
    data = canonical_data(value)
    try:
        return rfc8785.dumps(data)
    except rfc8785.CanonicalizationError as exc:  # integers beyond 2**53, lone surrogates
        raise NotCanonical(str(exc)) from exc


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data`` (64 characters, no ``0x``)."""
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any) -> str:
    """``sha256_hex(canonical_json(value))``."""
    return sha256_hex(canonical_json(value))


__all__ = ["JsonValue", "canonical_data", "canonical_json", "canonical_sha256", "sha256_hex", "utc_iso"]
