"""CoinGecko token prices (pricing.md §4): spot USD prices and 30-day daily series for volatility.

- ``GET {base}/api/v3/simple/price?ids=akash-network,render-token,io-net&vs_currencies=usd
  &include_last_updated_at=true`` -> ``{"akash-network": {"usd": 1.25, "last_updated_at": 1772366400}, ...}``.
  Unknown ids are simply absent from the body.
- ``GET {base}/api/v3/coins/{id}/market_chart?vs_currency=usd&days=30&interval=daily`` ->
  ``{"prices": [[ms, price], ...], "market_caps": [...], "total_volumes": [...]}``; one point per UTC
  midnight, oldest first, and a last point for "now". Unknown id -> HTTP 404 ``{"error": "coin not found"}``.

Keys: keyless calls work on the public API (IP-rate-limited); a Demo key goes in ``x-cg-demo-api-key`` with
the public root ``https://api.coingecko.com``, a paid key in ``x-cg-pro-api-key`` with
``https://pro-api.coingecko.com`` (docs.coingecko.com, "Authentication"). A rate-limited answer is HTTP 429
``{"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit. ..."}}``.

    NectoError
    └── PricingError
        └── SourceError (tools.pricing.sources)
            └── CoinGeckoRateLimited   HTTP 429: back off for a minute, do not retry at once
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from tools.pricing.normalize import PricingError, to_decimal
from tools.pricing.sources import DEFAULT_TIMEOUT_S, HttpJson, SourceError, require

COINGECKO_API_URL = "https://api.coingecko.com"  # public and Demo plan
COINGECKO_PRO_API_URL = "https://pro-api.coingecko.com"  # paid plans
# Necto's symbols -> CoinGecko coin ids.
COINGECKO_IDS: Mapping[str, str] = {"AKT": "akash-network", "RENDER": "render-token", "IO": "io-net"}
SOURCE = "coingecko"


class CoinGeckoRateLimited(SourceError):
    """CoinGecko answered HTTP 429 (its per-minute limit); the caller should back off."""


@dataclass(frozen=True)
class SpotPrice:
    symbol: str
    coin_id: str
    usd: Decimal
    last_updated_at: datetime  # CoinGecko's own timestamp for the figure (UTC)


def _number(value: Any, what: str) -> Decimal:
    # JSON booleans are ints in Python; a price or a timestamp is never one.
    require(isinstance(value, int | float | str) and not isinstance(value, bool), SOURCE, f"{what} {value!r}")
    try:
        return to_decimal(value, what=what)
    except PricingError as exc:
        raise SourceError(SOURCE, f"unexpected response shape: {exc.message}") from None


def _utc_from_unix(seconds: Decimal, what: str) -> datetime:
    require(seconds > 0, SOURCE, f"{what} {seconds} is not a unix time")
    try:
        return datetime.fromtimestamp(float(seconds), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SourceError(SOURCE, f"unexpected response shape: {what} {seconds} is not a unix time") from None


class CoinGeckoClient:
    """CoinGecko's two price endpoints, with strict shape checks (anything else raises SourceError)."""

    name = SOURCE

    def __init__(
        self,
        base_url: str = COINGECKO_API_URL,
        api_key: str = "",
        *,
        plan: Literal["demo", "pro"] | None = None,
        ids: Mapping[str, str] = COINGECKO_IDS,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
    ) -> None:
        """``plan=None`` picks the header from the host: ``pro-api.coingecko.com`` means pro, else demo."""
        self.base_url = base_url.rstrip("/")
        self.ids = {symbol.upper(): coin_id for symbol, coin_id in ids.items()}
        if plan is None:
            plan = "pro" if (urlsplit(self.base_url).hostname or "").startswith("pro-api.") else "demo"
        self.plan = plan
        headers = {f"x-cg-{plan}-api-key": api_key} if api_key else {}
        self._http = HttpJson(
            self.name,
            client=client,
            transport=transport,
            timeout_s=timeout_s,
            retries=retries,
            headers=headers,
        )

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self.ids)

    def coin_id(self, symbol: str) -> str:
        try:
            return self.ids[symbol.upper()]
        except KeyError:
            raise SourceError(self.name, f"no CoinGecko id known for {symbol.upper()}") from None

    async def simple_price(self, symbols: Iterable[str]) -> dict[str, SpotPrice]:
        """USD prices for ``symbols`` in one call; a symbol CoinGecko does not answer for is left out."""
        wanted = {self.coin_id(s): s.upper() for s in symbols}
        require(bool(wanted), self.name, "no symbols asked for")
        body = await self._get(
            "/api/v3/simple/price",
            {"ids": ",".join(sorted(wanted)), "vs_currencies": "usd", "include_last_updated_at": "true"},
        )
        require(isinstance(body, dict), self.name, "simple/price is not an object")
        prices: dict[str, SpotPrice] = {}
        for coin_id, symbol in wanted.items():
            entry = body.get(coin_id)
            if entry is None:
                continue
            require(isinstance(entry, dict), self.name, f"{coin_id} is not an object")
            require(
                "usd" in entry and "last_updated_at" in entry,
                self.name,
                f"{coin_id} lacks usd/last_updated_at",
            )
            usd = _number(entry["usd"], f"{coin_id}.usd")
            require(usd > 0, self.name, f"{coin_id}.usd {usd} is not a positive price")
            updated = entry["last_updated_at"]
            require(
                isinstance(updated, int) and not isinstance(updated, bool),
                self.name,
                f"{coin_id}.last_updated_at",
            )
            prices[symbol] = SpotPrice(
                symbol, coin_id, usd, _utc_from_unix(Decimal(updated), "last_updated_at")
            )
        return prices

    async def market_chart(self, symbol: str, *, days: int = 30) -> list[tuple[datetime, Decimal]]:
        """``(time, usd)`` points of the daily series, oldest first, as CoinGecko sends them."""
        coin_id = self.coin_id(symbol)
        body = await self._get(
            f"/api/v3/coins/{quote(coin_id, safe='')}/market_chart",
            {"vs_currency": "usd", "days": str(days), "interval": "daily"},
        )
        require(
            isinstance(body, dict) and isinstance(body.get("prices"), list), self.name, "no 'prices' list"
        )
        points: list[tuple[datetime, Decimal]] = []
        for point in body["prices"]:
            require(isinstance(point, list) and len(point) == 2, self.name, f"price point {point!r}")
            ms = _number(point[0], "timestamp")
            usd = _number(point[1], f"{coin_id} price")
            require(usd > 0, self.name, f"{coin_id} price {usd} is not positive")
            points.append((_utc_from_unix(ms / 1000, "timestamp"), usd))
        require(
            all(a[0] < b[0] for a, b in zip(points, points[1:], strict=False)),
            self.name,
            "prices out of order",
        )
        return points

    async def daily_prices(self, symbol: str, *, days: int = 30) -> list[Decimal]:
        """One price per UTC day (the first point of each day), oldest first, for daily log returns.

        CoinGecko's daily series ends with an intraday "now" point; keeping it would add a partial-day return
        to a series of whole days, so the first point of each UTC date wins.
        """
        closes: dict[date, Decimal] = {}
        for at, usd in await self.market_chart(symbol, days=days):
            closes.setdefault(at.date(), usd)
        return list(closes.values())

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            return await self._http.get(f"{self.base_url}{path}", params=params)
        except SourceError as exc:
            # HttpJson words every HTTP error as "HTTP <code>: <detail>".
            if exc.reason.startswith("HTTP 429"):
                raise CoinGeckoRateLimited(
                    self.name, "rate limited (HTTP 429): CoinGecko's per-minute call limit is used up"
                ) from None
            raise


__all__ = [
    "COINGECKO_API_URL",
    "COINGECKO_IDS",
    "COINGECKO_PRO_API_URL",
    "CoinGeckoClient",
    "CoinGeckoRateLimited",
    "SpotPrice",
]
