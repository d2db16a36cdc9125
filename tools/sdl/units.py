"""SDL quantity parsing: CPU millicores, byte sizes, GPU counts and DecCoin prices.

Every function raises ``ValueError`` with a short sentence; the compiler adds the YAML path.

Conversions follow the Go parser (chain-sdk ``go/sdl``, whose output the conformance fixtures are):

- CPU: ``"100m"`` is 100 millicores (an unsigned integer before the ``m``); anything else is cores,
  parsed as a float64 and multiplied by 1000, then truncated (``cpuQuantity``).
- Memory and storage (``byteQuantity``): ``k M G T P E`` are powers of 1000, ``Ki Mi Gi Ti Pi Ei`` powers
  of 1024, a bare number is bytes; the value is float64 times the unit, truncated. On top of Go's set we
  accept what the TS parser (``ts/src/sdl/sizes.ts``) accepts in a well-defined way: any case
  (``gi``, ``MI``), and a trailing ``b``/``B`` for decimal units (``Gb``, ``GB``). ``GiB`` is refused
  because the two reference parsers disagree on it (TS reads it as 10^9).
- GPU ``ram`` (``memoryQuantity``): binary suffixes only, rendered back as whole ``Gi``.
- Prices are ``sdk.LegacyDec``: at most 18 decimals, strictly positive; on the wire and in group-spec JSON
  the amount is the decimal with exactly 18 fractional digits (``"50.000000000000000000"``).
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal, InvalidOperation

__all__ = [
    "format_dec_amount",
    "gpu_ram_attribute",
    "parse_bytes",
    "parse_cpu_millis",
    "parse_gpu_units",
    "parse_price_amount",
]

_PREFIX_POWER = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SIZE_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([A-Za-z]*)$")
_CPU_NUMBER_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)$")
_MILLI_RE = re.compile(r"^\d+m$")
_GO_MEMORY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DEC_PRECISION = 18
_DEC_CONTEXT = Context(prec=200)
_UINT32_MAX = 2**32 - 1


def parse_cpu_millis(value: object) -> int:
    """CPU units (``0.5``, ``2``, ``"250m"``, ``"1.5"``) to millicores (> 0)."""
    if isinstance(value, bool) or value is None:
        raise ValueError('must be a number of cores like 0.5 or a string like "500m"')
    if isinstance(value, int | float):
        cores = float(value)
    elif isinstance(value, str):
        if _MILLI_RE.match(value):
            millis = int(value[:-1])
            if millis > _UINT32_MAX:
                raise ValueError("is too large")
            return _positive(millis)
        if not _CPU_NUMBER_RE.match(value):
            raise ValueError(f'{value!r} is not a CPU amount; write cores (0.5, 2) or millicores ("500m")')
        cores = float(value)
    else:
        raise ValueError('must be a number of cores like 0.5 or a string like "500m"')
    if not math.isfinite(cores) or cores < 0:
        raise ValueError("must be a positive number of cores")
    millis = cores * 1000.0
    if millis > _UINT32_MAX:
        raise ValueError("is too large")
    return _positive(int(millis))  # Go converts the float64 to uint32: truncation toward zero


def parse_bytes(value: object) -> int:
    """Memory/storage size (``"512Mi"``, ``"1G"``, ``"1.5Gi"``, ``"1024"``) to bytes (> 0)."""
    if not isinstance(value, str):
        raise ValueError('must be a string like "512Mi" or "10Gi"')
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a size; write e.g. "512Mi", "1Gi" or "1G"')
    number, suffix = match.groups()
    multiplier = _size_multiplier(suffix)
    size = float(number) * float(multiplier)
    if not math.isfinite(size) or size >= 2.0**64:
        raise ValueError("is too large")
    return _positive(int(size))  # float64 product truncated, like Go's uint64(val)


def _size_multiplier(suffix: str) -> int:
    if suffix in ("", "b", "B"):
        return 1
    prefix, rest = suffix[0].lower(), suffix[1:]
    power = _PREFIX_POWER.get(prefix)
    if power is not None:
        if rest in ("i", "I"):
            return 1024**power
        if rest in ("", "b", "B"):
            return 1000**power
    raise ValueError(
        f"unknown size suffix {suffix!r}; use k/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti (powers of 1024)"
    )


def gpu_ram_attribute(value: object) -> str:
    """GPU ``ram`` (``"80Gi"``) to the attribute segment Go emits: whole Gi, rounded down (``"80Gi"``)."""
    if not isinstance(value, str):
        raise ValueError('must be a string like "80Gi"')
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f'{value!r} is not a size like "80Gi"')
    number, suffix = match.groups()
    if suffix and suffix not in _GO_MEMORY_SUFFIXES:
        raise ValueError(f"GPU ram takes binary units (Ki, Mi, Gi, Ti), not {suffix!r}")
    size = float(number) * float(1024 ** _GO_MEMORY_SUFFIXES.get(suffix, 0))
    if not math.isfinite(size) or size >= 2.0**64:
        raise ValueError("is too large")
    return f"{int(size) // 1024**3}Gi"


def parse_gpu_units(value: object) -> int:
    """GPU units: a non-negative integer (Go parses the scalar text with ``ParseUint``)."""
    if isinstance(value, bool):
        raise ValueError("must be a whole number of GPUs")
    if isinstance(value, int):
        units = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        units = int(value)
    else:
        raise ValueError("must be a whole number of GPUs")
    if units < 0 or units >= 2**64:
        raise ValueError("must be a whole number of GPUs")
    return units


def parse_price_amount(value: object) -> Decimal:
    """A pricing amount (``50``, ``"0.5"``) to an exact Decimal with at most 18 decimals, > 0."""
    if isinstance(value, bool) or value is None:
        raise ValueError("must be a positive number")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        amount = Decimal(repr(value))  # the shortest decimal that reads back as this float: the YAML text
    elif isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not amount.is_finite():
            raise ValueError("must be a finite number")
    else:
        raise ValueError("must be a positive number")
    if amount.as_tuple().exponent < -_DEC_PRECISION and amount != amount.quantize(
        Decimal(1).scaleb(-_DEC_PRECISION), context=_DEC_CONTEXT
    ):
        raise ValueError("has more than 18 decimal places")
    if amount <= 0:
        raise ValueError("must be greater than zero")
    return amount


def format_dec_amount(amount: Decimal) -> str:
    """``sdk.LegacyDec`` JSON form: the decimal with exactly 18 fractional digits."""
    return format(amount.quantize(Decimal(1).scaleb(-_DEC_PRECISION), context=_DEC_CONTEXT), "f")


def _positive(number: int) -> int:
    if number <= 0:
        raise ValueError("must be greater than zero")
    return number
