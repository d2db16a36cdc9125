"""A fake CoinGecko API: ``simple/price`` and ``coins/{id}/market_chart`` in CoinGecko's response shapes.

The prices are self-authored (a seeded random walk around plausible levels), NOT real market data; they are
deterministic per ``seed`` (and per clock: timestamps follow the injected clock).

- ``GET /api/v3/simple/price?ids=a,b&vs_currencies=usd&include_last_updated_at=true`` ->
  ``{"akash-network": {"usd": 1.2534, "last_updated_at": 1772366380}}``; unknown ids are left out.
- ``GET /api/v3/coins/{id}/market_chart?vs_currency=usd&days=30&interval=daily`` ->
  ``{"prices": [[ms, usd], ...], "market_caps": [...], "total_volumes": [...]}``: one point per UTC midnight
  (the last ``days`` of the history, ending today) and a last point at "now" with the spot price.
  Unknown id -> 404 ``{"error": "coin not found"}``.
- Rate limited -> 429 ``{"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit. ..."}}``
  with ``retry-after: 60``.

Tests steer the fake through ``app.state.coingecko`` (a ``FakeCoinGecko``), no patching: set ``spot[id]``,
``history[id]`` (daily prices, oldest first), ``fail`` (``"rate_limit"``, ``"server_error"``, ``"garbage"``),
``limit_per_minute`` or ``update_lag_s``; read ``requests`` (calls per route) and ``headers`` (the last
request's headers).

Run alone: ``python -m devnet.coingecko_api --port 8788``.
"""

from __future__ import annotations

import argparse
import random
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

# coin id -> (price level in USD, daily sigma of log returns, circulating supply); self-authored.
COINS: dict[str, tuple[Decimal, float, int]] = {
    "akash-network": (Decimal("1.25"), 0.045, 270_000_000),
    "render-token": (Decimal("4.10"), 0.055, 518_000_000),
    "io-net": (Decimal("0.85"), 0.065, 190_000_000),
}
HISTORY_DAYS = 30
UPDATE_LAG_S = 20  # last_updated_at trails the request a little, as CoinGecko's cached figures do
RATE_LIMIT_BODY = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
        "to subscribe to our API plans for higher rate limits.",
    }
}
_TICK = Decimal("0.0001")
Failure = Literal["rate_limit", "server_error", "garbage"]


def price_history(seed: int = 0, days: int = HISTORY_DAYS) -> dict[str, list[Decimal]]:
    """Daily prices per coin id, oldest first (``days`` points): a seeded random walk, not real data."""
    history = {}
    for coin_id, (level, sigma, _) in COINS.items():
        rng = random.Random(f"{seed}:{coin_id}")
        walk = [Decimal(1)]
        for _ in range(days - 1):
            walk.append(walk[-1] * Decimal(str(rng.gauss(0.0, sigma))).exp())
        # the walk ends near the coin's level so every seed stays plausible
        end = level * Decimal(str(round(rng.uniform(0.9, 1.1), 4)))
        history[coin_id] = [(end * step / walk[-1]).quantize(_TICK) for step in walk]
    return history


def spot_prices(seed: int = 0) -> dict[str, Decimal]:
    """The "now" price per coin id: the last daily price moved a little (deterministic per seed)."""
    prices = {}
    for coin_id, series in price_history(seed).items():
        rng = random.Random(f"{seed}:{coin_id}:spot")
        move = Decimal(str(rng.gauss(0.0, COINS[coin_id][1] / 3))).exp()
        prices[coin_id] = (series[-1] * move).quantize(_TICK)
    return prices


class FakeCoinGecko:
    """The fake's mutable state (``app.state.coingecko``)."""

    def __init__(self, seed: int = 0, clock: Callable[[], datetime] | None = None) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.spot = spot_prices(seed)
        self.history = price_history(seed)
        self.fail: Failure | None = None
        self.limit_per_minute: int | None = None
        self.update_lag_s = UPDATE_LAG_S
        self.requests: Counter[str] = Counter()
        self.headers: dict[str, str] = {}
        self._recent: deque[datetime] = deque()

    def refuse(self, request: Request, route: str) -> Response | None:
        """Count the call and answer the configured failure or the rate limit, else None."""
        self.requests[route] += 1
        self.headers = dict(request.headers)
        now = self.clock()
        while self._recent and now - self._recent[0] >= timedelta(seconds=60):
            self._recent.popleft()
        if self.fail == "rate_limit" or (
            self.limit_per_minute is not None and len(self._recent) >= self.limit_per_minute
        ):
            return JSONResponse(RATE_LIMIT_BODY, status_code=429, headers={"retry-after": "60"})
        self._recent.append(now)
        if self.fail == "server_error":
            return JSONResponse({"error": "Internal Server Error"}, status_code=500)
        if self.fail == "garbage":
            return PlainTextResponse("<html><body>Just a moment...</body></html>", status_code=200)
        return None


def build_coingecko_app(seed: int = 0, *, clock: Callable[[], datetime] | None = None) -> Starlette:
    """A Starlette app serving the fake CoinGecko API; its state is ``app.state.coingecko``."""
    fake = FakeCoinGecko(seed, clock)

    async def simple_price(request: Request) -> Response:
        if (refused := fake.refuse(request, "simple/price")) is not None:
            return refused
        ids = [i.strip().lower() for i in request.query_params.get("ids", "").split(",") if i.strip()]
        currencies = [c.strip().lower() for c in request.query_params.get("vs_currencies", "").split(",")]
        if not ids or not any(currencies):
            return JSONResponse({"error": "Missing parameter ids or vs_currencies"}, status_code=400)
        with_time = request.query_params.get("include_last_updated_at", "").lower() == "true"
        updated = int(fake.clock().timestamp()) - fake.update_lag_s
        body: dict[str, dict[str, float | int]] = {}
        for coin_id in ids:
            if coin_id not in fake.spot:
                continue
            entry: dict[str, float | int] = {}
            if "usd" in currencies:  # the fake only quotes USD
                entry["usd"] = float(fake.spot[coin_id])
            if with_time:
                entry["last_updated_at"] = updated
            body[coin_id] = entry
        return JSONResponse(body)

    async def market_chart(request: Request) -> Response:
        if (refused := fake.refuse(request, "market_chart")) is not None:
            return refused
        coin_id = request.path_params["coin_id"].lower()
        if coin_id not in fake.history or coin_id not in fake.spot:
            return JSONResponse({"error": "coin not found"}, status_code=404)
        if request.query_params.get("vs_currency", "").lower() != "usd":
            return JSONResponse({"error": "invalid vs_currency"}, status_code=400)
        raw_days = request.query_params.get("days", "")
        if raw_days != "max" and not raw_days.isdigit():
            return JSONResponse({"error": "invalid days"}, status_code=400)
        series = fake.history[coin_id]
        if raw_days != "max":
            series = series[-int(raw_days) :] if int(raw_days) else []
        now = fake.clock()
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        points = [
            (midnight - timedelta(days=len(series) - 1 - i), price) for i, price in enumerate(series)
        ] + [(now, fake.spot[coin_id])]
        supply = COINS.get(coin_id, (Decimal(0), 0.0, 100_000_000))[2]
        body = {"prices": [], "market_caps": [], "total_volumes": []}
        for at, price in points:
            ms = int(at.timestamp() * 1000)
            body["prices"].append([ms, float(price)])
            body["market_caps"].append([ms, float(price * supply)])
            body["total_volumes"].append([ms, float(price * supply / 40)])
        return JSONResponse(body)

    app = Starlette(
        routes=[
            Route("/api/v3/simple/price", simple_price, methods=["GET"]),
            Route("/api/v3/coins/{coin_id}/market_chart", market_chart, methods=["GET"]),
        ]
    )
    app.state.coingecko = fake
    return app


def main() -> None:  # pragma: no cover - manual use
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(build_coingecko_app(args.seed), host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
