"""Token prices for the pricing engine: the Akash oracle, then CoinGecko, cached with their TTLs.

``TokenPriceService`` implements ``tools.pricing.tokens.TokenPriceProvider``:

- ``USDC`` and ``ACT`` are pegged: 1 USD, zero volatility, no call.
- ``AKT`` asks the chain oracle first (``oracle``: an async callable returning USD per AKT or None; the
  wiring passes the chain backend's ``akt_usd``), then CoinGecko. ``RENDER`` and ``IO`` ask CoinGecko.
- Every price is cached for its source's TTL (pricing.md §3: CoinGecko 60 s; the oracle 60 s). Freshness is
  counted from when Necto fetched the figure (asking again sooner cannot give a newer one); ``observed_at``
  is the source's own timestamp (CoinGecko's ``last_updated_at``; the fetch time for the oracle, whose
  callable gives none).
- One CoinGecko ``simple/price`` call refreshes every known symbol at once, and concurrent callers share one
  in-flight request per source (single flight), so ten offers priced in AKT cost one call.
- CoinGecko calls stay within a sliding budget (default 30 per minute, pricing.md §4). An HTTP 429 pauses
  CoinGecko for a minute; any other failure pauses that request for ``retry_after_failure_s``.
- When a refresh fails or would exceed the budget, the last price is returned with ``stale=True`` (the
  caller must flag it); a figure whose source timestamp is older than ``max_source_age_s`` is stale too.
  With nothing cached, ``TokenPriceUnavailable`` carries each source's reason.
- ``sigma_daily`` is the standard deviation of 30 days of daily log returns from CoinGecko's
  ``market_chart``, cached 6 h; when it cannot be had it is None (callers note the missing volatility).

Everything is timed by the injected ``clock``; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from tools.pricing.normalize import PricingError, sigma_daily_from_prices, to_decimal
from tools.pricing.offer import utc_now
from tools.pricing.sources import Clock, SourceError
from tools.pricing.sources.coingecko import SOURCE as COINGECKO
from tools.pricing.sources.coingecko import CoinGeckoClient, CoinGeckoRateLimited
from tools.pricing.tokens import PEGGED, TokenPrice, TokenPriceUnavailable

log = logging.getLogger(__name__)

Oracle = Callable[[], Awaitable[Decimal | None]]

ORACLE = "akash-oracle"
ORACLE_SYMBOL = "AKT"
PRICE_TTL_S = 60  # CoinGecko spot (pricing.md §3)
ORACLE_TTL_S = 60
VOLATILITY_TTL_S = 6 * 3600  # a 30-day sigma barely moves within hours
VOLATILITY_DAYS = 30
CALLS_PER_MINUTE = 30  # CoinGecko budget (pricing.md §4); the keyless public API allows roughly this
RETRY_AFTER_FAILURE_S = 15
RATE_LIMIT_COOLDOWN_S = 60  # CoinGecko's limits are per minute
MAX_SOURCE_AGE_S = 15 * 60
PEGGED_TTL_S = 10**9


class RateBudget:
    """At most ``calls`` calls in any sliding window of ``window_s`` seconds, timed by the caller's clock."""

    def __init__(self, calls: int, window_s: int = 60) -> None:
        self.calls = calls
        self.window = timedelta(seconds=window_s)
        self._spent: deque[datetime] = deque()

    def _prune(self, now: datetime) -> None:
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()

    def try_spend(self, now: datetime) -> bool:
        """Spend one call if the window has room."""
        self._prune(now)
        if len(self._spent) >= self.calls:
            return False
        self._spent.append(now)
        return True

    def seconds_until_free(self, now: datetime) -> int:
        self._prune(now)
        if len(self._spent) < self.calls:
            return 0
        if not self._spent:  # a zero budget never frees up
            return int(self.window.total_seconds())
        return max(1, int((self._spent[0] + self.window - now).total_seconds() + 0.999))


@dataclass(frozen=True)
class _Cached:
    price: TokenPrice
    fetched_at: datetime


class TokenPriceService:
    """USD prices of AKT, RENDER, IO (and pegged USDC/ACT) from the Akash oracle and CoinGecko."""

    def __init__(
        self,
        *,
        oracle: Oracle | None = None,
        coingecko: CoinGeckoClient | None = None,
        clock: Clock = utc_now,
        price_ttl_s: int = PRICE_TTL_S,
        oracle_ttl_s: int = ORACLE_TTL_S,
        volatility_ttl_s: int = VOLATILITY_TTL_S,
        calls_per_minute: int = CALLS_PER_MINUTE,
        retry_after_failure_s: int = RETRY_AFTER_FAILURE_S,
        max_source_age_s: int = MAX_SOURCE_AGE_S,
    ) -> None:
        self.oracle = oracle
        self.coingecko = coingecko
        self.clock = clock
        self.price_ttl_s = price_ttl_s
        self.oracle_ttl_s = oracle_ttl_s
        self.volatility_ttl_s = volatility_ttl_s
        self.retry_after_failure_s = retry_after_failure_s
        self.max_source_age_s = max_source_age_s
        self.budget = RateBudget(calls_per_minute)
        self._spot: dict[tuple[str, str], _Cached] = {}  # (source, symbol) -> last good price
        self._sigma: dict[str, tuple[Decimal, datetime]] = {}  # symbol -> (sigma_daily, fetched_at)
        self._paused: dict[str, tuple[datetime, str]] = {}  # request key -> (until, why)
        self._inflight: dict[str, asyncio.Future[str | None]] = {}

    # --- TokenPriceProvider -----------------------------------------------------------------------------
    async def price(self, symbol: str) -> TokenPrice:
        """The USD price of ``symbol``: fresh from cache or a source, else stale, else TokenPriceUnavailable."""
        symbol = symbol.upper()
        if symbol in PEGGED:
            return TokenPrice(symbol, Decimal(1), self.clock(), PEGGED_TTL_S, "pegged", Decimal(0))
        sources = self._sources_for(symbol)
        if not sources:
            known = sorted({*PEGGED, *self._known_symbols()})
            raise TokenPriceUnavailable(symbol, f"no price source for it (known: {', '.join(known)})")
        chosen: _Cached | None = None
        reasons: list[str] = []
        for source in sources:
            chosen = self._fresh(source, symbol)
            if chosen is not None:
                break
            reason = await (self._refresh_oracle() if source == ORACLE else self._refresh_coingecko(symbol))
            chosen = self._fresh(source, symbol)
            if chosen is not None:
                break
            reasons.append(f"{source}: {reason or 'no fresh price'}")
        stale = chosen is None
        if chosen is None:
            cached = [c for c in (self._spot.get((s, symbol)) for s in sources) if c is not None]
            if not cached:
                raise TokenPriceUnavailable(symbol, "; ".join(reasons))
            chosen = max(cached, key=lambda c: c.fetched_at)
            log.warning(
                "serving a stale %s price from %s: %s", symbol, chosen.price.source, "; ".join(reasons)
            )
        sigma = await self._sigma_daily(symbol)
        age_s = (self.clock() - chosen.price.observed_at).total_seconds()
        stale = stale or age_s > self.max_source_age_s
        return replace(chosen.price, sigma_daily=sigma, stale=stale)

    # --- sources ----------------------------------------------------------------------------------------
    def _known_symbols(self) -> set[str]:
        symbols = set(self.coingecko.symbols) if self.coingecko else set()
        return symbols | ({ORACLE_SYMBOL} if self.oracle else set())

    def _sources_for(self, symbol: str) -> list[str]:
        sources = [ORACLE] if symbol == ORACLE_SYMBOL and self.oracle is not None else []
        if self.coingecko is not None and symbol in self.coingecko.symbols:
            sources.append(COINGECKO)
        return sources

    def _fresh(self, source: str, symbol: str) -> _Cached | None:
        cached = self._spot.get((source, symbol))
        ttl = self.oracle_ttl_s if source == ORACLE else self.price_ttl_s
        if cached is not None and (self.clock() - cached.fetched_at).total_seconds() < ttl:
            return cached
        return None

    async def _refresh_oracle(self) -> str | None:
        return await self._single_flight(ORACLE, self._fetch_oracle, budgeted=False)

    async def _fetch_oracle(self) -> None:
        assert self.oracle is not None
        try:
            answer = await self.oracle()
        except Exception as exc:  # the callable comes from the wiring: any failure means "ask CoinGecko"
            raise SourceError(ORACLE, f"failed ({type(exc).__name__}: {exc})") from None
        if answer is None:
            raise SourceError(ORACLE, "returned no price")
        try:
            usd = to_decimal(answer, what="oracle price")
        except PricingError as exc:
            raise SourceError(ORACLE, exc.message) from None
        if usd <= 0:
            raise SourceError(ORACLE, f"returned a non-positive price {usd}")
        now = self.clock()
        self._spot[(ORACLE, ORACLE_SYMBOL)] = _Cached(
            TokenPrice(ORACLE_SYMBOL, usd, now, self.oracle_ttl_s, ORACLE), now
        )

    async def _refresh_coingecko(self, symbol: str) -> str | None:
        missing = self._pause_reason(f"{COINGECKO}:spot:{symbol}")
        if missing:
            return missing
        reason = await self._single_flight(f"{COINGECKO}:spot", self._fetch_spot, budgeted=True)
        if reason is None and self._fresh(COINGECKO, symbol) is None:
            reason = self._pause_reason(f"{COINGECKO}:spot:{symbol}")
        return reason

    async def _fetch_spot(self) -> None:
        assert self.coingecko is not None
        symbols = sorted(self.coingecko.symbols)
        answer = await self.coingecko.simple_price(symbols)
        now = self.clock()
        for symbol in symbols:
            spot = answer.get(symbol)
            key = f"{COINGECKO}:spot:{symbol}"
            if spot is None:
                why = f"CoinGecko answered no price for {self.coingecko.coin_id(symbol)}"
                self._pause(key, self.retry_after_failure_s, why)
                continue
            self._paused.pop(key, None)
            self._spot[(COINGECKO, symbol)] = _Cached(
                TokenPrice(symbol, spot.usd, spot.last_updated_at, self.price_ttl_s, COINGECKO), now
            )

    async def _sigma_daily(self, symbol: str) -> Decimal | None:
        if self.coingecko is None or symbol not in self.coingecko.symbols:
            return None
        if (sigma := self._fresh_sigma(symbol)) is not None:
            return sigma
        reason = await self._single_flight(
            f"{COINGECKO}:chart:{symbol}", lambda: self._fetch_sigma(symbol), budgeted=True
        )
        sigma = self._fresh_sigma(symbol)
        if sigma is None:
            log.info("no volatility for %s: %s", symbol, reason)
        return sigma

    def _fresh_sigma(self, symbol: str) -> Decimal | None:
        cached = self._sigma.get(symbol)
        if cached and (self.clock() - cached[1]).total_seconds() < self.volatility_ttl_s:
            return cached[0]
        return None

    async def _fetch_sigma(self, symbol: str) -> None:
        assert self.coingecko is not None
        daily = await self.coingecko.daily_prices(symbol, days=VOLATILITY_DAYS)
        try:
            sigma = sigma_daily_from_prices(daily)
        except PricingError:
            raise SourceError(
                COINGECKO, f"only {len(daily)} daily prices for {symbol}'s volatility"
            ) from None
        self._sigma[symbol] = (sigma, self.clock())

    # --- single flight, pauses and the rate budget -----------------------------------------------------
    async def _single_flight(
        self, key: str, fetch: Callable[[], Awaitable[None]], *, budgeted: bool
    ) -> str | None:
        """Run ``fetch`` once for every concurrent caller of ``key``; the failure reason, None on success."""
        flight = self._inflight.get(key)
        if flight is None:
            now = self.clock()
            paused = self._pause_reason(key) or (self._pause_reason(COINGECKO) if budgeted else None)
            if paused:
                return paused
            if budgeted and not self.budget.try_spend(now):
                wait = self.budget.seconds_until_free(now)
                return f"rate budget of {self.budget.calls} calls/min used up (next call in {wait} s)"
            flight = asyncio.ensure_future(self._run(key, fetch))
            self._inflight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # shield: a caller that gives up must not cancel the request the others are waiting for
        return await asyncio.shield(flight)

    def _landed(self, key: str, flight: asyncio.Future[str | None]) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]

    async def _run(self, key: str, fetch: Callable[[], Awaitable[None]]) -> str | None:
        try:
            await fetch()
        except CoinGeckoRateLimited as exc:
            self._pause(COINGECKO, max(RATE_LIMIT_COOLDOWN_S, self.retry_after_failure_s), exc.reason)
            return exc.reason
        except SourceError as exc:
            self._pause(key, self.retry_after_failure_s, exc.reason)
            return exc.reason
        self._paused.pop(key, None)
        return None

    def _pause(self, key: str, seconds: int, why: str) -> None:
        self._paused[key] = (self.clock() + timedelta(seconds=seconds), why)

    def _pause_reason(self, key: str) -> str | None:
        paused = self._paused.get(key)
        if paused is None:
            return None
        until, why = paused
        left = (until - self.clock()).total_seconds()
        if left <= 0:
            return None
        return f"{why} (not retried for {int(left + 0.999)} s)"


__all__ = ["CALLS_PER_MINUTE", "ORACLE", "Oracle", "RateBudget", "TokenPriceService"]
