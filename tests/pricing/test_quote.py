"""gather_quote: concurrency, skipping bad sources, JSON shape, comparison table."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from devnet.lambda_api import build_lambda_app
from tools.pricing import Offer, SourceError, comparison_markdown, comparison_table, gather_quote
from tools.pricing.quote import COLUMNS
from tools.pricing.sources.lambda_cloud import LambdaSource
from tools.pricing.sources.skypilot_catalog import SkyPilotCatalogSource
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CATALOG = Path(__file__).resolve().parents[3] / "shared" / "data" / "skypilot-catalog" / "v8"
D = Decimal


def offer(offer_id: str, usd_per_hour: str, **fields) -> Offer:
    base = dict(
        provider=offer_id.split(":")[0].capitalize(),
        source=offer_id.split(":")[0],
        offer_id=offer_id,
        pricing_model="fixed",
        region="us-east",
        gpu_model="a100",
        gpu_count=1,
        cpu=8,
        memory_gib=64,
        storage_gib=None,
        usd_per_hour=D(usd_per_hour),
        usd_total=D(usd_per_hour) * 10,
        observed_at=NOW - timedelta(minutes=3),
        ttl_s=600,
    )
    base.update(fields)
    return Offer(**base)


class StaticSource:
    def __init__(self, name: str, offers: list[Offer], delay: float = 0.0) -> None:
        self.name = name
        self._offers = offers
        self.delay = delay

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        await asyncio.sleep(self.delay)
        return list(self._offers)


class FailingSource:
    name = "failing"

    async def fetch(self, request):
        raise SourceError("failing", "HTTP 500: upstream exploded")


class GarbageSource:
    name = "garbage"

    async def fetch(self, request):
        return [{"provider": "not an Offer"}]


class BuggySource:
    name = "buggy"

    async def fetch(self, request):
        return {}["missing"]


REQUEST = ComputeRequest(gpu_model="a100", gpu_count=1, hours=10, objective="cheapest")


async def test_bad_sources_are_skipped_good_ones_ranked():
    good = StaticSource(
        "good",
        [
            offer("good:a", "1.20"),
            offer("good:b", "0.90", deployable=True, pricing_model="auction", estimate=True),
        ],
    )
    slow = StaticSource("slow", [offer("slow:a", "0.10")], delay=5)
    start = time.perf_counter()
    quote = await gather_quote(
        REQUEST, [good, slow, FailingSource(), GarbageSource(), BuggySource()], now=NOW, timeout_s=0.3
    )
    assert time.perf_counter() - start < 2
    assert [r.offer.offer_id for r in quote.ranking.offers] == ["good:b", "good:a"]
    assert [s.model_dump() for s in quote.skipped] == [
        {"source": "buggy", "reason": "failed: KeyError: 'missing'"},
        {"source": "failing", "reason": "HTTP 500: upstream exploded"},
        {"source": "garbage", "reason": "returned something that is not a list of offers"},
        {"source": "slow", "reason": "timed out after 0.3s"},
    ]


async def test_sources_run_concurrently():
    sources = [StaticSource(f"s{i}", [offer(f"s{i}:x", "1.0")], delay=0.2) for i in range(5)]
    start = time.perf_counter()
    quote = await gather_quote(REQUEST, sources, now=NOW, timeout_s=2)
    assert time.perf_counter() - start < 0.8
    assert len(quote.ranking.offers) == 5


async def test_to_json_shape_and_determinism():
    offers = [
        offer("a:1", "1.00", uptime=0.99),
        offer(
            "b:1",
            "0.50",
            deployable=True,
            pricing_model="auction",
            estimate=True,
            provider_address="akash1xyz",
        ),
        offer("c:1", "0.70", gpu_model="t4"),
    ]
    quote = await gather_quote(REQUEST, [StaticSource("s", offers), FailingSource()], now=NOW)
    data = quote.to_json()
    assert set(data) >= {"request", "offers", "skipped", "excluded", "best", "best_deployable", "explanation"}
    assert data["request"]["gpu_model"] == "a100"
    first = data["offers"][0]
    for key in (
        "provider",
        "source",
        "offer_id",
        "pricing_model",
        "region",
        "gpu_model",
        "gpu_count",
        "cpu",
        "memory_gib",
        "usd_per_hour",
        "usd_total",
        "usd_per_effective_pflop_hour",
        "observed_at",
        "notes",
        "rank",
        "score",
        "why",
    ):
        assert key in first
    assert first["offer_id"] == "b:1" and first["usd_per_hour"] == 0.5 and first["rank"] == 1
    assert data["best"] == "b:1" and data["best_deployable"] == "b:1"
    assert data["excluded"] == [{"offer_id": "c:1", "reason": "GPU t4, request needs a100"}]
    assert data["skipped"] == [{"source": "failing", "reason": "HTTP 500: upstream exploded"}]
    text = json.dumps(data, sort_keys=True)
    reversed_quote = await gather_quote(REQUEST, [FailingSource(), StaticSource("s", offers[::-1])], now=NOW)
    assert json.dumps(reversed_quote.to_json(), sort_keys=True) == text


async def test_block_on_quote():
    quote = await gather_quote(
        REQUEST, [StaticSource("s", [offer("a:1", "1.0"), offer("b:1", "2.0")])], now=NOW
    )
    assert quote.block("a:1").ranking.best.offer.offer_id == "b:1"


async def test_comparison_table_and_markdown():
    offers = [
        offer(
            "a:1",
            "1.00",
            uptime=0.995,
            usd_per_effective_pflop_hour=D("3.684"),
            audited=False,
            deployable=True,
            pricing_model="auction",
            estimate=True,
        ),
        offer("b:1", "1.50", region=None, provider_region="me-west-1"),
    ]
    quote = await gather_quote(REQUEST, [StaticSource("s", offers), FailingSource()], now=NOW)
    rows = comparison_table(quote)
    assert list(rows[0]) == list(COLUMNS)
    assert rows[0] == {
        "rank": "1",
        "provider": "A",
        "source": "a",
        "model": "a100",
        "GPUs": "1",
        "vCPU": "8",
        "mem": "64 GiB",
        "region": "us-east",
        "$/h": "$1.00",
        "total": "$10.00",
        "$/PFLOP-h": "$3.68",
        "uptime": "99.5%",
        "age": "3m",
        "notes": "estimate, auction, unaudited, deployable",
    }
    assert rows[1]["region"] == "? (me-west-1)" and rows[1]["$/PFLOP-h"] == "-"
    assert len(comparison_table(quote, limit=1)) == 1
    markdown = comparison_markdown(quote)
    lines = markdown.splitlines()
    assert lines[0].startswith("| rank | provider | source | model | GPUs |")
    assert lines[2].startswith("| 1 | A | a | a100 |")
    assert "Skipped: failing (HTTP 500: upstream exploded)" in markdown


async def test_empty_quote_renders():
    quote = await gather_quote(REQUEST, [], now=NOW)
    assert quote.ranking.best is None
    assert "No offers were found" in comparison_markdown(quote)


async def test_all_sources_together():
    sources = [
        SkyPilotCatalogSource(CATALOG, observed_at=NOW),
        LambdaSource(
            "http://lambda.test",
            "k",
            transport=httpx.ASGITransport(app=build_lambda_app()),
            clock=lambda: NOW,
        ),
    ]
    quote = await gather_quote(ComputeRequest(gpu_model="h100", gpu_count=1, hours=24), sources, now=NOW)
    sources_seen = {r.offer.source for r in quote.ranking.offers}
    assert "lambda" in sources_seen and len(sources_seen) >= 3
    assert quote.skipped == []
    json.dumps(quote.to_json())
