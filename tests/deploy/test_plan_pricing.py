"""Plan pricing: max price per block and deposit, checked against hand-computed figures."""

from decimal import Decimal as D

import pytest

from tools.deploy.plan import (
    blocks_for_hours,
    card_text,
    deploy_card,
    plan_hash,
    price_plan,
    uact_per_block_to_usd_per_hour,
    usd_per_hour_to_uact_per_block,
)
from tools.errors import BudgetExceeded

T = D("6.098")
CAPS = dict(min_deposit_uact=500_000, max_deposit_uact=50_000_000, max_price_uact_per_block=100_000)


def test_conversions_match_pricing_spec():
    # pricing.md §2: 1000 uact/block is about 0.59 USD/hour at 6.098 s.
    assert uact_per_block_to_usd_per_hour(D(1000), T).quantize(D("0.000001")) == D("0.590357")
    assert usd_per_hour_to_uact_per_block(D("0.590357"), T).quantize(D("0.1")) == D("1000.0")
    # 730 h at 6.098 s/block = 430960.97 -> 430961 blocks
    assert blocks_for_hours(D(730), T) == 430_961


def test_no_budget_caps_at_one_and_a_half_times_the_estimate():
    p = price_plan(expected_usd_per_hour=D("0.004"), max_usd_per_hour=None, hours=D(730), block_time_s=T, **CAPS)
    # 0.006 USD/h * 10^6 * 6.098 / 3600 = 10.16333.. -> rounded up to 10.164
    assert p.max_price_uact_per_block == D("10.164")
    # 10.164 * 430961 = 4380287.6 -> 4380288 uact
    assert p.deposit_uact == 4_380_288
    assert p.funded_hours == D(730)
    assert p.notes == ()


def test_budget_sets_the_cap():
    p = price_plan(expected_usd_per_hour=D("0.2"), max_usd_per_hour=D("0.5"), hours=D(10), block_time_s=T, **CAPS)
    # 0.5 * 10^6 * 6.098 / 3600 = 846.9444.. -> 846.945 ; 10 h = 5904 blocks ; 846.945 * 5904 = 5000363.28
    assert p.max_price_uact_per_block == D("846.945")
    assert p.deposit_uact == 5_000_364
    assert abs(p.max_usd_per_hour - D("0.5")) < D("0.000001")


def test_budget_below_estimate_is_flagged():
    p = price_plan(expected_usd_per_hour=D("1.2"), max_usd_per_hour=D("0.5"), hours=D(10), block_time_s=T, **CAPS)
    assert any("below the expected price" in n for n in p.notes)


def test_minimum_deposit_is_the_chain_minimum():
    p = price_plan(expected_usd_per_hour=D("0.001"), max_usd_per_hour=None, hours=D(1), block_time_s=T, **CAPS)
    assert p.deposit_uact == 500_000


def test_deposit_cap_limits_funded_hours():
    p = price_plan(expected_usd_per_hour=D(30), max_usd_per_hour=None, hours=D(730), block_time_s=T, **CAPS)
    assert p.deposit_uact == 50_000_000
    # 45 USD/h max -> 50 ACT lasts 1.1 h
    assert p.funded_hours == D("1.1")
    assert any("top it up" in n for n in p.notes)


def test_price_over_the_per_block_cap_is_refused():
    with pytest.raises(BudgetExceeded) as info:
        price_plan(expected_usd_per_hour=None, max_usd_per_hour=D(100), hours=D(1), block_time_s=T, **CAPS)
    assert "above your cap" in info.value.message


def _body():
    return {
        "network": "sandbox", "chain_id": "necto-sandbox-1", "owner_address": "akash1xyz", "dseq": 42,
        "deposit_uact": 5_000_364, "max_price_uact_per_block": "846.945", "max_usd_per_hour": "0.5",
        "expected_usd_per_hour": "0.2", "funded_hours": "10", "preferred_provider_name": "acme",
        "services": [{"name": "web", "image": "nginx:1.27", "ports": [{"port": 80, "as": 80, "global": True}]}],
        "workload": "static", "fee_uakt_max": 2_000_000, "manifest_hash": "ab" * 32,
    }


def test_plan_hash_covers_body_and_tx_bytes():
    body = _body()
    h = plan_hash(body, b"tx")
    assert h == plan_hash(dict(reversed(list(body.items()))), b"tx")  # key order does not matter
    assert h != plan_hash({**body, "deposit_uact": 5_000_365}, b"tx")
    assert h != plan_hash(body, b"tx2")


def test_card_numbers_come_from_the_plan():
    card = deploy_card(_body(), [{"type_url": "/akash.deployment.v1beta4.MsgCreateDeployment"}], "plan_1", "f" * 64)
    assert card["deposit_act"] == "5.000364"
    assert card["deposit_usd"] == "5.00"
    assert card["max_usd_per_month"] == "365.00"
    assert card["images"] == ["nginx:1.27"]
    text = card_text(card)
    assert "5.000364 ACT" in text and "846.945 uact/block" in text and "necto-sandbox-1" in text
    assert card["provider"] == "acme preferred (expected)"
