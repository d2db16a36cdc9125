"""Hand-computed checks of every conversion in tools.pricing.normalize (pricing.md §2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tools.pricing.gpus import catalog_gpu, gpu_spec
from tools.pricing.normalize import (
    DEFAULT_BLOCK_TIME_S,
    DenomPriceMissing,
    PricingError,
    billed_cost,
    billed_hours,
    block_price_from_usd_per_hour,
    effective_pflops,
    hazard_from_bucket,
    hazard_per_hour,
    necto_region,
    optimal_checkpoint_interval_h,
    sigma_daily_from_prices,
    spot_expected_cost,
    spot_expected_wall_hours,
    to_decimal,
    token_risk_adjusted_usd,
    usd_per_effective_pflop_hour,
    usd_per_hour_from_block_price,
    usd_per_hour_from_month,
    usd_per_month,
    usd_per_tb_s_hour,
)
from tools.settings import NectoSettings

D = Decimal


def close(a: Decimal, b: Decimal | str, tol: str = "1e-9") -> bool:
    return abs(a - D(b)) <= D(tol)


# --- Akash per block -----------------------------------------------------------------------------------


def test_default_block_time_matches_settings():
    assert DEFAULT_BLOCK_TIME_S == NectoSettings().block_time_s == D("6.098")


def test_1000_uact_per_block_is_0_59_usd_per_hour():
    # 1000 / 10^6 * 3600 / 6.098 = 3.6 / 6.098 = 0.590357494260413...
    value = usd_per_hour_from_block_price(1000, "uact")
    assert value == D("3.6") / D("6.098")
    assert close(value, "0.590357494260413")


def test_deccoin_string_with_18_decimals():
    assert usd_per_hour_from_block_price("1000.000000000000000000", "uact") == D("3.6") / D("6.098")
    # A fractional per-block price survives: 0.5 uact/block = 0.0018 / 6.098 USD/h
    assert usd_per_hour_from_block_price("0.500000000000000000", "uact") == D("0.0018") / D("6.098")


def test_uakt_needs_an_akt_price():
    with pytest.raises(DenomPriceMissing) as info:
        usd_per_hour_from_block_price(1000, "uakt")
    assert info.value.denom == "uakt"
    # AKT at 2.50 USD: 0.590357... * 2.5 = 1.475893735651033...
    value = usd_per_hour_from_block_price(1000, "uakt", akt_usd=D("2.50"))
    assert close(value, "1.475893735651033")


def test_unknown_denom_raises():
    with pytest.raises(DenomPriceMissing):
        usd_per_hour_from_block_price(
            1000, "ibc/170C677610AC31DF0904FFE09CD3B5C657492170E7E52372E48756B71E56F2F1"
        )


def test_other_block_time():
    # 6.117 s (another constant in Akash code): 3.6 / 6.117 = 0.588523786169691...
    assert close(usd_per_hour_from_block_price(1000, block_time_s=D("6.117")), "0.588523786169691")


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", None, True, "-5"])
def test_garbage_amounts_raise(bad):
    with pytest.raises(PricingError):
        usd_per_hour_from_block_price(bad)


def test_usd_per_hour_to_block_price_rounds_up():
    # 0.59 * 6.098 / 3600 * 10^6 = 999.394... -> 1000 (a cap must never truncate below the user's figure)
    assert block_price_from_usd_per_hour(D("0.59")) == 1000
    # 1 USD/h = 6.098 / 3600 * 10^6 = 1693.888... -> 1694
    assert block_price_from_usd_per_hour(D("1")) == 1694
    # exact round trip
    assert block_price_from_usd_per_hour(usd_per_hour_from_block_price(1000)) == 1000
    # uakt at 2 USD: 1 USD/h -> 846.944... -> 847
    assert block_price_from_usd_per_hour(D("1"), "uakt", akt_usd=D("2")) == 847
    assert isinstance(block_price_from_usd_per_hour(D("0")), int)


def test_month_is_730_hours():
    assert usd_per_month(D("1")) == D("730")
    assert usd_per_month(D("0.5903")) == D("430.919")
    assert usd_per_hour_from_month(D("730")) == D("1")
    assert usd_per_hour_from_month(D("43.80")) == D("0.06")


# --- Billing ---------------------------------------------------------------------------------------------


def test_lambda_bills_per_minute():
    # 1.5 h + 20 s = 5420 s -> 91 whole minutes -> 91/60 h * 1.29 = 1.9565
    hours = D("1.5") + D(20) / D(3600)
    assert billed_hours(hours, increment_s=60) == D(91) / D(60)
    assert close(billed_cost(D("1.29"), hours, increment_s=60), "1.9565")


def test_aws_per_second_with_60s_minimum_and_egress():
    # 30 s at 3.60 USD/h is billed as 60 s = 0.06 USD; plus 100 GB egress at 0.09 = 9.00
    hours = D(30) / D(3600)
    assert billed_cost(D("3.60"), hours, increment_s=1, minimum_s=60) == D("0.06")
    assert billed_cost(
        D("3.60"), hours, increment_s=1, minimum_s=60, egress_gb=100, usd_per_egress_gb=D("0.09")
    ) == D("9.06")
    # above the minimum only the increment matters: 90.5 s -> 91 s
    assert billed_hours(D("90.5") / D(3600), increment_s=1, minimum_s=60) == D(91) / D(3600)


def test_hourly_increment_and_storage():
    # 2.2 h billed by the hour -> 3 h at 0.5 = 1.5, plus 0.25 storage
    assert billed_cost(D("0.5"), D("2.2"), increment_s=3600, storage_usd=D("0.25")) == D("1.75")


def test_block_increment():
    # Akash: one block increment; 1 h at 6.098 s/block = 590.357... blocks -> 591 blocks
    hours = billed_hours(D(1), increment_s=D("6.098"))
    assert hours == D(591) * D("6.098") / D(3600)


def test_zero_increment_rejected():
    with pytest.raises(PricingError):
        billed_hours(1, increment_s=0)


# --- Spot --------------------------------------------------------------------------------------------------


def test_hazard_from_monthly_fraction():
    # -ln(0.95) / 730 = 0.0512932943875505 / 730 = 7.0264787e-5
    assert close(hazard_per_hour(D("0.05")), "0.0000702647868", "1e-13")
    assert hazard_from_bucket("<5%") == hazard_per_hour(D("0.05"))
    # >20 % has no upper edge: 30 % is assumed -> -ln(0.7)/730 = 0.356674943938732 / 730
    assert close(hazard_from_bucket(">20%"), "0.000488595813614702", "1e-15")
    with pytest.raises(PricingError):
        hazard_from_bucket("25%")
    assert hazard_per_hour(D(0)) == 0


def test_spot_wall_time_hand_example():
    # T=100, lambda=0.01/h, R=1 h, c=2 h, delta=0.1 h: W = 100 (1 + 0.05) / (1 - 0.01 * 2) = 105 / 0.98
    wall = spot_expected_wall_hours(
        D(100), D("0.01"), restart_overhead_h=D(1), checkpoint_interval_h=D(2), checkpoint_write_h=D("0.1")
    )
    assert close(wall, "107.142857142857142857")


def test_optimal_checkpoint_interval():
    # c* = sqrt(2 * 0.1 / 0.002) = sqrt(100) = 10 h
    assert optimal_checkpoint_interval_h(D("0.1"), D("0.002")) == D(10)


def test_spot_expected_cost_from_bucket():
    # <5 %: lambda = 7.0264787e-5, delta = 1/12 h, c* = sqrt(2/12 / lambda) = 48.70 h, R = 0.25 h
    # W = 100 (1 + (1/12)/48.70) / (1 - lambda (0.25 + 24.35)) = 100.3446 h; cost at 0.50 USD/h = 50.1723
    cost, wall = spot_expected_cost(D("0.50"), D(100), bucket="<5%")
    assert close(wall, "100.3446", "1e-4")
    assert close(cost, "50.1723", "1e-4")
    # zero hazard -> exactly T
    assert spot_expected_wall_hours(D(10), D(0)) == D(10)


def test_spot_model_refuses_huge_hazard():
    with pytest.raises(PricingError):
        spot_expected_wall_hours(D(10), D("0.5"), restart_overhead_h=D(1), checkpoint_interval_h=D(1))


# --- Token risk ---------------------------------------------------------------------------------------------


def test_token_risk_adjustment():
    # 100 * (1 + 1.65 * 0.05 * sqrt(4)) + 1 = 100 * 1.165 + 1 = 117.5
    assert token_risk_adjusted_usd(D(100), sigma_daily=D("0.05"), days=4, fees_usd=D(1)) == D("117.5")
    # a stablecoin: no adjustment
    assert token_risk_adjusted_usd(D(100), sigma_daily=D(0), days=30) == D(100)


def test_sigma_from_prices():
    # prices 1, 2, 4: log returns ln2, ln2 -> sigma 0
    assert sigma_daily_from_prices([D(1), D(2), D(4)]) == 0
    # 1, 2, 1: returns +ln2, -ln2; mean 0; sample variance 2 ln2^2 -> sigma = sqrt(2) ln 2 = 0.980258...
    assert close(sigma_daily_from_prices([D(1), D(2), D(1)]), "0.980258143468547")


# --- Performance per dollar ------------------------------------------------------------------------------------


def test_usd_per_effective_pflop_hour():
    # A100: 1.29 / (0.87 * 0.312) = 1.29 / 0.27144 = 4.752431...
    assert close(usd_per_effective_pflop_hour(D("1.29"), "a100", 1), "4.752431476569407")
    # 8x H100 SXM at 23.92: per GPU 2.99 / (0.8 * 0.989) = 2.99 / 0.7912 = 3.779070...
    assert close(usd_per_effective_pflop_hour(D("23.92"), "h100", 8), "3.779069767441860")
    # H100 PCIe: 2.49 / (0.8 * 0.756) = 2.49 / 0.6048 = 4.117063...
    assert close(usd_per_effective_pflop_hour(D("2.49"), "h100", 1, interface="pcie"), "4.117063492063492")
    assert usd_per_effective_pflop_hour(D("1"), None, 0) is None
    assert usd_per_effective_pflop_hour(D("1"), "a16", 1) is None
    assert effective_pflops("h100", 8) == D("6.3296")
    # bandwidth per dollar: 1.29 / 2.04 TB/s (A100 80GB SXM default)
    assert close(usd_per_tb_s_hour(D("1.29"), "a100", 1), "0.632352941176471")


def test_gpu_variants():
    assert gpu_spec("a100", memory_gib=40).memory_gb == 40
    assert gpu_spec("a100", interface="SXM4", memory_gib=40).label == "A100 40GB"
    assert gpu_spec("a100", interface="pcie", memory_gib=80).label == "A100 80GB PCIe"
    assert gpu_spec("h100", interface="sxm5").dense_bf16_tflops == 989
    assert gpu_spec("h100", interface="nvl").memory_gb == 94
    assert gpu_spec("a10", interface="a10g").dense_bf16_tflops == 70
    assert gpu_spec("nope") is None and gpu_spec(None) is None


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        ("A100-80GB", "", ("a100", None, 80.0)),
        ("A100", "", ("a100", None, 40.0)),
        ("A100-80GB-SXM", "", ("a100", "sxm", 80.0)),
        ("A100_80G_SXM4", "", ("a100", "sxm", 80.0)),
        ("H100", "{'Name': 'H100 PCIe'}", ("h100", "pcie", None)),
        ("H100-SXM", "", ("h100", "sxm", None)),
        ("H100_NVL", "", ("h100", "nvl", None)),
        ("H100_PCIE_BAREMETAL", "", ("h100", "pcie", None)),
        ("RTX4090", "", ("rtx4090", None, None)),
        ("RTXA6000", "", ("a6000", None, None)),
        ("A6000_PCIE_LOW_RAM", "", ("a6000", "pcie", None)),
        ("A10G", "", ("a10", "a10g", None)),
        ("L40S_PCIE", "", ("l40s", "pcie", None)),
        ("RTX6000-Ada", "", ("rtx6000ada", None, None)),
        ("RTX6000Ada", "", ("rtx6000ada", None, None)),
        ("V100-32GB", "", ("v100", None, 32.0)),
        ("NVIDIA-H200-NVL", "", ("h200", "nvl", None)),
        ("GH200", "", ("gh200", None, None)),
    ],
)
def test_catalog_gpu_names(name, hint, expected):
    assert tuple(catalog_gpu(name, hint)) == expected


def test_catalog_gpu_empty_is_cpu():
    assert catalog_gpu("") is None and catalog_gpu(None) is None


# --- Regions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("us-west", "us-west"),
        ("na-us-west", "us-west"),
        ("us-west-1", "us-west"),
        ("us-east-3", "us-east"),
        ("us-midwest-1", "us-central"),
        ("us-south-2", "us-central"),
        ("europe-central-1", "eu-central"),
        ("europe-south-1", "eu-south"),
        ("asia-northeast-1", "asia-east"),
        ("asia-south-1", "asia-south"),
        ("australia-east-1", "au-southeast"),
        ("me-west-1", None),
        ("US-TX-3", "us-central"),
        ("US-CA-2", "us-west"),
        ("US-DE-1", "us-east"),
        ("CA-MTL-1", "ca-central"),
        ("EUR-IS-1", "eu-north"),
        ("EU-RO-1", "eu-central"),
        ("AP-JP-1", "asia-east"),
        ("SEA-SG-1", "asia-southeast"),
        ("OC-AU-1", "au-southeast"),
        ("CA", "ca"),
        ("IS", "eu-north"),
        ("Michigan, US, NA", "us-central"),
        ("Georgia, US, NA", "us-east"),
        (", US, NA", "us"),
        ("British Columbia, CA, NA", "ca"),
        ("France, FR, EU", "eu-west"),
        ("Bavaria, DE, EU", "eu-central"),
        ("Hong Kong, HK, AS", "asia-east"),
        ("kansascity-usa-2", "us-central"),
        ("newyork-usa-1", "us-east"),
        ("sanjose-usa-1", "us-west"),
        ("helsinki-finland-1", "eu-north"),
        ("montreal-canada-2", "ca-central"),
        ("CANADA-1", "ca"),
        ("Finland 3", "eu-north"),
        ("SYD2", "au-southeast"),
        ("TYO4", "asia-east"),
        ("atl", "us-east"),
        ("US-1", "us"),
        ("", None),
        (None, None),
        ("atlantis", None),
    ],
)
def test_necto_region(raw, region):
    assert necto_region(raw) == region


def test_to_decimal_keeps_float_text():
    assert to_decimal(0.1) == D("0.1")
    assert to_decimal(129) == D(129)
