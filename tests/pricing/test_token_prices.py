"""TokenPriceService and CoinGeckoClient against the fake CoinGecko (devnet/coingecko_api.py).

The fake is mounted with httpx.ASGITransport and shares the test's clock, so TTLs, the rate budget and
back-offs are exercised by moving the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from devnet.coingecko_api import (
    RATE_LIMIT_BODY,
    FakeCoinGecko,
    build_coingecko_app,
    price_history,
    spot_prices,
)
from tools.pricing.sources import SourceError
from tools.pricing.sources.coingecko import (
    COINGECKO_PRO_API_URL,
    CoinGeckoClient,
    CoinGeckoRateLimited,
)
from tools.pricing.token_service import RateBudget, TokenPriceService
from tools.pricing.tokens import TokenPriceProvider, TokenPriceUnavailable

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BASE = "http://coingecko.test"
D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedOracle:
    """Stands in for the chain backend's ``akt_usd``: answers ``usd`` or raises ``error``; counts calls."""

    def __init__(self, usd: Decimal | None = D("1.31"), error: Exception | None = None) -> None:
        self.usd = usd
        self.error = error
        self.calls = 0

    async def __call__(self) -> Decimal | None:
        self.calls += 1
        await asyncio.sleep(0)  # a real oracle call yields to the loop
        if self.error is not None:
            raise self.error
        return self.usd


def make(
    *, oracle: ScriptedOracle | None = None, seed: int = 0, **service_kwargs
) -> tuple[TokenPriceService, FakeCoinGecko, Clock]:
    clock = Clock()
    app = build_coingecko_app(seed, clock=clock)
    client = CoinGeckoClient(BASE, transport=httpx.ASGITransport(app=app), retries=0)
    service = TokenPriceService(oracle=oracle, coingecko=client, clock=clock, **service_kwargs)
    return service, app.state.coingecko, clock


def coingecko_with(response: httpx.Response | Exception) -> CoinGeckoClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    return CoinGeckoClient(BASE, transport=httpx.MockTransport(handler), retries=0)


# --- the fake ------------------------------------------------------------------------------------------


async def test_fake_speaks_coingeckos_shapes():
    app = build_coingecko_app(0, clock=lambda: NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        spot = await http.get(
            "/api/v3/simple/price",
            params={"ids": "akash-network,nope", "vs_currencies": "usd", "include_last_updated_at": "true"},
        )
        chart = await http.get(
            "/api/v3/coins/io-net/market_chart",
            params={"vs_currency": "usd", "days": "30", "interval": "daily"},
        )
        unknown = await http.get(
            "/api/v3/coins/nope/market_chart", params={"vs_currency": "usd", "days": "30"}
        )
        app.state.coingecko.fail = "rate_limit"
        limited = await http.get("/api/v3/simple/price", params={"ids": "io-net", "vs_currencies": "usd"})
    assert spot.json() == {
        "akash-network": {
            "usd": float(spot_prices(0)["akash-network"]),
            "last_updated_at": int(NOW.timestamp()) - 20,
        }
    }
    body = chart.json()
    assert set(body) == {"prices", "market_caps", "total_volumes"}
    assert len(body["prices"]) == 31  # 30 UTC midnights, then "now"
    midnight_ms = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    assert body["prices"][-2][0] == midnight_ms and body["prices"][0][0] == midnight_ms - 29 * 86_400_000
    assert body["prices"][-1] == [int(NOW.timestamp() * 1000), float(spot_prices(0)["io-net"])]
    assert unknown.status_code == 404 and unknown.json() == {"error": "coin not found"}
    assert limited.status_code == 429 and limited.json() == RATE_LIMIT_BODY
    assert limited.headers["retry-after"] == "60"
    assert app.state.coingecko.requests == {"simple/price": 2, "market_chart": 2}


def test_fake_prices_are_deterministic_per_seed():
    assert price_history(4) == price_history(4) and spot_prices(4) == spot_prices(4)
    assert spot_prices(0) != spot_prices(1)
    assert all(len(series) == 30 and min(series) > 0 for series in price_history(0).values())


# --- the client -----------------------------------------------------------------------------------------


async def test_client_reads_spot_prices_and_daily_series():
    app = build_coingecko_app(0, clock=lambda: NOW)
    client = CoinGeckoClient(BASE, "demo-key", transport=httpx.ASGITransport(app=app))
    prices = await client.simple_price(["akt", "RENDER", "IO"])
    assert app.state.coingecko.headers["x-cg-demo-api-key"] == "demo-key"
    assert set(prices) == {"AKT", "RENDER", "IO"}
    assert prices["RENDER"].usd == spot_prices(0)["render-token"]
    assert prices["RENDER"].last_updated_at == NOW - timedelta(seconds=20)
    # the intraday "now" point shares today's date with the last midnight and is dropped
    assert await client.daily_prices("IO") == price_history(0)["io-net"]


def test_client_picks_the_key_header_from_the_plan():
    assert CoinGeckoClient(api_key="k")._http.headers == {"x-cg-demo-api-key": "k"}
    assert CoinGeckoClient(COINGECKO_PRO_API_URL, "k")._http.headers == {"x-cg-pro-api-key": "k"}
    assert CoinGeckoClient(BASE, "k", plan="pro")._http.headers == {"x-cg-pro-api-key": "k"}
    assert CoinGeckoClient()._http.headers == {}  # keyless public API


async def test_pro_key_goes_in_the_pro_header():
    app = build_coingecko_app(0, clock=lambda: NOW)
    client = CoinGeckoClient(COINGECKO_PRO_API_URL, "pro-key", transport=httpx.ASGITransport(app=app))
    await client.simple_price(["AKT"])
    assert app.state.coingecko.headers["x-cg-pro-api-key"] == "pro-key"
    assert "x-cg-demo-api-key" not in app.state.coingecko.headers


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>Just a moment...</html>"),
        httpx.Response(200, json=["akash-network", 1.2]),
        httpx.Response(200, json={"akash-network": 1.2}),
        httpx.Response(200, json={"akash-network": {"usd": 1.2}}),
        httpx.Response(200, json={"akash-network": {"usd": "lots", "last_updated_at": 1772366400}}),
        httpx.Response(200, json={"akash-network": {"usd": True, "last_updated_at": 1772366400}}),
        httpx.Response(200, json={"akash-network": {"usd": -1.2, "last_updated_at": 1772366400}}),
        httpx.Response(200, json={"akash-network": {"usd": 1.2, "last_updated_at": "yesterday"}}),
        httpx.Response(200, json={"akash-network": {"usd": 1.2, "last_updated_at": 0}}),
        httpx.Response(500, json={"error": "Internal Server Error"}),
    ],
)
async def test_simple_price_garbage_is_a_source_error(response):
    with pytest.raises(SourceError) as info:
        await coingecko_with(response).simple_price(["AKT"])
    assert info.value.source == "coingecko"


@pytest.mark.parametrize(
    "body",
    [
        {"market_caps": []},
        {"prices": {"0": 1.2}},
        {"prices": [[1772323200000]]},
        {"prices": [[1772323200000, "abc"]]},
        {"prices": [["midnight", 1.2]]},
        {"prices": [[1772323200000, 0]]},
        {"prices": [[1772323200000, 1.2], [1772236800000, 1.3]]},  # out of order
    ],
)
async def test_market_chart_garbage_is_a_source_error(body):
    with pytest.raises(SourceError, match="unexpected response shape"):
        await coingecko_with(httpx.Response(200, json=body)).market_chart("AKT")


async def test_429_and_timeout_are_source_errors():
    with pytest.raises(CoinGeckoRateLimited, match="rate limited"):
        await coingecko_with(httpx.Response(429, json=RATE_LIMIT_BODY)).simple_price(["AKT"])
    with pytest.raises(SourceError, match="timed out"):
        await coingecko_with(httpx.ReadTimeout("slow")).simple_price(["AKT"])
    with pytest.raises(SourceError, match="HTTP 404: coin not found"):
        await coingecko_with(httpx.Response(404, json={"error": "coin not found"})).market_chart("IO")
    with pytest.raises(SourceError, match="no CoinGecko id known for DOGE"):
        await coingecko_with(httpx.Response(200, json={})).simple_price(["DOGE"])


# --- the service: sources -------------------------------------------------------------------------------


async def test_service_is_a_token_price_provider():
    service, _, _ = make()
    assert isinstance(service, TokenPriceProvider)


async def test_pegged_tokens_need_no_call():
    service, fake, _ = make()
    for symbol in ("USDC", "act"):
        price = await service.price(symbol)
        assert (price.usd, price.sigma_daily, price.source, price.stale) == (D(1), D(0), "pegged", False)
    assert sum(fake.requests.values()) == 0


async def test_akt_comes_from_the_oracle_first():
    oracle = ScriptedOracle(D("1.31"))
    service, fake, _ = make(oracle=oracle)
    price = await service.price("AKT")
    assert (price.symbol, price.usd, price.source, price.stale) == ("AKT", D("1.31"), "akash-oracle", False)
    assert price.observed_at == NOW and price.ttl_s == 60
    assert price.sigma_daily is not None  # volatility still comes from CoinGecko's series
    assert oracle.calls == 1 and fake.requests == {"market_chart": 1}


@pytest.mark.parametrize(
    "oracle",
    [
        ScriptedOracle(None),
        ScriptedOracle(error=RuntimeError("node down")),
        ScriptedOracle(D(0)),
    ],
    ids=["none", "raises", "zero"],
)
async def test_akt_falls_back_to_coingecko(oracle):
    service, fake, _ = make(oracle=oracle)
    price = await service.price("AKT")
    assert (price.usd, price.source, price.stale) == (spot_prices(0)["akash-network"], "coingecko", False)
    assert price.observed_at == NOW - timedelta(seconds=20)  # CoinGecko's last_updated_at
    assert fake.requests["simple/price"] == 1


async def test_oracle_failure_is_not_retried_on_every_call():
    oracle = ScriptedOracle(None)
    service, _, clock = make(oracle=oracle)
    await service.price("AKT")
    clock.advance(10)
    await service.price("AKT")
    assert oracle.calls == 1
    clock.advance(6)  # past the 15 s pause
    oracle.usd = D("1.40")
    assert (await service.price("AKT")).source == "akash-oracle" and oracle.calls == 2


async def test_oracle_price_is_cached_for_its_ttl():
    oracle = ScriptedOracle(D("1.31"))
    service, _, clock = make(oracle=oracle)
    await service.price("AKT")
    clock.advance(59)
    await service.price("AKT")
    assert oracle.calls == 1
    clock.advance(1)
    oracle.usd = D("1.29")
    assert (await service.price("AKT")).usd == D("1.29") and oracle.calls == 2


async def test_unknown_symbol_and_no_source_are_unavailable():
    service, _, _ = make()
    with pytest.raises(TokenPriceUnavailable, match="no price source for it"):
        await service.price("DOGE")
    with pytest.raises(TokenPriceUnavailable) as info:
        await TokenPriceService().price("AKT")
    assert info.value.symbol == "AKT"


async def test_unavailable_carries_each_sources_reason():
    service, fake, _ = make(oracle=ScriptedOracle(None))
    fake.fail = "server_error"
    with pytest.raises(TokenPriceUnavailable) as info:
        await service.price("AKT")
    assert "akash-oracle: returned no price" in info.value.reason
    assert "coingecko: HTTP 500: Internal Server Error" in info.value.reason


async def test_a_coin_missing_from_the_answer_is_unavailable_alone():
    service, fake, _ = make()
    del fake.spot["io-net"]
    with pytest.raises(TokenPriceUnavailable, match="CoinGecko answered no price for io-net"):
        await service.price("IO")
    assert (await service.price("RENDER")).usd == spot_prices(0)["render-token"]
    assert fake.requests["simple/price"] == 1


# --- the service: cache, staleness ----------------------------------------------------------------------


async def test_cache_hit_within_ttl_and_one_call_for_all_symbols():
    service, fake, clock = make()
    first = await service.price("RENDER")
    clock.advance(59)
    again = await service.price("RENDER")
    io = await service.price("IO")
    akt = await service.price("AKT")
    assert first == again and not again.stale
    assert (io.usd, akt.usd) == (spot_prices(0)["io-net"], spot_prices(0)["akash-network"])
    assert fake.requests["simple/price"] == 1  # one batched simple/price call for every symbol
    assert fake.requests["market_chart"] == 3  # one series per symbol


async def test_refresh_after_ttl():
    service, fake, clock = make()
    await service.price("RENDER")
    fake.spot["render-token"] = D("4.5")
    clock.advance(60)
    price = await service.price("RENDER")
    assert (price.usd, price.stale, price.observed_at) == (D("4.5"), False, clock.now - timedelta(seconds=20))
    assert fake.requests == {"simple/price": 2, "market_chart": 1}  # sigma lives 6 h
    clock.advance(6 * 3600)
    await service.price("RENDER")
    assert fake.requests == {"simple/price": 3, "market_chart": 2}


async def test_failed_refresh_serves_the_last_price_flagged_stale():
    service, fake, clock = make()
    fresh = await service.price("IO")
    fake.fail = "server_error"
    clock.advance(61)
    stale = await service.price("IO")
    assert stale.stale and (stale.usd, stale.source, stale.observed_at) == (
        fresh.usd,
        "coingecko",
        fresh.observed_at,
    )
    assert stale.sigma_daily == fresh.sigma_daily
    assert stale.note().endswith("(coingecko, stale)")
    fake.fail = None
    clock.advance(15)  # the failure pause is over
    assert not (await service.price("IO")).stale


async def test_stale_akt_prefers_the_most_recent_source():
    oracle = ScriptedOracle(None)
    service, fake, clock = make(oracle=oracle)
    await service.price("AKT")  # CoinGecko at NOW
    clock.advance(30)
    oracle.usd = D("1.50")
    clock.advance(1)
    # CoinGecko is still fresh for 29 s, but the oracle (paused 15 s after its failure) comes first again
    assert (await service.price("AKT")).source == "akash-oracle"
    oracle.usd, fake.fail = None, "server_error"
    clock.advance(120)
    price = await service.price("AKT")
    assert price.stale and (price.source, price.usd) == ("akash-oracle", D("1.50"))


async def test_an_old_source_timestamp_is_flagged_stale():
    service, fake, _ = make()
    fake.update_lag_s = 3600  # CoinGecko's figure is an hour old
    price = await service.price("RENDER")
    assert price.stale and price.observed_at == NOW - timedelta(hours=1)


# --- the service: concurrency and the budget -----------------------------------------------------------


async def test_concurrent_callers_share_one_request():
    oracle = ScriptedOracle(None)
    service, fake, _ = make(oracle=oracle)
    prices = await asyncio.gather(*(service.price("AKT") for _ in range(10)))
    assert len(set(prices)) == 1 and prices[0].source == "coingecko"
    assert oracle.calls == 1
    assert fake.requests == {"simple/price": 1, "market_chart": 1}


async def test_concurrent_symbols_share_one_simple_price_call():
    service, fake, _ = make()
    prices = await asyncio.gather(*(service.price(s) for s in ("AKT", "RENDER", "IO", "AKT", "USDC")))
    assert [p.symbol for p in prices] == ["AKT", "RENDER", "IO", "AKT", "USDC"]
    assert fake.requests == {"simple/price": 1, "market_chart": 3}


async def test_rate_budget_serves_stale_rather_than_exceed_it():
    service, fake, clock = make(calls_per_minute=2, price_ttl_s=10)
    await service.price("RENDER")  # spends both calls: simple/price and market_chart
    clock.advance(11)
    price = await service.price("RENDER")
    assert price.stale and fake.requests == {"simple/price": 1, "market_chart": 1}
    clock.advance(49)  # the first calls leave the one-minute window
    price = await service.price("RENDER")
    assert not price.stale and fake.requests["simple/price"] == 2


async def test_exhausted_budget_with_nothing_cached_is_unavailable():
    service, fake, _ = make(calls_per_minute=0)
    with pytest.raises(TokenPriceUnavailable, match="rate budget of 0 calls/min used up"):
        await service.price("IO")
    assert sum(fake.requests.values()) == 0


def test_rate_budget_window_slides():
    budget = RateBudget(2)
    assert budget.try_spend(NOW) and budget.try_spend(NOW + timedelta(seconds=30))
    assert not budget.try_spend(NOW + timedelta(seconds=59))
    assert budget.seconds_until_free(NOW + timedelta(seconds=59)) == 1
    assert budget.try_spend(NOW + timedelta(seconds=60))


async def test_429_pauses_coingecko_for_a_minute():
    service, fake, clock = make()
    fresh = await service.price("RENDER")
    fake.fail = "rate_limit"
    clock.advance(60)
    assert (await service.price("RENDER")).stale
    assert fake.requests["simple/price"] == 2
    fake.fail = None
    clock.advance(30)
    stale = await service.price("RENDER")  # still cooling down: no call at all
    assert stale.stale and stale.usd == fresh.usd and fake.requests["simple/price"] == 2
    clock.advance(30)
    assert not (await service.price("RENDER")).stale and fake.requests["simple/price"] == 3


async def test_fake_rate_limit_is_reported_as_the_reason():
    service, fake, _ = make()
    fake.limit_per_minute = 0
    with pytest.raises(TokenPriceUnavailable, match=r"coingecko: rate limited \(HTTP 429\)"):
        await service.price("IO")


async def test_timeout_without_cache_is_unavailable():
    service = TokenPriceService(coingecko=coingecko_with(httpx.ConnectTimeout("slow")), clock=Clock())
    with pytest.raises(TokenPriceUnavailable, match="coingecko: timed out"):
        await service.price("RENDER")


async def test_garbage_after_a_good_answer_serves_stale():
    service, fake, clock = make()
    await service.price("AKT")
    fake.fail = "garbage"
    clock.advance(60)
    assert (await service.price("AKT")).stale


# --- the service: volatility ----------------------------------------------------------------------------


async def test_sigma_matches_a_hand_computation():
    service, fake, _ = make()
    fake.history["render-token"] = [D(100), D(200), D(100), D(200)]
    price = await service.price("RENDER")
    # log returns ln2, -ln2, ln2: mean ln2/3; squared deviations (4 + 16 + 4)/9 ln2^2 over n - 1 = 2
    # gives 4/3 ln2^2, so sigma = 2 ln2 / sqrt(3) = 0.8003...
    expected = 2 * D(2).ln() / D(3).sqrt()
    assert abs(price.sigma_daily - expected) < D("1e-25")


async def test_sigma_is_none_when_the_series_cannot_be_had():
    service, fake, clock = make()
    fake.history["io-net"] = [D("0.8"), D("0.9")]  # too short for two returns
    price = await service.price("IO")
    assert price.sigma_daily is None and not price.stale
    assert fake.requests["market_chart"] == 1
    clock.advance(10)
    await service.price("IO")
    assert fake.requests["market_chart"] == 1  # the failure is not retried at once
    fake.history["io-net"] = price_history(0)["io-net"]
    clock.advance(60)
    assert (await service.price("IO")).sigma_daily is not None


async def test_fake_series_gives_a_plausible_sigma():
    service, _, _ = make(seed=3)
    prices = {s: await service.price(s) for s in ("AKT", "RENDER", "IO")}
    assert all(D("0.02") < p.sigma_daily < D("0.12") for p in prices.values())
