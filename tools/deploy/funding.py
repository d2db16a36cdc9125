"""Funding deployments in ACT: when the account is short, how much AKT a mint burns (pure, no I/O).

Since chain v2.0.0 deposits are paid in ACT (``uact``), and ACT only comes from ``MsgMintACT``: AKT is burned
at the on-chain oracle price and the ACT arrives when the epoch settles, a few blocks later (akash.md §1).
``propose_mint`` fixes the numbers of a mint plan; ``tools.service`` builds, shows and signs it.

- The mint covers what is missing plus a margin for the price moving between the card and the settling
  epoch, and never less than the chain's minimum mint (10 ACT by default).
- It leaves AKT for fees (gas is still paid in ``uakt``): the mint's own fee and the next transaction's.
- Halted mints (the vault's collateral ratio under the circuit breaker) are a typed refusal before
  anything is signed, not a failed transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from tools.errors import BmeHalted, ChainError, InsufficientFunds, InvalidRequest

MICRO = 1_000_000
DEFAULT_MIN_MINT_UACT = 10_000_000  # chain-sdk go/node/bme/v1/params.go: 10 ACT
DEFAULT_HALT_RATIO = Decimal("0.90")  # mints stop below this collateral ratio
PRICE_MARGIN = Decimal("0.05")  # 5%: the AKT price may fall before the epoch settles the mint


@dataclass(frozen=True)
class Balances:
    """Spendable balances of one account, in micro-units."""

    uact: int
    uakt: int


@dataclass(frozen=True)
class BmeState:
    """What ``/akash/bme/v1/status`` (and the module params) say about minting right now."""

    mints_allowed: bool
    status: str = ""
    collateral_ratio: Decimal | None = None
    halt_ratio: Decimal = DEFAULT_HALT_RATIO
    min_mint_uact: int = DEFAULT_MIN_MINT_UACT


@dataclass(frozen=True)
class MintProposal:
    """The numbers of one MsgMintACT, all integers in micro-units except the prices."""

    want_uact: int  # what is needed: the deposit's shortfall, or the amount asked for
    target_uact: int  # the least the mint must yield: ``want_uact`` raised to the chain's minimum mint
    burn_uakt: int  # what MsgMintACT burns
    expected_uact: int  # what the burn mints at today's oracle price
    akt_usd: Decimal
    margin: Decimal
    usd_value: Decimal  # of the AKT burned, at today's oracle price (ACT is ~1 USD)
    fee_reserve_uakt: int  # AKT left untouched for fees
    uakt_after: int  # AKT left once the burn is done (fees not yet paid)
    notes: tuple[str, ...] = ()


def act(uact: int | Decimal) -> str:
    """Micro-units as a whole-token string: 10500000 -> "10.5"."""
    text = f"{(Decimal(uact) / MICRO).quantize(Decimal('0.000001')):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shortfall_uact(balances: Balances, need_uact: int) -> int:
    """How much ACT is missing to pay ``need_uact`` (0 when the balance covers it)."""
    return max(0, int(need_uact) - balances.uact)


def check_mints_allowed(bme: BmeState) -> None:
    """Raise ``BmeHalted`` when the chain's circuit breaker has stopped ACT mints."""
    if bme.mints_allowed:
        return
    ratio = (
        f" ({bme.collateral_ratio.quantize(Decimal('0.01'))}; mints stop under {bme.halt_ratio.quantize(Decimal('0.01'))})"
        if bme.collateral_ratio is not None
        else ""
    )
    raise BmeHalted(
        f"Minting ACT is paused on chain: the vault's collateral ratio is below the circuit breaker{ratio}. "
        "Your AKT is untouched and nothing was signed; try later, or close a deployment you no longer need "
        "(closing refunds its unused deposit in ACT).",
        hint="Mints resume once the collateral ratio recovers; ask again then.",
    )


def propose_mint(
    *,
    balances: Balances,
    want_uact: int,
    akt_usd: Decimal | None,
    bme: BmeState,
    fee_reserve_uakt: int,
    margin: Decimal = PRICE_MARGIN,
) -> MintProposal:
    """The mint that yields at least ``want_uact`` (and the chain's minimum) with AKT left for fees.

    Raises ``BmeHalted`` when mints are halted, ``ChainError`` without an oracle price, ``InvalidRequest``
    for a non-positive amount and ``InsufficientFunds`` when the account's AKT cannot cover the burn and
    the fee reserve.
    """
    check_mints_allowed(bme)
    if want_uact <= 0:
        raise InvalidRequest("A mint needs a positive amount of ACT.", hint="Say how much, e.g. 'mint 20 ACT'.")
    if akt_usd is None or akt_usd <= 0:
        raise ChainError(
            "The chain's oracle has no AKT price right now, so Necto can't tell how much AKT a mint would burn.",
            hint="Try again in a few minutes; nothing was signed.",
        )
    notes: list[str] = []
    target = max(int(want_uact), bme.min_mint_uact)
    if target > want_uact:
        notes.append(
            f"You need {act(want_uact)} ACT, but the chain mints at least {act(bme.min_mint_uact)} ACT at a time; "
            "the rest stays in your balance for later deposits."
        )
    # uact = uakt x (USD per AKT): both are micro-units, and ACT is ~1 USD.
    burn = math.ceil(Decimal(target) * (1 + margin) / akt_usd)
    expected = int((Decimal(burn) * akt_usd).to_integral_value(rounding=ROUND_DOWN))
    available = balances.uakt - fee_reserve_uakt
    if burn > available:
        raise InsufficientFunds(
            f"Minting {act(target)} ACT burns about {act(burn)} AKT (at ${akt_usd.normalize():f} per AKT, with a "
            f"{margin * 100:.0f}% margin for price moves), and {act(fee_reserve_uakt)} AKT must stay for fees; "
            f"the account holds {act(balances.uakt)} AKT.",
            hint="Send AKT to this account first, or ask for a smaller deposit (fewer hours or a lower budget).",
        )
    covered = (margin / (1 + margin) * 100).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
    notes.append(
        f"The AKT price can move before the mint settles: burning {margin * 100:.0f}% extra keeps the result at or "
        f"above {act(target)} ACT unless AKT falls by more than {covered}% first."
    )
    return MintProposal(
        want_uact=int(want_uact),
        target_uact=target,
        burn_uakt=burn,
        expected_uact=expected,
        akt_usd=akt_usd,
        margin=margin,
        usd_value=(Decimal(burn) / MICRO * akt_usd).quantize(Decimal("0.01")),
        fee_reserve_uakt=fee_reserve_uakt,
        uakt_after=balances.uakt - burn,
        notes=tuple(notes),
    )


def affordable_now(proposal_burn_uakt: int, balances: Balances, fee_reserve_uakt: int) -> None:
    """Re-check, right before signing, that the burn still fits the account's AKT (it may have moved)."""
    if proposal_burn_uakt > balances.uakt - fee_reserve_uakt:
        raise InsufficientFunds(
            f"The account now holds {act(balances.uakt)} AKT, less than the {act(proposal_burn_uakt)} AKT this mint "
            f"burns plus {act(fee_reserve_uakt)} AKT for fees; nothing was signed.",
            hint="Send AKT to this account, or ask for a new mint plan.",
        )
