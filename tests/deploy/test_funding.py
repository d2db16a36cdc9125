"""Mint proposals (tools.deploy.funding): pure arithmetic against the chain's rules, and the typed refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.deploy.funding import (
    DEFAULT_MIN_MINT_UACT,
    Balances,
    BmeState,
    act,
    affordable_now,
    propose_mint,
    shortfall_uact,
)
from tools.errors import BmeHalted, ChainError, InsufficientFunds, InvalidRequest

HEALTHY = BmeState(mints_allowed=True, status="mint_status_healthy", collateral_ratio=Decimal("1.35"))
HALTED = BmeState(mints_allowed=False, status="mint_status_halt_cr", collateral_ratio=Decimal("0.87"))
RESERVE = 4_000_000


def test_a_small_shortfall_is_raised_to_the_minimum_mint_with_a_margin():
    proposal = propose_mint(balances=Balances(uact=200_000, uakt=40_000_000), want_uact=300_000,
                            akt_usd=Decimal("1.25"), bme=HEALTHY, fee_reserve_uakt=RESERVE)
    assert proposal.target_uact == DEFAULT_MIN_MINT_UACT
    # 10 ACT x 1.05 / 1.25 USD per AKT = 8.4 AKT
    assert proposal.burn_uakt == 8_400_000
    assert proposal.expected_uact == 10_500_000  # what the devnet credits: floor(burn x price)
    assert proposal.usd_value == Decimal("10.50")
    assert proposal.uakt_after == 31_600_000
    assert any("at least 10 ACT" in note for note in proposal.notes)


def test_a_large_request_burns_for_the_request_not_the_minimum():
    proposal = propose_mint(balances=Balances(uact=0, uakt=500_000_000), want_uact=120_000_000,
                            akt_usd=Decimal("0.5"), bme=HEALTHY, fee_reserve_uakt=RESERVE)
    assert proposal.target_uact == 120_000_000
    assert proposal.burn_uakt == 252_000_000
    assert proposal.expected_uact >= 120_000_000


def test_halted_mints_are_a_typed_refusal_that_says_the_akt_is_untouched():
    with pytest.raises(BmeHalted) as info:
        propose_mint(balances=Balances(uact=0, uakt=10**9), want_uact=10_000_000, akt_usd=Decimal("1.25"),
                     bme=HALTED, fee_reserve_uakt=RESERVE)
    message = info.value.message
    assert message.startswith("Minting ACT is paused on chain: the vault's collateral ratio is below the circuit breaker")
    assert "0.87" in message and "0.90" in message
    assert "Your AKT is untouched" in message and "nothing was signed" in message
    assert info.value.hint
    assert info.value.to_result()["error"] == "BmeHalted"


def test_not_enough_akt_for_the_burn_and_the_fee_reserve():
    # 8.4 AKT to burn + 4 AKT kept for fees > 12 AKT
    with pytest.raises(InsufficientFunds) as info:
        propose_mint(balances=Balances(uact=0, uakt=12_000_000), want_uact=1, akt_usd=Decimal("1.25"),
                     bme=HEALTHY, fee_reserve_uakt=RESERVE)
    assert "8.4 AKT" in info.value.message and "12 AKT" in info.value.message and "fees" in info.value.message
    assert "Send AKT" in info.value.hint
    assert propose_mint(balances=Balances(uact=0, uakt=12_400_000), want_uact=1, akt_usd=Decimal("1.25"),
                        bme=HEALTHY, fee_reserve_uakt=RESERVE).burn_uakt == 8_400_000


def test_no_oracle_price_or_a_non_positive_amount_is_refused():
    with pytest.raises(ChainError, match="oracle"):
        propose_mint(balances=Balances(0, 10**9), want_uact=1, akt_usd=None, bme=HEALTHY, fee_reserve_uakt=0)
    with pytest.raises(InvalidRequest):
        propose_mint(balances=Balances(0, 10**9), want_uact=0, akt_usd=Decimal(1), bme=HEALTHY, fee_reserve_uakt=0)


def test_shortfall_and_the_recheck_before_signing():
    assert shortfall_uact(Balances(uact=700_000, uakt=0), 500_000) == 0
    assert shortfall_uact(Balances(uact=200_000, uakt=0), 500_000) == 300_000
    affordable_now(8_400_000, Balances(uact=0, uakt=12_400_000), RESERVE)
    with pytest.raises(InsufficientFunds, match="nothing was signed"):
        affordable_now(8_400_000, Balances(uact=0, uakt=12_399_999), RESERVE)
    assert act(10_500_000) == "10.5" and act(8_400_000) == "8.4" and act(0) == "0" and act(1) == "0.000001"


@given(
    want=st.integers(1, 10**12),
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000"), places=4),
    minimum=st.integers(1, 10**8),
)
def test_the_mint_always_yields_the_target_at_the_oracle_price(want, price, minimum):
    bme = BmeState(mints_allowed=True, min_mint_uact=minimum)
    proposal = propose_mint(balances=Balances(0, 10**30), want_uact=want, akt_usd=price, bme=bme, fee_reserve_uakt=0)
    assert proposal.target_uact == max(want, minimum)
    assert proposal.expected_uact >= proposal.target_uact  # even after the chain truncates to whole uact
    # ...and still would after a price fall the margin covers (5% extra covers a fall of 1 - 1/1.05 = 4.76%)
    assert int(proposal.burn_uakt * price * (1 - Decimal("0.0476"))) >= proposal.target_uact


def test_the_mint_card_is_read_from_the_bytes_and_refuses_a_plan_that_disagrees_with_them():
    import coincurve

    from tools.akash import messages
    from tools.akash.jwt import address_from_public_key
    from tools.deploy.akash_backend import tx_body_bytes
    from tools.deploy.plan import card_text, mint_card
    from tools.errors import PolicyDenied

    owner = address_from_public_key(coincurve.PrivateKey(b"\x01" * 32).public_key.format(compressed=True))
    other = address_from_public_key(coincurve.PrivateKey(b"\x02" * 32).public_key.format(compressed=True))
    body = {"network": "mainnet", "chain_id": "akashnet-2", "owner_address": owner, "burn_uakt": 8_400_000,
            "usd_value": "10.50", "akt_usd": "1.25", "expected_uact": 10_500_000, "target_uact": 10_000_000,
            "fee_uakt_max": 2_000_000}
    tx = tx_body_bytes([messages.msg_mint_act(owner, 8_400_000)])
    card = mint_card(body, messages.describe_messages(tx), "plan_x", "ab" * 32)
    assert (card["action"], card["burn_uakt"], card["owner"], card["expected_uact"]) == (
        "mint ACT", 8_400_000, owner, 10_500_000)
    assert "burn 8.400000 AKT" in card_text(card) and "akashnet-2" in card_text(card)
    for tampered in ({**body, "burn_uakt": 1_000_000}, {**body, "owner_address": other}):
        with pytest.raises(PolicyDenied):
            mint_card(tampered, messages.describe_messages(tx), "plan_x", "ab" * 32)
    close = tx_body_bytes([messages.msg_close_deployment(owner, 7)])
    with pytest.raises(PolicyDenied):
        mint_card(body, messages.describe_messages(close), "plan_x", "ab" * 32)
