"""RenderSource against the fake Render price document (devnet/render_api.py) via httpx.ASGITransport."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from devnet.render_api import PRICES_PATH, build_render_app, prices_body
from tools.pricing.quote import gather_quote
from tools.pricing.sources import SourceError
from tools.pricing.sources.render import MAX_EXPOSURE_DAYS, RenderSource
from tools.pricing.tokens import StaticTokenPrices
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal
URL = "http://render.test" + PRICES_PATH
RENDER_SIGMA = D("0.04")


def tokens(**kwargs) -> StaticTokenPrices:
    defaults = dict(prices={"RENDER": D("4")}, now=NOW, sigma_daily={"RENDER": RENDER_SIGMA})
    defaults.update(kwargs)
    return StaticTokenPrices(**defaults)


def render(*, token_prices=None, seed: int = 0, clock=lambda: NOW, transport=None) -> RenderSource:
    return RenderSource(
        URL,
        tokens=token_prices if token_prices is not None else tokens(),
        transport=transport or httpx.ASGITransport(app=build_render_app(seed)),
        clock=clock,
        retries=0,
    )


def by_id(offers):
    return {o.offer_id: o for o in offers}


# --- the fake -------------------------------------------------------------------------------------------


async def test_fake_serves_a_labelled_document():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_render_app())) as client:
        response = await client.get(URL)
    body = response.json()
    assert response.status_code == 200 and body == prices_body(0)
    assert "not live prices" in body["note"] and body["currency"] == "USD"
    assert {g["model"] for g in body["gpus"]} == {"RTX 4090", "RTX 3090", "RTX 5090"}


def test_fake_is_deterministic_per_seed():
    assert prices_body(5) == prices_body(5)
    assert prices_body(0) != prices_body(1)
    assert all(
        g["available"] >= 8 for s in range(10) for g in prices_body(s)["gpus"] if g["model"] == "RTX 4090"
    )


# --- happy paths, by hand ---------------------------------------------------------------------------------


async def test_render_offer_by_hand():
    offers = by_id(await render().fetch(ComputeRequest(gpu_model="rtx4090", hours=96)))
    offer = offers["render:rtx-4090:1x:us-east"]
    # 0.35 USD/GPU-hour x 1 GPU x 96 h = 33.60; d = 96 / 24 = 4 days, sqrt(4) = 2; sigma(RENDER) = 0.04
    # usd_total = 33.60 * (1 + 1.65 * 0.04 * 2) = 33.60 * 1.132 = 38.0352; per hour 38.0352 / 96 = 0.3962
    # RENDER to buy: 33.60 / 4 = 8.4
    assert offer.usd_total == D("38.0352") and offer.usd_per_hour == D("0.3962")
    assert offer.inputs["usd_list"] == "33.60" and offer.inputs["days"] == "4"
    assert offer.inputs["sigma_daily"] == "0.04" and offer.inputs["z"] == "1.65"
    assert D(offer.inputs["render_amount"]) == D("8.4") and offer.inputs["token_usd"] == "4"
    assert offer.pricing_model == "token" and offer.source == "render" and offer.provider == "Render"
    assert offer.estimate is True and offer.capacity_available is True and not offer.deployable
    assert (offer.gpu_model, offer.gpu_count, offer.gpu_memory_gib) == ("rtx4090", 1, 24.0)
    assert (offer.cpu, offer.memory_gib, offer.storage_gib) == (8.0, 32.0, None)
    assert (offer.region, offer.provider_region) == ("us-east", "us-east")
    assert offer.ttl_s == 600 and offer.observed_at == NOW
    assert "token price: RENDER $4 (static)" in offer.notes
    assert offers["render:rtx-4090:1x:eu-central"].usd_total == offer.usd_total


async def test_multi_gpu_offers_scale_the_per_gpu_price():
    offers = by_id(await render().fetch(ComputeRequest(gpu_model="rtx3090", gpu_count=2, hours=24)))
    offer = offers["render:rtx-3090:2x:us-west"]
    # 2 x 0.31 = 0.62 USD/h x 24 h = 14.88; d = 1: 14.88 * (1 + 1.65 * 0.04) = 14.88 * 1.066 = 15.86208
    assert offer.usd_total == D("15.86208") and offer.usd_per_hour == D("0.66092")
    assert (offer.gpu_count, offer.cpu, offer.memory_gib) == (2, 12.0, 48.0)
    assert any("2 GPUs assumed available to one job" in n for n in offer.notes)


async def test_a_published_range_is_quoted_at_its_top():
    offers = by_id(await render().fetch(ComputeRequest(gpu_model="rtx5090", hours=24)))
    offer = offers["render:rtx-5090:1x:any"]
    # 0.69 x 24 = 16.56 * 1.066 = 17.65296
    assert offer.usd_total == D("17.65296") and offer.region is None
    assert offer.inputs["usd_per_gpu_hour"] == "0.45" and offer.inputs["usd_per_gpu_hour_used"] == "0.69"
    assert "published range $0.45-$0.69 per GPU-hour; quoted at the top" in offer.notes
    assert offer.capacity_available is False  # seed 0: none free


async def test_exposure_is_capped_at_thirty_days():
    offers = by_id(await render().fetch(ComputeRequest(gpu_model="rtx4090", hours=24 * 60)))
    offer = offers["render:rtx-4090:1x:us-east"]
    assert MAX_EXPOSURE_DAYS == 30 and offer.inputs["days"] == "30"
    # 0.35 x 1440 = 504, exposed for 30 days, not 60
    assert offer.usd_total == D(504) * (1 + D("1.65") * RENDER_SIGMA * D(30).sqrt())
    assert any("(capped at 30 days)" in n for n in offer.notes)


async def test_billing_increment_comes_from_the_document():
    offers = by_id(await render().fetch(ComputeRequest(gpu_model="rtx4090", hours=1.01)))
    offer = offers["render:rtx-4090:1x:us-east"]
    # 1.01 h = 60.6 min -> 61 min billed (increment 60 s): 0.35 * 61 / 60
    assert offer.inputs["billing_increment_s"] == "60"
    assert D(offer.inputs["usd_list"]) == D("0.35") * D(3660) / D(3600)


async def test_quote_ranks_render_with_ionet_style_token_offers():
    request = ComputeRequest(gpu_model="rtx4090", hours=96, objective="cheapest", region="us")
    quote = await gather_quote(request, [render()], now=NOW)
    assert quote.ranking.best.offer.offer_id == "render:rtx-4090:1x:us-east"


async def test_cpu_only_requests_get_nothing():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, json=prices_body(0))

    src = RenderSource(URL, transport=httpx.MockTransport(handler))
    assert await src.fetch(ComputeRequest(hours=2)) == [] and calls == []


# --- token price problems: still listed, never silently ------------------------------------------------


async def test_missing_render_price_still_lists_with_assumed_volatility():
    offers = by_id(
        await render(token_prices=tokens(prices={})).fetch(ComputeRequest(gpu_model="rtx4090", hours=96))
    )
    offer = offers["render:rtx-4090:1x:us-east"]
    # assumed sigma 0.06: 33.60 * (1 + 1.65 * 0.06 * 2) = 33.60 * 1.198 = 40.2528
    assert offer.usd_total == D("40.2528")
    assert offer.inputs["sigma_source"] == "assumed" and "render_amount" not in offer.inputs
    assert any(n.startswith("no RENDER/USD price (no static price)") for n in offer.notes)


async def test_no_token_provider_is_noted():
    src = RenderSource(URL, transport=httpx.ASGITransport(app=build_render_app()), clock=lambda: NOW)
    offers = await src.fetch(ComputeRequest(gpu_model="rtx4090", hours=96))
    assert offers and all(any("no token price provider configured" in n for n in o.notes) for o in offers)


async def test_stale_render_price_is_flagged():
    offers = await render(token_prices=tokens(stale=frozenset({"RENDER"}))).fetch(
        ComputeRequest(gpu_model="rtx4090", hours=96)
    )
    offer = by_id(offers)["render:rtx-4090:1x:us-east"]
    assert offer.inputs["token_stale"] == "True" and offer.usd_total == D("38.0352")
    assert any(n.startswith("RENDER/USD price is stale") for n in offer.notes)


async def test_unknown_render_volatility_is_noted():
    offers = await render(token_prices=tokens(sigma_daily={})).fetch(
        ComputeRequest(gpu_model="rtx4090", hours=96)
    )
    offer = by_id(offers)["render:rtx-4090:1x:us-east"]
    assert offer.usd_total == D("40.2528") and offer.inputs["token_usd"] == "4"
    assert any(n.startswith("RENDER volatility unknown") for n in offer.notes)


async def test_an_old_price_document_is_noted():
    later = datetime(2026, 6, 1, tzinfo=UTC)
    offers = await render(clock=lambda: later).fetch(ComputeRequest(gpu_model="rtx4090", hours=1))
    assert all(any("last updated 2026-02-20 (101 days ago)" in n for n in o.notes) for o in offers)
    fresh = await render().fetch(ComputeRequest(gpu_model="rtx4090", hours=1))
    assert not any("last updated" in n for o in fresh for n in o.notes)


# --- failure modes ----------------------------------------------------------------------------------------


async def test_timeout_is_a_source_error():
    def hang(request):
        raise httpx.ReadTimeout("too slow", request=request)

    src = RenderSource(URL, transport=httpx.MockTransport(hang), retries=0)
    with pytest.raises(SourceError, match="timed out"):
        await src.fetch(ComputeRequest(gpu_count=1))


def _doc(**changes):
    body = prices_body(0)
    body.update(changes)
    return body


def _gpu(**changes):
    entry = dict(prices_body(0)["gpus"][0])
    entry.update(changes)
    return _doc(gpus=[entry])


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(404, json={"message": "no such document"}),
        httpx.Response(200, text="<html>Render pricing</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json=_doc(currency="EUR")),
        httpx.Response(200, json=_doc(gpus=None)),
        httpx.Response(200, json=_doc(updated_at="yesterday")),
        httpx.Response(200, json=_gpu(usd_per_hour="cheap")),
        httpx.Response(200, json=_gpu(usd_per_hour_max="0.10")),
        httpx.Response(200, json=_gpu(regions="us-east")),
        httpx.Response(200, json=_doc(gpus=[{"usd_per_hour": "0.3"}])),
    ],
)
async def test_bad_document_is_a_source_error(response):
    src = RenderSource(URL, transport=httpx.MockTransport(lambda r: response), retries=0)
    with pytest.raises(SourceError):
        await src.fetch(ComputeRequest(gpu_count=1))


def test_a_url_is_required():
    with pytest.raises(ValueError, match="price document"):
        RenderSource("")


# --- determinism -------------------------------------------------------------------------------------------


async def test_same_inputs_give_the_same_offers():
    request = ComputeRequest(gpu_count=1, hours=30)
    first = await render().fetch(request)
    second = await render().fetch(request)
    assert [o.model_dump_json() for o in first] == [o.model_dump_json() for o in second]
    assert [o.offer_id for o in first] == sorted(o.offer_id for o in first)
    assert len({o.offer_id for o in first}) == len(first) == 4
