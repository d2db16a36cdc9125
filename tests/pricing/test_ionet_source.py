"""IonetSource against the fake io.net VMaaS API (devnet/ionet_api.py) mounted with httpx.ASGITransport."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from devnet.ionet_api import HARDWARE_PATH, PRICE_PATH, build_ionet_app, hardware_body, price_body
from tools.pricing.quote import gather_quote
from tools.pricing.sources import SourceError
from tools.pricing.sources.ionet import IonetSource
from tools.pricing.sources.token_exposure import ASSUMED_SIGMA_DAILY
from tools.pricing.tokens import StaticTokenPrices
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal
IO_SIGMA = D("0.05")

Hook = Callable[[httpx.Request], Awaitable[httpx.Response | None]]


class HookedTransport(httpx.AsyncBaseTransport):
    """The fake app behind a hook that may answer (or raise) instead of it: failures for one route."""

    def __init__(self, hook: Hook, seed: int = 0) -> None:
        self.inner = httpx.ASGITransport(app=build_ionet_app(seed))
        self.hook = hook
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        replaced = await self.hook(request)
        if replaced is not None:
            return replaced
        return await self.inner.handle_async_request(request)


async def passthrough(request: httpx.Request) -> None:
    return None


def tokens(**kwargs) -> StaticTokenPrices:
    defaults = dict(prices={"IO": D("0.5")}, now=NOW, sigma_daily={"IO": IO_SIGMA})
    defaults.update(kwargs)
    return StaticTokenPrices(**defaults)


def ionet(
    *, transport: httpx.AsyncBaseTransport | None = None, token_prices=None, seed: int = 0, **kwargs
) -> IonetSource:
    return IonetSource(
        "http://ionet.test",
        "secret",
        tokens=token_prices if token_prices is not None else tokens(),
        transport=transport or httpx.ASGITransport(app=build_ionet_app(seed)),
        retries=0,
        **{"clock": lambda: NOW, **kwargs},
    )


RTX4090_DAY = ComputeRequest(gpu_model="rtx4090", gpu_count=1, hours=24)


# --- the fake -------------------------------------------------------------------------------------------


async def test_fake_api_requires_an_api_key():
    transport = httpx.ASGITransport(app=build_ionet_app())
    query = "?hardware_id=12&location_ids=%5B%22US%22%5D&currency=usdc&duration_hours=1&gpus_per_vm=1&replica_count=1"
    async with httpx.AsyncClient(transport=transport, base_url="http://ionet.test") as client:
        missing = await client.get(HARDWARE_PATH)
        empty = await client.get(PRICE_PATH + query, headers={"x-api-key": " "})
        listing = await client.get(HARDWARE_PATH, headers={"x-api-key": "k"})
        price = await client.get(PRICE_PATH + query, headers={"x-api-key": "k"})
    assert missing.status_code == 401 and empty.status_code == 401
    assert isinstance(missing.json()["detail"], str)
    assert listing.status_code == 200 and listing.json() == hardware_body(0)
    assert price.status_code == 200 and price.json()["data"]["total_cost_usdc"] == 0.3


async def test_fake_api_validates_the_query_like_fastapi():
    transport = httpx.ASGITransport(app=build_ionet_app())
    headers = {"x-api-key": "k"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ionet.test", headers=headers
    ) as client:
        missing = await client.get(PRICE_PATH, params={"hardware_id": "12"})
        bad = await client.get(
            PRICE_PATH,
            params={
                "hardware_id": "12",
                "location_ids": '["US"]',
                "currency": "eth",
                "duration_hours": "0",
                "gpus_per_vm": "1",
                "replica_count": "1",
            },
        )
        unknown = await client.get(
            PRICE_PATH,
            params={
                "hardware_id": "999",
                "location_ids": '["US"]',
                "currency": "usdc",
                "duration_hours": "1",
                "gpus_per_vm": "1",
                "replica_count": "1",
            },
        )
    assert missing.status_code == 422
    assert {tuple(d["loc"]) for d in missing.json()["detail"]} >= {
        ("query", "currency"),
        ("query", "gpus_per_vm"),
    }
    assert bad.status_code == 422
    assert {d["type"] for d in bad.json()["detail"]} == {"enum", "greater_than_equal"}
    assert unknown.status_code == 404 and "not found" in unknown.json()["detail"]


def test_fake_api_is_deterministic_per_seed():
    assert hardware_body(3) == hardware_body(3)
    assert hardware_body(0) != hardware_body(1)
    assert price_body(3, "12", ["US"], "usdc", 5, 2, 1) == price_body(3, "12", ["US"], "usdc", 5, 2, 1)


def test_fake_prices_depend_on_duration_gpus_and_currency():
    one = price_body(0, "12", ["US"], "usdc", 24, 1, 1)["data"]
    two = price_body(0, "12", ["US"], "usdc", 24, 2, 1)["data"]
    io = price_body(0, "12", ["US"], "iocoin", 24, 1, 1)["data"]
    week = price_body(0, "12", ["US"], "usdc", 168, 1, 1)["data"]
    assert (one["total_cost_usdc"], two["total_cost_usdc"]) == (7.2, 14.4)
    assert (one["ionet_fee"], one["currency_conversion_fee"]) == (0.018, 0.144)
    assert (io["total_cost_usdc"], io["currency_conversion_fee"], io["currency_conversion_fee_percent"]) == (
        7.2,
        0,
        0,
    )
    # 0.30 * 168 = 50.40, less 5 % (2.52) = 47.88
    assert (week["discount"], week["total_cost_usdc"]) == (2.52, 47.88)


# --- happy paths, by hand ---------------------------------------------------------------------------------


async def test_usdc_offer_by_hand():
    offers = await ionet().fetch(RTX4090_DAY)
    usdc = next(o for o in offers if o.offer_id == "ionet:12:1x:US:usdc")
    # 24 h prepaid at 0.30 USD/GPU-hour: total_cost_usdc = 0.30 * 24 = 7.20
    # fees: io.net 0.25 % = 0.018, USDC conversion 2 % = 0.144; sigma(USDC) = 0
    # usd_total = 7.20 * (1 + 1.65 * 0 * sqrt(1)) + 0.018 + 0.144 = 7.362; per hour 7.362 / 24 = 0.30675
    assert usdc.usd_total == D("7.362") and usdc.usd_per_hour == D("0.30675")
    assert usdc.pricing_model == "token" and usdc.source == "ionet" and usdc.provider == "io.net"
    assert (usdc.gpu_model, usdc.gpu_count, usdc.gpu_memory_gib) == ("rtx4090", 1, 24.0)
    assert (usdc.cpu, usdc.memory_gib, usdc.storage_gib) == (12.0, 48.0, 500.0)
    assert (usdc.region, usdc.provider_region) == ("us", "US")
    assert usdc.capacity_available is True and not usdc.estimate and not usdc.deployable
    assert usdc.ttl_s == 600 and usdc.observed_at == NOW
    assert usdc.inputs["total_cost_usdc"] == "7.2" and usdc.inputs["fees_usd"] == "0.162"
    assert usdc.inputs["duration_hours"] == "24" and usdc.inputs["sigma_daily"] == "0"
    assert usdc.inputs["hardware_id"] == "12" and usdc.inputs["currency"] == "usdc"
    assert "token_usd" not in usdc.inputs
    # 0.30675 / (0.75 * 0.165)
    assert usdc.usd_per_effective_pflop_hour == D("0.30675") / D("0.12375")


async def test_iocoin_offer_by_hand():
    offers = await ionet().fetch(RTX4090_DAY)
    io = next(o for o in offers if o.offer_id == "ionet:12:1x:US:iocoin")
    # total_cost_usdc 7.20, io.net fee 0.018, no conversion fee for IO coin; sigma(IO) = 0.05, d = 24/24 = 1
    # usd_total = 7.20 * (1 + 1.65 * 0.05 * sqrt(1)) + 0.018 = 7.20 * 1.0825 + 0.018 = 7.794 + 0.018 = 7.812
    # per hour 7.812 / 24 = 0.3255; IO to buy: (7.20 + 0.018) / 0.5 = 14.436
    assert io.usd_total == D("7.812") and io.usd_per_hour == D("0.3255")
    assert io.inputs["sigma_daily"] == "0.05" and io.inputs["days"] == "1" and io.inputs["z"] == "1.65"
    assert io.inputs["fees_usd"] == "0.018" and io.inputs["currency_conversion_fee"] == "0.0"
    assert io.inputs["token_usd"] == "0.5" and D(io.inputs["io_amount"]) == D("14.436")
    assert io.inputs["token_stale"] == "False" and io.inputs["sigma_source"] == "provider"
    assert "token price: IO $0.5 (static)" in io.notes


async def test_long_job_gets_the_duration_discount():
    offers = await ionet(currencies=["usdc"]).fetch(ComputeRequest(gpu_model="rtx4090", hours=168))
    usdc = next(o for o in offers if o.offer_id == "ionet:12:1x:US:usdc")
    # 0.30 * 168 = 50.40, less 5 % = 47.88; fees 0.1197 + 0.9576 -> 48.9573
    assert usdc.inputs["discount"] == "2.52" and usdc.usd_total == D("48.9573")


async def test_only_matching_configurations_are_priced():
    transport = HookedTransport(passthrough)
    offers = await ionet(transport=transport).fetch(RTX4090_DAY)
    listing = [
        h for h in hardware_body(0)["data"]["hardware"] if h["deploy_id"] == 12 and h["num_cards"] == 1
    ]
    available = [h for h in listing if not h["sold_out"]]
    sold_out = [h for h in listing if h["sold_out"]]
    assert sold_out, "seed 0 should sell out some RTX 4090 locations"
    assert len(offers) == 2 * len(available) + len(sold_out)
    assert {o.gpu_model for o in offers} == {"rtx4090"} and {o.gpu_count for o in offers} == {1}
    price_calls = [r for r in transport.requests if r.url.path == PRICE_PATH]
    assert len(price_calls) == 2 * len(available)
    assert all(r.headers["x-api-key"] == "secret" for r in transport.requests)
    call = price_calls[0].url.params
    assert (call["hardware_id"], call["gpus_per_vm"], call["replica_count"]) == ("12", "1", "1")
    assert call["location_ids"].startswith('["') and call["duration_hours"] == "24"


async def test_sold_out_configurations_are_listed_unquoted():
    offers = await ionet().fetch(ComputeRequest(gpu_model="h100", gpu_count=8, hours=1))
    au = next(o for o in offers if o.provider_region == "AU")
    assert au.offer_id == "ionet:8H100.80S.176V:8x:AU:list"
    assert au.capacity_available is False and au.estimate is True
    assert au.usd_per_hour == D("16.8") and au.region == "au-southeast"
    assert au.notes[0].startswith("sold out right now")


async def test_region_filter_and_hours_round_up_to_the_hour():
    transport = HookedTransport(passthrough)
    request = ComputeRequest(gpu_model="rtx4090", hours=1.5, region="us")
    offers = await ionet(transport=transport).fetch(request)
    assert {o.provider_region for o in offers} == {"US"}
    assert {r.url.params["duration_hours"] for r in transport.requests if r.url.path == PRICE_PATH} == {"2"}
    usdc = next(o for o in offers if o.offer_id.endswith(":usdc"))
    # 2 prepaid hours: 0.60 + 0.0015 + 0.012 = 0.6135
    assert usdc.usd_total == D("0.6135") and usdc.inputs["hours"] == "1.5"


async def test_cpu_only_requests_get_nothing():
    transport = HookedTransport(passthrough)
    assert await ionet(transport=transport).fetch(ComputeRequest(hours=3)) == []
    assert transport.requests == []


async def test_quote_ranks_usdc_below_iocoin_for_cheapest():
    quote = await gather_quote(
        ComputeRequest(gpu_model="rtx4090", hours=24, objective="cheapest", region="us"), [ionet()], now=NOW
    )
    assert quote.ranking.best.offer.offer_id == "ionet:12:1x:US:usdc"
    assert [r.offer.offer_id for r in quote.offers][:2] == ["ionet:12:1x:US:usdc", "ionet:12:1x:US:iocoin"]


async def test_usdc_only_never_asks_for_a_token_price():
    class NoPrices:
        async def price(self, symbol):
            raise AssertionError("IO price requested")

    offers = await ionet(currencies=["usdc"], token_prices=NoPrices()).fetch(RTX4090_DAY)
    assert offers and not any(o.offer_id.endswith(":iocoin") for o in offers)


async def test_price_calls_are_bounded():
    in_flight = 0
    peak = 0

    async def slow(request: httpx.Request) -> None:
        nonlocal in_flight, peak
        if request.url.path == PRICE_PATH:
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
        return None

    offers = await ionet(transport=HookedTransport(slow), max_concurrency=2).fetch(RTX4090_DAY)
    assert offers and peak == 2


async def test_max_configs_limits_price_calls_with_a_note():
    transport = HookedTransport(passthrough)
    offers = await ionet(transport=transport, max_configs=1, currencies=["usdc"]).fetch(RTX4090_DAY)
    assert len([r for r in transport.requests if r.url.path == PRICE_PATH]) == 1
    assert len(offers) == 1
    assert any("not priced (only the 1 cheapest" in n for n in offers[0].notes)


# --- failure modes ----------------------------------------------------------------------------------------


async def test_timeout_is_a_source_error():
    async def hang(request: httpx.Request) -> None:
        raise httpx.ReadTimeout("too slow", request=request)

    with pytest.raises(SourceError, match="timed out"):
        await ionet(transport=HookedTransport(hang)).fetch(RTX4090_DAY)


async def test_missing_key_is_a_source_error():
    src = IonetSource("http://ionet.test", "", transport=httpx.ASGITransport(app=build_ionet_app()))
    with pytest.raises(SourceError, match="HTTP 401: Invalid or missing API key"):
        await src.fetch(RTX4090_DAY)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"detail": "Internal Server Error"}),
        httpx.Response(503, text="busy"),
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"data": {"hardware": "none"}}),
        httpx.Response(200, json={"data": {"hardware": [{"id": "x", "name": "H100"}]}}),
        httpx.Response(
            200,
            json={
                "data": {
                    "hardware": [
                        {
                            "id": "x",
                            "deploy_id": 1,
                            "name": "H100",
                            "num_cards": 1,
                            "supplier": "",
                            "price": "lots",
                        }
                    ]
                }
            },
        ),
    ],
)
async def test_bad_hardware_list_is_a_source_error(response):
    src = IonetSource("http://ionet.test", "k", transport=httpx.MockTransport(lambda r: response), retries=0)
    with pytest.raises(SourceError):
        await src.fetch(RTX4090_DAY)


@pytest.mark.parametrize(
    "failure, reason",
    [
        (
            lambda r: httpx.Response(500, json={"detail": "pricing backend down"}),
            "HTTP 500: pricing backend down",
        ),
        (lambda r: httpx.Response(200, json={"data": {"total_cost_usdc": 1}}), "unexpected price response"),
        (lambda r: httpx.Response(200, text="garbage"), "non-JSON"),
    ],
)
async def test_one_failing_price_call_skips_that_offer_only(failure, reason):
    async def fail_de(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == PRICE_PATH and request.url.params["location_ids"] == '["DE"]':
            return failure(request)
        return None

    offers = await ionet(transport=HookedTransport(fail_de)).fetch(RTX4090_DAY)
    healthy = {o.offer_id: o for o in await ionet().fetch(RTX4090_DAY)}
    assert {o.offer_id for o in offers} == set(healthy) - {"ionet:12:1x:DE:usdc", "ionet:12:1x:DE:iocoin"}
    us = next(o for o in offers if o.offer_id == "ionet:12:1x:US:usdc")
    assert us.usd_total == healthy[us.offer_id].usd_total
    skipped = [n for n in us.notes if "in DE" in n]
    assert len(skipped) == 2 and all(reason in n for n in skipped)


async def test_a_timed_out_price_call_is_skipped():
    async def slow_us_iocoin(request: httpx.Request) -> None:
        if request.url.path == PRICE_PATH and request.url.params["currency"] == "iocoin":
            if request.url.params["location_ids"] == '["US"]':
                raise httpx.ReadTimeout("too slow", request=request)
        return None

    offers = await ionet(transport=HookedTransport(slow_us_iocoin)).fetch(RTX4090_DAY)
    ids = {o.offer_id for o in offers}
    assert "ionet:12:1x:US:usdc" in ids and "ionet:12:1x:US:iocoin" not in ids
    assert any("(iocoin) not quoted: timed out" in n for n in offers[0].notes)


async def test_every_price_call_failing_is_a_source_error():
    async def fail_all(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(500, json={"detail": "down"}) if request.url.path == PRICE_PATH else None

    with pytest.raises(SourceError, match="every price call failed"):
        await ionet(transport=HookedTransport(fail_all)).fetch(RTX4090_DAY)


async def test_stale_io_price_is_flagged():
    offers = await ionet(token_prices=tokens(stale=frozenset({"IO"}))).fetch(RTX4090_DAY)
    io = next(o for o in offers if o.offer_id == "ionet:12:1x:US:iocoin")
    assert io.inputs["token_stale"] == "True"
    assert any(n.startswith("IO/USD price is stale") for n in io.notes)
    assert io.usd_total == D("7.812")  # still priced, with the note
    usdc = next(o for o in offers if o.offer_id == "ionet:12:1x:US:usdc")
    assert not any("stale" in n for n in usdc.notes)


async def test_missing_io_price_skips_iocoin_with_a_note():
    offers = await ionet(token_prices=tokens(prices={})).fetch(RTX4090_DAY)
    assert offers and not any(o.offer_id.endswith(":iocoin") for o in offers)
    usdc = next(o for o in offers if o.offer_id == "ionet:12:1x:US:usdc")
    assert usdc.usd_total == D("7.362")
    assert any(n.startswith("IO-coin quotes skipped: no IO/USD price (no static price)") for n in usdc.notes)


async def test_no_token_provider_skips_iocoin_with_a_note():
    src = IonetSource("http://ionet.test", "k", transport=httpx.ASGITransport(app=build_ionet_app()))
    offers = await src.fetch(RTX4090_DAY)
    assert offers and all(o.offer_id.endswith((":usdc", ":list")) for o in offers)
    assert any("no token price provider configured" in n for n in offers[0].notes)


async def test_unknown_io_volatility_uses_the_assumed_sigma_with_a_note():
    offers = await ionet(token_prices=tokens(sigma_daily={})).fetch(RTX4090_DAY)
    io = next(o for o in offers if o.offer_id == "ionet:12:1x:US:iocoin")
    # 7.20 * (1 + 1.65 * 0.06 * 1) + 0.018 = 7.20 * 1.099 + 0.018 = 7.9128 + 0.018 = 7.9308
    assert ASSUMED_SIGMA_DAILY == D("0.06") and io.usd_total == D("7.9308")
    assert io.inputs["sigma_source"] == "assumed"
    assert any(n.startswith("IO volatility unknown") for n in io.notes)


# --- determinism -------------------------------------------------------------------------------------------


async def test_same_inputs_give_the_same_offers():
    request = ComputeRequest(gpu_count=1, hours=30)
    first = await ionet().fetch(request)
    second = await ionet().fetch(request)
    assert [o.model_dump_json() for o in first] == [o.model_dump_json() for o in second]
    assert [o.offer_id for o in first] == sorted(o.offer_id for o in first)
    assert len({o.offer_id for o in first}) == len(first)


def test_constructor_rejects_unknown_currencies():
    with pytest.raises(ValueError):
        IonetSource(currencies=["eth"])  # type: ignore[list-item]


async def test_duplicate_list_entries_get_one_quote():
    body = hardware_body(0)
    us = next(h for h in body["data"]["hardware"] if h["id"] == "12__1__US")
    body["data"]["hardware"].append({**us, "id": "12__1__US__partner", "supplier": "external", "price": 0.9})
    listing = httpx.Response(200, json=body)

    async def duplicated(request: httpx.Request) -> httpx.Response | None:
        return listing if request.url.path == HARDWARE_PATH else None

    offers = await ionet(transport=HookedTransport(duplicated)).fetch(RTX4090_DAY)
    us_offers = [o for o in offers if o.provider_region == "US"]
    assert [o.offer_id for o in us_offers] == ["ionet:12:1x:US:iocoin", "ionet:12:1x:US:usdc"]
    assert {o.inputs["hardware_item_id"] for o in us_offers} == {"12__1__US"}


async def test_price_answers_are_reused_for_a_minute_with_their_own_time():
    from datetime import timedelta

    clock = {"now": NOW}
    transport = HookedTransport(passthrough)
    source = ionet(transport=transport, clock=lambda: clock["now"])
    request = ComputeRequest(gpu_model="rtx4090", gpu_count=1, hours=10)

    first = await source.fetch(request)
    price_calls = sum(1 for r in transport.requests if r.url.path == PRICE_PATH)
    assert first and price_calls > 0

    clock["now"] = NOW + timedelta(seconds=30)
    second = await source.fetch(request)
    assert sum(1 for r in transport.requests if r.url.path == PRICE_PATH) == price_calls  # from the cache
    priced = [o for o in second if o.capacity_available is not False]
    assert priced and all(o.observed_at == NOW for o in priced)  # as old as the answer, not the fetch
    assert [o.usd_total for o in second] == [o.usd_total for o in first]

    clock["now"] = NOW + timedelta(seconds=61)
    await source.fetch(request)
    assert sum(1 for r in transport.requests if r.url.path == PRICE_PATH) == 2 * price_calls
