"""LambdaSource against the fake Lambda API (devnet/lambda_api.py) mounted with httpx.ASGITransport."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from devnet.lambda_api import build_lambda_app, instance_types_body
from tools.pricing.quote import gather_quote
from tools.pricing.sources import SourceError
from tools.pricing.sources.lambda_cloud import LambdaSource
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def lambda_source(api_key: str = "secret", seed: int = 0, **kwargs) -> LambdaSource:
    transport = httpx.ASGITransport(app=build_lambda_app(seed))
    return LambdaSource("http://lambda.test", api_key, transport=transport, clock=lambda: NOW, **kwargs)


async def test_fake_api_requires_a_bearer_key():
    transport = httpx.ASGITransport(app=build_lambda_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://lambda.test") as client:
        missing = await client.get("/api/v1/instance-types")
        empty = await client.get("/api/v1/instance-types", headers={"Authorization": "Bearer "})
        ok = await client.get("/api/v1/instance-types", headers={"Authorization": "Bearer abc"})
    assert missing.status_code == 401 and empty.status_code == 401
    assert set(missing.json()["error"]) == {"code", "message", "suggestion"}
    assert ok.status_code == 200 and len(ok.json()["data"]) == 12


def test_fake_api_is_deterministic_per_seed():
    assert instance_types_body(3) == instance_types_body(3)
    assert instance_types_body(0) != instance_types_body(1)


async def test_offers_one_per_type_and_region():
    offers = await lambda_source().fetch(ComputeRequest(gpu_model="a100", hours=2))
    body = instance_types_body(0)["data"]
    expected = sum(max(1, len(v["regions_with_capacity_available"])) for v in body.values())
    assert len(offers) == expected
    sxm = next(o for o in offers if o.offer_id == "lambda:gpu_1x_a100_sxm4:us-west-1")
    assert sxm.region == "us-west" and sxm.provider_region == "us-west-1"
    assert sxm.usd_per_hour == D("1.39") and sxm.usd_total == D("2.78")
    assert (sxm.gpu_model, sxm.gpu_count, sxm.gpu_memory_gib) == ("a100", 1, 40.0)
    assert (sxm.cpu, sxm.memory_gib, sxm.storage_gib) == (30.0, 200.0, 512.0)
    assert sxm.pricing_model == "fixed" and not sxm.deployable and not sxm.estimate
    assert sxm.capacity_available is True
    assert sxm.inputs["price_cents_per_hour"] == "139"
    # 1.39 / (0.87 * 0.312)
    assert abs(sxm.usd_per_effective_pflop_hour - D("1.39") / D("0.27144")) < D("1e-20")
    h100 = next(o for o in offers if o.offer_id.startswith("lambda:gpu_1x_h100_pcie:"))
    assert h100.gpu_model == "h100" and h100.effective_pflops == D("0.6048")  # PCIe: 756 * 0.8


async def test_sold_out_types_are_kept_with_capacity_false():
    offers = await lambda_source().fetch(ComputeRequest())
    sold = {o.offer_id: o for o in offers if o.capacity_available is False}
    assert set(sold) == {"lambda:gpu_1x_a100", "lambda:gpu_8x_h100_sxm5"}
    assert sold["lambda:gpu_1x_a100"].region is None
    assert "sold out in every region right now" in sold["lambda:gpu_1x_a100"].notes


async def test_quote_excludes_sold_out_and_ranks_available():
    request = ComputeRequest(gpu_model="h100", gpu_count=8, hours=1, objective="cheapest")
    quote = await gather_quote(request, [lambda_source()], now=NOW)
    assert quote.ranking.offers == []
    assert dict(quote.ranking.excluded)["lambda:gpu_8x_h100_sxm5"].endswith(
        "sold out (no capacity available)"
    )

    request = ComputeRequest(gpu_model="a100", gpu_count=1, hours=1, objective="cheapest", region="us")
    quote = await gather_quote(request, [lambda_source()], now=NOW)
    assert quote.ranking.best.offer.offer_id == "lambda:gpu_1x_a100_sxm4:us-midwest-1"


async def test_billed_per_minute():
    # 1.01 h = 60.6 min -> 61 min at 0.17 USD/h = 0.17 * 61 / 60
    offers = await lambda_source().fetch(ComputeRequest(hours=1.01))
    cpu = next(o for o in offers if o.offer_id == "lambda:cpu_4x_general:us-west-1")
    assert cpu.usd_total == D("0.17") * 61 / 60
    assert cpu.gpu_model is None and cpu.usd_per_effective_pflop_hour is None


async def test_401_is_a_source_error_with_lambdas_message():
    with pytest.raises(SourceError) as info:
        await lambda_source(api_key="").fetch(ComputeRequest())
    assert info.value.source == "lambda"
    assert info.value.reason.startswith("HTTP 401: global/invalid-api-key API key was invalid")


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"data": {"gpu_x": {"instance_type": {"name": "gpu_x"}}}}),
        httpx.Response(
            200,
            json={
                "data": {
                    "gpu_x": {
                        "instance_type": {
                            "name": "gpu_x",
                            "price_cents_per_hour": "lots",
                            "specs": {"vcpus": 1, "memory_gib": 1, "gpus": 0},
                        }
                    }
                }
            },
        ),
        httpx.Response(503, text="busy"),
    ],
)
async def test_garbage_is_a_source_error(response):
    src = LambdaSource(
        "http://lambda.test", "k", transport=httpx.MockTransport(lambda r: response), retries=0
    )
    with pytest.raises(SourceError):
        await src.fetch(ComputeRequest())


async def test_retry_after_a_503():
    calls = []
    good = instance_types_body(0)

    def handler(request):
        calls.append(request.headers["authorization"])
        return httpx.Response(503) if len(calls) == 1 else httpx.Response(200, json=good)

    src = LambdaSource("http://lambda.test", "k", transport=httpx.MockTransport(handler), retries=1)
    offers = await src.fetch(ComputeRequest())
    assert offers and calls == ["Bearer k", "Bearer k"]


async def test_injected_client_is_used_and_left_open():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_lambda_app())) as client:
        src = LambdaSource("http://lambda.test", "k", client=client)
        assert await src.fetch(ComputeRequest())
        assert not client.is_closed
