"""Token exposure for token-priced sources (io.net in IO coin, Render paid in RENDER), pricing.md §2.

Two small steps shared by those sources:

- :func:`lookup_token` asks a ``TokenPriceProvider`` for a token's USD price and turns every failure
  (no provider, ``TokenPriceUnavailable``, any other ``PricingError``) into a readable reason instead of an
  exception, so the source can decide what to skip and say why.
- :func:`exposure` picks the daily volatility for the risk adjustment and the notes the offer must carry:
  a stale price is flagged, and an unknown volatility falls back to ``ASSUMED_SIGMA_DAILY``, flagged too.
  Nothing is ever used silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tools.pricing.normalize import PricingError
from tools.pricing.tokens import TokenPrice, TokenPriceProvider

# Daily volatility assumed when the provider knows none: IO and RENDER have moved roughly 4-7 % a day
# (standard deviation of daily log returns) over most 30-day windows; 6 % is the conservative middle.
ASSUMED_SIGMA_DAILY = Decimal("0.06")


@dataclass(frozen=True)
class TokenLookup:
    """A token price, or the reason there is none."""

    symbol: str
    price: TokenPrice | None
    reason: str = ""


async def lookup_token(provider: TokenPriceProvider | None, symbol: str) -> TokenLookup:
    """The USD price of ``symbol`` from ``provider``; never raises (the reason says what went wrong)."""
    if provider is None:
        return TokenLookup(symbol, None, "no token price provider configured")
    try:
        return TokenLookup(symbol, await provider.price(symbol))
    except PricingError as exc:
        return TokenLookup(symbol, None, getattr(exc, "reason", None) or str(exc))


@dataclass(frozen=True)
class Exposure:
    """What the risk adjustment uses: sigma, where it came from, and the notes the offer must show."""

    sigma_daily: Decimal
    sigma_source: str  # "provider" | "assumed"
    notes: tuple[str, ...]


def exposure(lookup: TokenLookup) -> Exposure:
    """Sigma and notes for a token lookup (a missing price or sigma -> ``ASSUMED_SIGMA_DAILY``, noted)."""
    symbol = lookup.symbol
    price = lookup.price
    if price is None:
        return Exposure(
            ASSUMED_SIGMA_DAILY,
            "assumed",
            (
                f"no {symbol}/USD price ({lookup.reason}): token risk uses an assumed volatility of "
                f"{ASSUMED_SIGMA_DAILY * 100:g} %/day and the {symbol} amount is unknown",
            ),
        )
    notes: list[str] = [f"token price: {price.note()}"]
    if price.stale:
        notes.append(
            f"{symbol}/USD price is stale (observed {price.observed_at.isoformat()}, TTL {price.ttl_s}s); "
            "the token figures may be off"
        )
    if price.sigma_daily is None:
        notes.append(
            f"{symbol} volatility unknown: token risk uses an assumed {ASSUMED_SIGMA_DAILY * 100:g} %/day"
        )
        return Exposure(ASSUMED_SIGMA_DAILY, "assumed", tuple(notes))
    return Exposure(price.sigma_daily, "provider", tuple(notes))


__all__ = ["ASSUMED_SIGMA_DAILY", "Exposure", "TokenLookup", "exposure", "lookup_token"]
