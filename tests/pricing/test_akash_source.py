"""AkashSource against an in-process fake of chain REST + Console (httpx.MockTransport), and bids."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from tools.pricing.normalize import DenomPriceMissing, PricingError
from tools.pricing.quote import gather_quote
from tools.pricing.rank import rank
from tools.pricing.sources import SourceError
from tools.pricing.sources.akash import (
    CONSOLE_HOURS_PER_MONTH,
    AkashProvider,
    AkashSource,
    gpus_from_attributes,
    offers_from_bids,
)
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REST = "http://chain.test"
CONSOLE = "http://console.test"
D = Decimal
BLOCK = Decimal("6.098")

A = "akash1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"  # a100 80Gi sxm4, audited, us-west
B = "akash1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"  # a100 + h100, unaudited, eu (console region only)
C = "akash1cccccccccccccccccccccccccccccccccccccc"  # a100 but offline
E = "akash1eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"  # cpu only, no console record


def chain_provider(owner, host, attributes):
    return {
        "owner": owner,
        "host_uri": f"https://{host}:8443",
        "attributes": [{"key": k, "value": v} for k, v in attributes],
        "info": {"email": "", "website": ""},
    }


PAGE_1 = {
    "providers": [
        chain_provider(
            A,
            "provider.alpha.example",
            [
                ("region", "us-west"),
                ("capabilities/gpu/vendor/nvidia/model/a100", "true"),
                ("capabilities/gpu/vendor/nvidia/model/a100/ram/80Gi", "true"),
                ("capabilities/gpu/vendor/nvidia/model/a100/ram/80Gi/interface/sxm4", "true"),
            ],
        ),
        chain_provider(B, "provider.beta.example", [("capabilities/gpu/vendor/nvidia/model/h100", "true")]),
    ],
    "pagination": {"next_key": "cGFnZTI=", "total": "0"},
}
PAGE_2 = {
    "providers": [
        chain_provider(C, "provider.gamma.example", [("capabilities/gpu/vendor/nvidia/model/a100", "true")]),
        chain_provider(E, "provider.epsilon.example", [("location-region", "eu-central")]),
    ],
    "pagination": {"next_key": None, "total": "0"},
}


def console_provider(
    owner, *, online=True, audited=True, uptime7d=0.99, gpus=(), country=None, region_code=None
):
    return {
        "owner": owner,
        "name": None,
        "hostUri": "",
        "isOnline": online,
        "isAudited": audited,
        "uptime1d": uptime7d,
        "uptime7d": uptime7d,
        "uptime30d": uptime7d,
        "ipRegion": None,
        "ipRegionCode": region_code,
        "ipCountry": None,
        "ipCountryCode": country,
        "locationRegion": None,
        "gpuModels": [{"vendor": "nvidia", "model": m, "ram": r, "interface": i} for m, r, i in gpus],
        "attributes": [],
    }


CONSOLE_PROVIDERS = [
    console_provider(A, uptime7d=0.995, gpus=[("a100", "80Gi", "SXM4")]),
    console_provider(
        B,
        audited=False,
        uptime7d=0.93,
        gpus=[("a100", "40Gi", "PCIe"), ("h100", "80Gi", "SXM5")],
        country="DE",
        region_code="HE",
    ),
    console_provider(C, online=False, gpus=[("a100", "80Gi", "SXM4")]),
]
GPU_PRICES = {
    "availability": {"total": 100, "available": 30},
    "models": [
        {
            "vendor": "nvidia",
            "model": "a100",
            "ram": "80Gi",
            "interface": "SXM4",
            "availability": {"total": 10, "available": 4},
            "providerAvailability": {"total": 3, "available": 2},
            "price": {
                "currency": "USD",
                "min": 0.9,
                "max": 1.6,
                "avg": 1.2,
                "weightedAverage": 1.15,
                "med": 1.1,
            },
        },
        {
            "vendor": "nvidia",
            "model": "a100",
            "ram": "40Gi",
            "interface": "PCIe",
            "availability": {"total": 5, "available": 1},
            "providerAvailability": {"total": 1, "available": 1},
            "price": {
                "currency": "USD",
                "min": 0.6,
                "max": 0.9,
                "avg": 0.75,
                "weightedAverage": 0.7,
                "med": 0.72,
            },
        },
        {
            "vendor": "nvidia",
            "model": "t4",
            "ram": "16Gi",
            "interface": "PCIe",
            "availability": {"total": 2, "available": 0},
            "providerAvailability": {"total": 1, "available": 0},
            "price": None,
        },
    ],
}


class FakeAkash:
    """Chain REST + Console routes; ``broken`` names routes that answer garbage, ``slow`` seconds of delay."""

    def __init__(self, broken: frozenset[str] = frozenset(), slow: float = 0.0) -> None:
        self.broken = broken
        self.slow = slow
        self.calls: list[str] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(
            f"{request.method} {request.url.host}{request.url.path}?{request.url.query.decode()}"
        )
        if self.slow:
            await asyncio.sleep(self.slow)
        path = request.url.path
        if path in self.broken:
            return httpx.Response(200, text="<html>gateway</html>")
        if request.url.host == "chain.test" and path == "/akash/provider/v1beta4/providers":
            key = request.url.params.get("pagination.key")
            return httpx.Response(200, json=PAGE_2 if key == "cGFnZTI=" else PAGE_1)
        if request.url.host == "console.test" and path == "/v1/providers":
            return httpx.Response(200, json=CONSOLE_PROVIDERS)
        if request.url.host == "console.test" and path == "/v1/gpu-prices":
            return httpx.Response(200, json=GPU_PRICES)
        if request.url.host == "console.test" and path == "/v1/pricing" and request.method == "POST":
            spec = json.loads(request.content)
            # 2 cores, 4 GiB, 10 GiB -> a made-up 3.50 USD/month
            return httpx.Response(200, json={"spec": spec, "akash": 3.5, "aws": 60, "gcp": 55, "azure": 58})
        return httpx.Response(404, json={"message": "not found"})


def source(fake: FakeAkash, console: str | None = CONSOLE, **kwargs) -> AkashSource:
    return AkashSource(
        REST, console, transport=httpx.MockTransport(fake), clock=lambda: NOW, retries=0, **kwargs
    )


async def test_providers_follow_pagination_and_join_console():
    fake = FakeAkash()
    providers, problems = await source(fake).fetch_providers()
    assert problems == []
    assert [p.owner for p in providers] == [A, B, C, E]
    chain_calls = [c for c in fake.calls if "chain.test" in c]
    assert len(chain_calls) == 2 and "pagination.key=cGFnZTI%3D" in chain_calls[1]
    by_owner = {p.owner: p for p in providers}
    assert by_owner[A].region == "us-west" and by_owner[A].audited is True and by_owner[A].uptime == 0.995
    assert by_owner[B].region == "eu-central"  # from ipCountryCode DE
    assert {g.model for g in by_owner[B].gpus} == {"a100", "h100"}
    assert by_owner[C].online is False
    assert by_owner[E].online is None and by_owner[E].region == "eu-central"
    assert by_owner[A].display_name == "provider.alpha.example"


async def test_a100_offers_use_gpu_prices_prior():
    offers = await source(FakeAkash()).fetch(ComputeRequest(gpu_model="a100", gpu_count=2, hours=10))
    by_id = {o.offer_id: o for o in offers}
    # C is offline, E has no GPU: only A and B
    assert sorted(by_id) == [f"akash:{A}", f"akash:{B}"]
    a, b = by_id[f"akash:{A}"], by_id[f"akash:{B}"]
    assert a.usd_per_hour == D("2.2")  # 2 x med 1.10 of the matching 80Gi/SXM4 entry
    assert b.usd_per_hour == D("1.44")  # 2 x med 0.72 of the 40Gi/PCIe entry
    assert a.pricing_model == "auction" and a.estimate and a.deployable
    assert a.provider_address == A and a.uptime == 0.995 and a.audited is True
    assert b.audited is False
    assert a.gpu_memory_gib == 80.0 and b.gpu_memory_gib == 40.0
    assert any("firm price comes from bids" in n for n in a.notes)
    assert a.inputs["usd_per_gpu_hour"] == "1.1"
    assert a.ttl_s == 600 and a.observed_at == NOW
    # 10 h at 2.2 USD/h, billed per block (6.098 s): ceil(36000 / 6.098) = 5904 blocks
    assert a.usd_total == D("2.2") * D(5904) * D("6.098") / D(3600)
    # perf: 1.1 / (0.87 * 0.312)
    assert abs(a.usd_per_effective_pflop_hour - D("1.1") / D("0.27144")) < D("1e-20")


async def test_any_gpu_request_gives_one_offer_per_model():
    offers = await source(FakeAkash()).fetch(ComputeRequest(gpu_count=1))
    ids = sorted(o.offer_id for o in offers)
    assert ids == [f"akash:{A}:a100", f"akash:{B}:a100", f"akash:{B}:h100"]
    h100 = next(o for o in offers if o.gpu_model == "h100")
    # no Console price for h100: labelled static fallback
    assert h100.usd_per_hour == D("1.80") and "static fallback" in h100.inputs["prior"]


async def test_cpu_only_uses_console_pricing():
    offers = await source(FakeAkash()).fetch(ComputeRequest(cpu=2, memory_gib=4, storage_gib=10))
    assert len(offers) == 4 - 1  # every online provider can host a CPU job; C is offline
    offer = offers[0]
    assert offer.gpu_model is None and offer.gpu_count == 0
    assert offer.usd_per_hour == D("3.5") / CONSOLE_HOURS_PER_MONTH
    assert offer.inputs["console_akash_usd_per_month"] == "3.5"


async def test_cpu_only_without_console_uses_static_prior():
    fake = FakeAkash()
    offers = await source(fake, console=None).fetch(ComputeRequest(cpu=2, memory_gib=4, storage_gib=10))
    # (2 * 1.60 + 4 * 0.80 + 10 * 0.02) / 730 = 6.6 / 730
    assert offers[0].usd_per_hour == D("6.6") / 730
    assert all("console.test" not in c for c in fake.calls)
    assert len(offers) == 4  # no Console: nobody is known to be offline
    assert all(any("no Console record" in n for n in o.notes) for o in offers)


async def test_chain_garbage_raises_source_error():
    with pytest.raises(SourceError) as info:
        await source(FakeAkash(broken=frozenset({"/akash/provider/v1beta4/providers"}))).fetch(
            ComputeRequest()
        )
    assert info.value.source == "akash" and "non-JSON" in info.value.reason


async def test_chain_wrong_shape_raises_source_error():
    def handler(request):
        return httpx.Response(200, json={"providers": "nope"})

    src = AkashSource(REST, transport=httpx.MockTransport(handler), retries=0)
    with pytest.raises(SourceError, match="unexpected response shape"):
        await src.fetch(ComputeRequest())


async def test_chain_http_error_raises_source_error():
    src = AkashSource(
        REST,
        transport=httpx.MockTransport(lambda r: httpx.Response(500, json={"message": "boom"})),
        retries=0,
    )
    with pytest.raises(SourceError, match="HTTP 500: boom"):
        await src.fetch(ComputeRequest())


async def test_console_garbage_degrades_with_a_note():
    fake = FakeAkash(broken=frozenset({"/v1/providers", "/v1/gpu-prices"}))
    offers = await source(fake).fetch(ComputeRequest(gpu_model="a100", gpu_count=1))
    assert sorted(o.provider_address for o in offers) == [A, C]  # chain attributes only; status unknown
    offer = offers[0]
    assert offer.uptime is None
    assert any("Console providers unavailable" in n for n in offer.notes)
    assert any("gpu-prices unavailable" in n for n in offer.notes)
    assert offer.usd_per_hour == D("1.10")  # static fallback prior for a100


async def test_timeout_becomes_a_skipped_source_in_gather_quote():
    slow = source(FakeAkash(slow=5.0))
    quote = await gather_quote(ComputeRequest(gpu_model="a100"), [slow], now=NOW, timeout_s=0.2)
    assert quote.ranking.offers == []
    assert [s.model_dump() for s in quote.skipped] == [{"source": "akash", "reason": "timed out after 0.2s"}]


async def test_httpx_timeout_is_a_source_error():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    src = AkashSource(REST, transport=httpx.MockTransport(handler), retries=1, timeout_s=0.5)
    with pytest.raises(SourceError, match="timed out after 0.5s"):
        await src.fetch(ComputeRequest())


def test_gpu_attributes():
    gpus = gpus_from_attributes(
        [
            ("capabilities/gpu/vendor/nvidia/model/h100", "true"),
            ("capabilities/gpu/vendor/nvidia/model/h100/ram/80Gi/interface/sxm5", "true"),
            ("capabilities/gpu/vendor/nvidia/model/t4", "false"),
            ("region", "us-west"),
        ]
    )
    assert [(g.model, g.ram, g.interface) for g in gpus] == [("h100", "80Gi", "sxm5")]


# --- bids ------------------------------------------------------------------------------------------------------


def bid(provider, amount, *, denom="uact", state="open", bseq=0, created_at="1000", gpu="a100", gpus=1):
    gpu_node = {
        "units": {"val": str(gpus)},
        "attributes": [{"key": f"vendor/nvidia/model/{gpu}/ram/80Gi", "value": "true"}],
    }
    return {
        "bid": {
            "id": {
                "owner": "akash1owner",
                "dseq": "42",
                "gseq": 1,
                "oseq": 1,
                "provider": provider,
                "bseq": bseq,
            },
            "state": state,
            "price": {"denom": denom, "amount": amount},
            "created_at": created_at,
            "resources_offer": [
                {
                    "resources": {
                        "cpu": {"units": {"val": "4000"}, "attributes": []},
                        "memory": {"quantity": {"val": str(16 * 1024**3)}, "attributes": []},
                        "storage": [
                            {"name": "default", "quantity": {"val": str(100 * 1024**3)}, "attributes": []}
                        ],
                        "gpu": gpu_node,
                        "endpoints": [],
                    },
                    "count": 1,
                }
            ],
        },
        "escrow_account": {"id": {"scope": "bid", "xid": "x"}, "state": {}},
    }


PROVIDERS = [
    AkashProvider(
        owner=A, host_uri="https://provider.alpha.example:8443", region="us-west", uptime=0.995, audited=True
    ),
    AkashProvider(
        owner=B,
        host_uri="https://provider.beta.example:8443",
        region="eu-central",
        uptime=0.93,
        audited=False,
    ),
]
BID_REQUEST = ComputeRequest(
    gpu_model="a100", gpu_count=1, cpu=4, memory_gib=16, storage_gib=100, hours=730, objective="cheapest"
)


def test_offers_from_bids_firm_prices():
    body = {
        "bids": [
            bid(A, "1000.000000000000000000"),
            bid(B, "900.000000000000000000", bseq=1),
            bid(C, "10.000000000000000000", state="closed"),
        ]
    }
    offers = offers_from_bids(body, PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW, current_height=1020)
    assert len(offers) == 2
    a = next(o for o in offers if o.provider_address == A)
    assert a.offer_id == f"akash:{A}:bid:42/1/1/0"
    assert a.usd_per_hour == D("3.6") / D("6.098")
    assert a.estimate is False and a.deployable and a.pricing_model == "auction"
    assert (a.cpu, a.memory_gib, a.storage_gib, a.gpu_count, a.gpu_model) == (4.0, 16.0, 100.0, 1, "a100")
    # created at height 1000, now 1020: 20 blocks * 6.098 s = 121.96 s of a 300 s window left -> 178
    assert a.ttl_s == 178
    assert a.inputs["bid_id"] == f"akash1owner/42/1/1/{A}/0"
    assert a.provider == "provider.alpha.example" and a.uptime == 0.995
    ranking = rank(offers, BID_REQUEST, now=NOW)
    assert ranking.best.offer.provider_address == B  # 900 < 1000 uact/block
    assert ranking.block(ranking.best.offer.offer_id).best.offer.provider_address == A


def test_bids_expire():
    offers = offers_from_bids(
        {"bids": [bid(A, "1000")]}, PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW, current_height=1100
    )
    assert offers[0].ttl_s == 0
    ranking = rank(offers, BID_REQUEST, now=NOW + timedelta(seconds=1))
    assert ranking.excluded[0].reason == "firm quote expired"


def test_uakt_bids_need_akt_price():
    body = {"bids": [bid(A, "1000", denom="uakt")]}
    with pytest.raises(DenomPriceMissing):
        offers_from_bids(body, PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW)
    offers = offers_from_bids(body, PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW, akt_usd=D("2"))
    assert offers[0].usd_per_hour == D("7.2") / D("6.098")
    assert offers[0].inputs["akt_usd"] == "2"
    assert offers[0].ttl_s == 300  # created_at is a height but no current height: the whole window


def test_console_bids_shape_and_unknown_provider():
    body = {
        "data": [
            bid("akash1zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "500", created_at="2026-03-01T11:59:00Z")
        ]
    }
    offers = offers_from_bids(body, {}, BID_REQUEST, block_time=BLOCK, now=NOW)
    assert offers[0].provider == "akash1zzzzzz...zzzz"
    assert offers[0].ttl_s == 240 and offers[0].region is None


def test_garbage_bids_raise_pricing_error():
    with pytest.raises(PricingError):
        offers_from_bids(
            {"bids": [{"bid": {"state": "open"}}]}, PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW
        )
    with pytest.raises(PricingError):
        offers_from_bids(["nope"], PROVIDERS, BID_REQUEST, block_time=BLOCK, now=NOW)


async def test_bid_offers_via_chain_rest():
    def handler(request):
        assert request.url.path == "/akash/market/v1beta5/bids/list"
        assert request.url.params["filters.dseq"] == "42"
        return httpx.Response(200, json={"bids": [bid(A, "1000")], "pagination": {"next_key": None}})

    src = AkashSource(REST, transport=httpx.MockTransport(handler), clock=lambda: NOW)
    offers = await src.bid_offers(BID_REQUEST, owner="akash1owner", dseq=42, providers=PROVIDERS)
    assert [o.offer_id for o in offers] == [f"akash:{A}:bid:42/1/1/0"]


def test_bids_with_raw_provider_records_positional_call():
    """The deploy service passes its cache of raw chain REST provider records and positional args."""
    cache = {
        A: chain_provider(A, "provider.alpha.example", [("region", "us-west")]),
        B: console_provider(B, audited=False, uptime7d=0.93, country="DE", region_code="HE"),
    }
    body = {"bids": [bid(A, "1000"), bid(B, "1200", bseq=1)]}
    offers = offers_from_bids(body, cache, BID_REQUEST, D("6.098"), NOW)
    by_provider = {o.provider_address: o for o in offers}
    assert by_provider[A].provider == "provider.alpha.example" and by_provider[A].region == "us-west"
    assert by_provider[B].region == "eu-central" and by_provider[B].audited is False
    assert rank(offers, BID_REQUEST, now=NOW).best.offer.provider_address == A


async def test_provider_directory_is_reused_for_its_ttl_and_offers_keep_its_time():
    fake = FakeAkash()
    clock = {"now": NOW}
    src = AkashSource(REST, CONSOLE, transport=httpx.MockTransport(fake), clock=lambda: clock["now"], retries=0)
    request = ComputeRequest(gpu_model="a100", hours=10)
    first = await src.fetch(request)
    directory_calls = [c for c in fake.calls if "/providers" in c]
    clock["now"] = NOW + timedelta(seconds=30)
    second = await src.fetch(request)
    assert [c for c in fake.calls if "/providers" in c] == directory_calls  # not asked again
    assert [o.offer_id for o in second] == [o.offer_id for o in first]
    assert all(o.observed_at == NOW for o in second)  # as old as the directory
    clock["now"] = NOW + timedelta(seconds=61)
    third = await src.fetch(request)
    assert len([c for c in fake.calls if "/providers" in c]) == 2 * len(directory_calls)
    assert all(o.observed_at == NOW + timedelta(seconds=61) for o in third)
