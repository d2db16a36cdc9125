"""Token prices as the pricing engine sees them: a USD price with its source, age, TTL and volatility.

Sources that price in a volatile token (io.net in IO coin, Render paid by burning RENDER, Akash bids in
uakt) ask a ``TokenPriceProvider`` for ``price(symbol)``. The provider decides where the figure comes from
(the Akash chain oracle first for AKT, then CoinGecko; tools.pricing.token_service) and caches it for its
TTL. A price past its TTL is returned with ``stale=True`` only when nothing fresher can be had; the caller
must flag it in the offer's notes, never use it silently.

Symbols are upper case: ``AKT``, ``RENDER``, ``IO``, ``USDC``. ``USDC`` and ``ACT`` are 1 USD with zero
volatility by definition (ACT is pegged by Akash's BME; USDC is treated as pegged).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tools.pricing.normalize import PricingError

PEGGED = frozenset({"USDC", "ACT"})


class TokenPriceUnavailable(PricingError):
    """No USD price for a token could be had from any source (fresh or stale)."""

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(
            f"No USD price for {symbol}: {reason}",
            hint="Offers priced in this token are skipped until a price source answers.",
        )
        self.symbol = symbol
        self.reason = reason


@dataclass(frozen=True)
class TokenPrice:
    symbol: str
    usd: Decimal
    observed_at: datetime  # when the source says the price was last updated (UTC)
    ttl_s: int
    source: str  # "akash-oracle", "coingecko", "pegged", "static"
    sigma_daily: Decimal | None = None  # std-dev of daily log returns over ~30 days; None: unknown
    stale: bool = False  # past its TTL and nothing fresher could be fetched

    def expires_at(self) -> datetime:
        return self.observed_at + timedelta(seconds=self.ttl_s)

    def note(self) -> str:
        """A short human note for an offer: ``"AKT $1.23 (coingecko)"``, ``"AKT $1.23 (coingecko, stale)"``."""
        text = f"{self.symbol} ${self.usd} ({self.source}"
        return text + (", stale)" if self.stale else ")")


@runtime_checkable
class TokenPriceProvider(Protocol):
    async def price(self, symbol: str) -> TokenPrice:
        """The USD price of ``symbol``; raises TokenPriceUnavailable when there is none at all."""
        ...


class StaticTokenPrices:
    """Fixed prices (tests, offline conversions): ``StaticTokenPrices({"AKT": Decimal("1.2")}, now=...)``."""

    def __init__(
        self,
        prices: dict[str, Decimal],
        *,
        now: datetime,
        sigma_daily: dict[str, Decimal] | None = None,
        ttl_s: int = 60,
        stale: frozenset[str] = frozenset(),
    ) -> None:
        self.prices = {k.upper(): Decimal(v) for k, v in prices.items()}
        self.sigma = {k.upper(): Decimal(v) for k, v in (sigma_daily or {}).items()}
        self.now = now
        self.ttl_s = ttl_s
        self.stale = stale

    async def price(self, symbol: str) -> TokenPrice:
        symbol = symbol.upper()
        if symbol in PEGGED:
            return TokenPrice(symbol, Decimal(1), self.now, 10**9, "pegged", Decimal(0))
        if symbol not in self.prices:
            raise TokenPriceUnavailable(symbol, "no static price")
        return TokenPrice(
            symbol,
            self.prices[symbol],
            self.now,
            self.ttl_s,
            "static",
            self.sigma.get(symbol),
            stale=symbol in self.stale,
        )


__all__ = ["PEGGED", "StaticTokenPrices", "TokenPrice", "TokenPriceProvider", "TokenPriceUnavailable"]
