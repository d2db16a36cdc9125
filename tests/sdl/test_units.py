"""Unit conversions with hand-computed values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tools.sdl.units import (
    format_dec_amount,
    gpu_ram_attribute,
    parse_bytes,
    parse_cpu_millis,
    parse_gpu_units,
    parse_price_amount,
)


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("100m", 100),
        (0.5, 500),
        (2, 2000),
        ("1", 1000),
        ("0.25", 250),
        ("1.5", 1500),
        (0.001, 1),
        ("250m", 250),
    ],
)
def test_cpu_to_millicores(value: object, millis: int) -> None:
    assert parse_cpu_millis(value) == millis


@pytest.mark.parametrize(
    "value", ["-100m", -1, 0, "0m", "0.0001", "1k", "1.5m", True, None, "", float("nan")]
)
def test_bad_cpu(value: object) -> None:
    with pytest.raises(ValueError):
        parse_cpu_millis(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("128Mi", 134_217_728),
        ("1Gi", 1_073_741_824),
        ("512Mi", 536_870_912),
        ("1G", 1_000_000_000),
        ("1k", 1_000),
        ("2Ki", 2_048),
        ("3Ti", 3 * 1024**4),
        ("1T", 10**12),
        ("1.5Gi", 1_610_612_736),
        ("0.5Mi", 524_288),
        ("1024", 1_024),
        ("5gi", 5_368_709_120),
        ("1Gb", 1_000_000_000),
        ("1GB", 1_000_000_000),
        ("2mi", 2_097_152),
        ("1M", 1_000_000),
    ],
)
def test_sizes_to_bytes(value: str, size: int) -> None:
    assert parse_bytes(value) == size


@pytest.mark.parametrize("value", ["-1Gi", "0Gi", "1GiB", "1Xi", "Gi", "1 Gi", 512, "1e3"])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_bytes(value)


def test_gpu_ram_is_whole_gi() -> None:
    assert gpu_ram_attribute("80Gi") == "80Gi"
    assert gpu_ram_attribute("40960Mi") == "40Gi"
    assert gpu_ram_attribute("1Mi") == "0Gi"
    with pytest.raises(ValueError):
        gpu_ram_attribute("80GB")


def test_gpu_units() -> None:
    assert parse_gpu_units(0) == 0
    assert parse_gpu_units("2") == 2
    for bad in (-1, 1.5, "1.0", True):
        with pytest.raises(ValueError):
            parse_gpu_units(bad)


def test_price_amounts_are_exact_18_decimal_decs() -> None:
    assert parse_price_amount(50) == Decimal(50)
    assert parse_price_amount("0.5") == Decimal("0.5")
    assert parse_price_amount(0.0001) == Decimal("0.0001")
    assert format_dec_amount(Decimal(50)) == "50.000000000000000000"
    assert format_dec_amount(Decimal("1.25")) == "1.250000000000000000"
    assert format_dec_amount(Decimal("123456789012345678901234567890")) == (
        "123456789012345678901234567890.000000000000000000"
    )
    for bad in (0, "0.0", -1, "0.0000000000000000001", True, "abc"):
        with pytest.raises(ValueError):
            parse_price_amount(bad)
