"""AwsSource against the fake AWS endpoints (devnet/aws_api.py) through httpx.ASGITransport, plus SigV4."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from devnet.aws_api import (
    SANDBOX_ACCESS_KEY_ID,
    SANDBOX_SECRET_ACCESS_KEY,
    advisor_body,
    build_aws_app,
    price_list_csv,
    region_index_body,
    spot_history,
)
from tools.pricing.normalize import hazard_from_bucket
from tools.pricing.quote import gather_quote
from tools.pricing.sources import SourceError
from tools.pricing.sources import aws_sigv4 as sigv4
from tools.pricing.sources.aws import (
    GPU_INSTANCE_TYPES,
    AwsSource,
    PriceListParser,
    instance_types_for,
    latest_per_zone,
    parse_spot_price_history,
)
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal
BASE = "http://aws.test"
A100x8 = ComputeRequest(gpu_model="a100", gpu_count=8, hours=1.5)
A10x1 = ComputeRequest(gpu_model="a10", gpu_count=1, hours=10)


class Recorder(httpx.AsyncBaseTransport):
    """The fake app behind ASGITransport, recording every call; ``overrides`` answer paths containing a key."""

    def __init__(self, seed: int = 0, overrides: dict[str, Callable] | None = None, **app_options) -> None:
        self.inner = httpx.ASGITransport(app=build_aws_app(seed, **app_options))
        self.overrides = overrides or {}
        self.calls: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        for fragment, handler in self.overrides.items():
            if fragment in request.url.path:
                answer = handler(request)
                return await answer if inspect.isawaitable(answer) else answer
        return await self.inner.handle_async_request(request)

    def count(self, fragment: str) -> int:
        return sum(1 for _, path in self.calls if fragment in path)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def aws_source(transport: httpx.AsyncBaseTransport, *, credentials: bool = True, **kwargs) -> AwsSource:
    options = dict(
        transport=transport,
        clock=lambda: NOW,
        retries=0,
        access_key_id=SANDBOX_ACCESS_KEY_ID if credentials else None,
        secret_access_key=SANDBOX_SECRET_ACCESS_KEY if credentials else None,
    )
    options.update(kwargs)
    return AwsSource(f"{BASE}", f"{BASE}/ec2/", f"{BASE}/spot-advisor-data.json", **options)


def by_id(offers):
    return {o.offer_id: o for o in offers}


# --- SigV4 ------------------------------------------------------------------------------------------------

# AWS's published Signature Version 4 example (General Reference "sigv4-create-canonical-request" /
# "sigv4-calculate-signature", IAM ListUsers of 2015-08-30 with the documentation key pair).
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
EXAMPLE_CANONICAL_SHA256 = "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
EXAMPLE_SIGNING_KEY = "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
EXAMPLE_SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"


def test_sigv4_matches_the_published_example():
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Host": "iam.amazonaws.com",
        "X-Amz-Date": "20150830T123600Z",
    }
    canonical = sigv4.canonical_request(
        "GET",
        "/",
        "Version=2010-05-08&Action=ListUsers",  # order on the wire does not matter: pairs are sorted
        headers,
        ["content-type", "host", "x-amz-date"],
        sigv4.sha256_hex(b""),
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == EXAMPLE_CANONICAL_SHA256
    assert sigv4.signing_key(EXAMPLE_SECRET, "20150830", "us-east-1", "iam").hex() == EXAMPLE_SIGNING_KEY
    assert (
        sigv4.signature(EXAMPLE_SECRET, "20150830T123600Z", "us-east-1", "iam", canonical)
        == EXAMPLE_SIGNATURE
    )

    added = sigv4.sign(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body=b"",
        access_key_id="AKIDEXAMPLE",
        secret_access_key=EXAMPLE_SECRET,
        region="us-east-1",
        service="iam",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert added == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={EXAMPLE_SIGNATURE}",
    }
    parsed = sigv4.parse_authorization(added["Authorization"])
    assert parsed is not None
    assert (parsed.access_key_id, parsed.date, parsed.region, parsed.service) == (
        "AKIDEXAMPLE",
        "20150830",
        "us-east-1",
        "iam",
    )
    assert parsed.signed_headers == ("content-type", "host", "x-amz-date")
    assert sigv4.parse_authorization("Bearer abc") is None


def test_sigv4_canonical_forms():
    assert sigv4.canonical_query("b=2&a=x y&a=1") == "a=1&a=x%20y&b=2"
    assert sigv4.canonical_uri("") == "/"
    assert sigv4.canonical_uri("/a%20b/") == "/a%2520b/"  # every service but S3 encodes the wire path again
    assert sigv4.canonical_headers({"X-A": "  two   spaces "}, ["x-a"]) == "x-a:two spaces\n"


def _signed_post(
    body: bytes,
    *,
    secret: str = SANDBOX_SECRET_ACCESS_KEY,
    key: str = SANDBOX_ACCESS_KEY_ID,
    region: str = "us-east-1",
    url: str = f"{BASE}/ec2/",
) -> dict[str, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    headers.update(
        sigv4.sign(
            "POST",
            url,
            headers=headers,
            body=body,
            access_key_id=key,
            secret_access_key=secret,
            region=region,
            service="ec2",
            now=NOW,
        )
    )
    return headers


async def test_fake_ec2_verifies_the_signature():
    body = b"Action=DescribeSpotPriceHistory&Version=2016-11-15&InstanceType.1=g5.xlarge&StartTime=2026-03-01T11%3A00%3A00Z"
    transport = httpx.ASGITransport(app=build_aws_app())
    async with httpx.AsyncClient(transport=transport) as client:
        ok = await client.post(f"{BASE}/ec2/", content=body, headers=_signed_post(body))
        wrong_secret = await client.post(
            f"{BASE}/ec2/", content=body, headers=_signed_post(body, secret="guess")
        )
        unknown_key = await client.post(
            f"{BASE}/ec2/", content=body, headers=_signed_post(body, key="AKIDOTHER")
        )
        unsigned = await client.post(f"{BASE}/ec2/", content=body)
        tampered = await client.post(
            f"{BASE}/ec2/", content=body.replace(b"g5.xlarge", b"p5.48xlarge"), headers=_signed_post(body)
        )
        per_region = await client.post(
            f"{BASE}/ec2/eu-west-1/",
            content=body,
            headers=_signed_post(body, region="eu-west-1", url=f"{BASE}/ec2/eu-west-1/"),
        )
        scope_mismatch = await client.post(
            f"{BASE}/ec2/eu-west-1/", content=body, headers=_signed_post(body, url=f"{BASE}/ec2/eu-west-1/")
        )
    assert ok.status_code == 200 and "<DescribeSpotPriceHistoryResponse" in ok.text
    assert per_region.status_code == 200 and "eu-west-1" in per_region.text
    for response, status, code in (
        (wrong_secret, 403, "SignatureDoesNotMatch"),
        (tampered, 403, "SignatureDoesNotMatch"),
        (scope_mismatch, 403, "SignatureDoesNotMatch"),
        (unknown_key, 401, "AuthFailure"),
        (unsigned, 401, "AuthFailure"),
    ):
        assert response.status_code == status
        assert (
            response.text.count("<Response><Errors><Error>") == 1 and f"<Code>{code}</Code>" in response.text
        )


async def test_fake_ec2_rejects_other_actions():
    body = b"Action=RunInstances&Version=2016-11-15"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_aws_app())) as client:
        response = await client.post(f"{BASE}/ec2/", content=body, headers=_signed_post(body))
    assert response.status_code == 400 and "<Code>InvalidAction</Code>" in response.text


# --- the fake's files -----------------------------------------------------------------------------------


def test_fake_is_deterministic_per_seed():
    assert price_list_csv(3, "eu-west-1") == price_list_csv(3, "eu-west-1")
    assert price_list_csv(0, "eu-west-1") != price_list_csv(1, "eu-west-1")
    assert price_list_csv(0, "us-east-1") == price_list_csv(1, "us-east-1")  # us-east-1 prices are fixed
    assert advisor_body(2) == advisor_body(2) and advisor_body(0) != advisor_body(1)
    assert spot_history(0, "us-west-2", NOW) == spot_history(0, "us-west-2", NOW)
    assert spot_history(0, "us-west-2", NOW) != spot_history(1, "us-west-2", NOW)


async def test_fake_price_list_shapes():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_aws_app()), base_url=BASE) as client:
        index = (await client.get("/offers/v1.0/aws/AmazonEC2/current/region_index.json")).json()
        version_url = index["regions"]["us-west-2"]["currentVersionUrl"]
        csv_text = (await client.get(version_url.replace("index.json", "index.csv"))).text
        current = (await client.get("/offers/v1.0/aws/AmazonEC2/current/us-west-2/index.csv")).text
        offer_json = (await client.get(version_url)).json()
        missing = await client.get("/offers/v1.0/aws/AmazonEC2/current/mars-north-1/index.csv")
    assert index == region_index_body() and set(index["regions"]) == {
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "ap-northeast-1",
    }
    lines = csv_text.splitlines()
    assert [line.split(",")[0] for line in lines[:6]] == [
        '"FormatVersion"',
        '"Disclaimer"',
        '"Publication Date"',
        '"Version"',
        '"OfferCode"',
        '"SKU"',
    ]
    assert csv_text == current
    assert offer_json["offerCode"] == "AmazonEC2" and set(offer_json["terms"]) == {"OnDemand", "Reserved"}
    sku, product = next(
        (k, p)
        for k, p in offer_json["products"].items()
        if p["attributes"].get("instanceType") == "g5.xlarge"
    )
    assert product["productFamily"] == "Compute Instance"
    assert next(iter(offer_json["terms"]["OnDemand"][sku].values()))["priceDimensions"]
    assert missing.status_code == 404


# --- on-demand ---------------------------------------------------------------------------------------


async def test_on_demand_offer_hand_computed():
    offers = by_id(await aws_source(Recorder(), credentials=False).fetch(A100x8))
    p4d = offers["aws:p4d.24xlarge:us-east-1"]
    # 30.48 USD/h (fixed us-east-1 price of the fake) x 1.5 h = 5400 s billed (over the 60 s minimum)
    # -> 30.48 * 5400 / 3600 = 45.72 USD, plus the request's 1 GiB as EBS gp3 for those 1.5 h:
    # 1 * 0.08 / 730 * 1.5 = 0.000164383... USD.
    ebs = D(1) * D("0.08") / 730 * D("1.5")
    assert p4d.usd_per_hour == D("30.48") and p4d.usd_total == D("45.72") + ebs
    assert p4d.inputs["ebs_usd"] == str(ebs) and abs(ebs - D("0.000164383")) < D("1e-9")
    assert p4d.inputs["price_per_unit"] == "30.4800000000" and p4d.inputs["billed_seconds"] == "5400"
    # A100 40GB SXM: 312 TFLOPS * eta 0.87 = 0.27144 PFLOPS per card, 8 cards = 2.17152;
    # 30.48 / 8 = 3.81 USD per GPU-hour / 0.27144 = 14.0362... USD per effective PFLOP-hour.
    assert p4d.effective_pflops == D("2.17152")
    assert p4d.usd_per_effective_pflop_hour == D("30.48") / 8 / D("0.27144")
    assert (p4d.gpu_model, p4d.gpu_count, p4d.gpu_memory_gib) == ("a100", 8, 40.0)
    assert (p4d.cpu, p4d.memory_gib, p4d.storage_gib) == (96.0, 1152.0, 1.0)
    assert (p4d.region, p4d.provider_region, p4d.source, p4d.provider) == (
        "us-east",
        "us-east-1",
        "aws",
        "AWS",
    )
    assert p4d.pricing_model == "fixed" and not p4d.estimate and not p4d.deployable
    assert p4d.capacity_available is None and p4d.ttl_s == 6 * 3600 and p4d.observed_at == NOW
    assert (
        p4d.inputs["instance_storage"] == "8 x 1000 SSD"
        and p4d.inputs["price_list_version"] == "20260301000000"
    )
    assert "billed per second with a 60 s minimum" in p4d.notes[0]
    p4de = offers["aws:p4de.24xlarge:us-east-1"]
    assert p4de.gpu_memory_gib == 80.0 and p4de.usd_per_hour == D("38.19")
    # p4de exists in two regions only; p4d in all four; nothing but A100 x8 types.
    assert sorted(offers) == [
        "aws:p4d.24xlarge:ap-northeast-1",
        "aws:p4d.24xlarge:eu-west-1",
        "aws:p4d.24xlarge:us-east-1",
        "aws:p4d.24xlarge:us-west-2",
        "aws:p4de.24xlarge:us-east-1",
        "aws:p4de.24xlarge:us-west-2",
    ]
    assert offers["aws:p4d.24xlarge:ap-northeast-1"].region == "asia-east"


async def test_decoy_rows_are_skipped():
    # Windows, RHEL, SQL, dedicated, reservation states, capacity blocks, reserved terms and the Boston
    # Local Zone row all name g4dn.xlarge or p4d in us-east-1; only the Linux shared on-demand row counts.
    source = aws_source(Recorder(), credentials=False)
    t4 = by_id(await source.fetch(ComputeRequest(gpu_model="t4", gpu_count=1, hours=1)))
    assert t4["aws:g4dn.xlarge:us-east-1"].usd_per_hour == D("0.51")
    table = await source.on_demand_table("us-east-1")
    assert "g4ad.xlarge" not in table.rows and "m5.large" not in table.rows  # AMD GPU and CPU-only types
    assert set(table.rows) <= set(GPU_INSTANCE_TYPES)
    assert table.rows["p4d.24xlarge"].price_per_unit == "30.4800000000"


async def test_billing_minimum_of_60_seconds():
    # 0.005 h = 18 s of use, billed as 60 s: 0.51 * 60 / 3600 = 0.0085 USD.
    offers = by_id(
        await aws_source(Recorder(), credentials=False).fetch(
            ComputeRequest(gpu_model="t4", gpu_count=1, hours=0.005)
        )
    )
    ebs = D(1) * D("0.08") / 730 * (D(60) / 3600)  # the 1 GiB volume for the billed minute
    assert offers["aws:g4dn.xlarge:us-east-1"].usd_total == D("0.51") * 60 / 3600 + ebs


async def test_no_credentials_means_no_spot_and_a_note():
    transport = Recorder()
    offers = await aws_source(transport, credentials=False).fetch(A10x1)
    assert offers and all(o.pricing_model == "fixed" for o in offers)
    assert all("no AWS credentials configured, so no spot prices were asked for" in o.notes for o in offers)
    assert transport.count("/ec2/") == 0 and transport.count("spot-advisor") == 0


async def test_cpu_only_and_unreachable_regions_ask_nothing():
    transport = Recorder()
    source = aws_source(transport)
    assert await source.fetch(ComputeRequest(cpu=4)) == []
    assert await source.fetch(ComputeRequest(gpu_model="a100", gpu_count=8, region="sa")) == []
    assert await source.fetch(ComputeRequest(gpu_model="a100", gpu_count=2)) == []  # no 2 x A100 type
    assert transport.calls == []


async def test_request_region_limits_the_downloads():
    transport = Recorder()
    offers = await aws_source(transport).fetch(ComputeRequest(gpu_model="a100", gpu_count=8, region="eu"))
    assert offers and {o.region for o in offers} == {"eu-west"}
    assert transport.count("index.csv") == 1 and transport.count("/eu-west-1/index.csv") == 1


def test_instance_types_for_requests():
    assert instance_types_for(ComputeRequest(gpu_model="h100", gpu_count=8)) == ["p5.48xlarge"]
    assert instance_types_for(ComputeRequest(gpu_model="a10", gpu_count=4)) == ["g5.12xlarge", "g5.24xlarge"]
    assert "g6e.xlarge" in instance_types_for(ComputeRequest(gpu_model="l40s", gpu_count=1))
    assert instance_types_for(ComputeRequest(gpu_model="v100", gpu_count=8)) == [
        "p3.16xlarge",
        "p3dn.24xlarge",
    ]
    assert set(instance_types_for(ComputeRequest(gpu_count=8))) >= {
        "p4d.24xlarge",
        "p5.48xlarge",
        "g4dn.metal",
    }
    assert instance_types_for(ComputeRequest()) == []


# --- spot --------------------------------------------------------------------------------------------


async def test_spot_offer_hand_computed():
    transport = Recorder()
    offers = by_id(await aws_source(transport).fetch(A10x1))
    spot = offers["aws-spot:g5.xlarge:us-east-1a"]
    # us-east-1a history for g5.xlarge (pinned in the fake, StartTime = 11:00): 0.450000 at 09:00,
    # 0.420000 at 11:20, 0.400000 at 11:40 -> the latest, 0.400000 USD/h.
    assert (
        spot.usd_per_hour == D("0.400000") and spot.inputs["spot_price_timestamp"] == "2026-03-01T11:40:00Z"
    )
    # Spot Advisor: r = 0 -> "<5%": f = 0.05, lambda = -ln(0.95) / 730 = 7.0264787e-5 per hour.
    # delta = 5 min = 1/12 h, R = 0.25 h; c* = sqrt(2 delta / lambda) = sqrt(2371.98...) = 48.702977 h.
    # loss = lambda (R + c/2) = 7.0264787e-5 * 24.601488 = 0.00172862.
    # W = T (1 + delta/c) / (1 - loss) = 10 * 1.00171109 / 0.99827138 = 10.0344563 h.
    # expected cost = 0.4 * 10.0344563 = 4.0137825 USD.
    lam = -(1 - D("0.05")).ln() / 730
    c = (2 * (D(5) / 60) / lam).sqrt()
    wall = 10 * (1 + (D(5) / 60) / c) / (1 - lam * (D("0.25") + c / 2))
    assert lam == hazard_from_bucket("<5%")
    # plus the 1 GiB EBS volume for the expected wall time: 1 * 0.08 / 730 * 10.0344563 = 0.0010996664 USD.
    ebs = D(1) * D("0.08") / 730 * wall
    assert spot.usd_total == D("0.400000") * wall + ebs
    assert abs(spot.usd_total - D("4.0148822")) < D("1e-7")
    assert spot.inputs["expected_wall_hours"] == str(wall) and spot.inputs["interruption_bucket"] == "<5%"
    assert spot.inputs["spot_advisor_range"] == "0" and spot.inputs["spot_advisor_savings_pct"] == "61"
    assert spot.inputs["on_demand_usd_per_hour"] == "0.9700000000"
    assert (spot.pricing_model, spot.ttl_s, spot.region, spot.provider_region) == (
        "spot",
        600,
        "us-east",
        "us-east-1a",
    )
    assert (spot.gpu_model, spot.gpu_count, spot.cpu, spot.memory_gib) == ("a10", 1, 4.0, 16.0)
    assert any("<5%" in note and "expected cost" in note for note in spot.notes)
    # One spot offer per pool the fake lists, each with the Linux price (not the Windows one).
    od = offers["aws:g5.xlarge:us-east-1"]
    assert all(
        o.usd_per_hour < od.usd_per_hour
        for o in offers.values()
        if o.offer_id.startswith("aws-spot:g5.xlarge:us-east-1")
    )


async def test_spot_request_is_signed_and_filtered():
    seen = []
    recorder = Recorder()

    async def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return await recorder.inner.handle_async_request(request)

    recorder.overrides["/ec2/"] = capture
    await aws_source(recorder).fetch(ComputeRequest(gpu_model="h100", gpu_count=8, region="us-east"))
    (request,) = seen
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["Action"] == "DescribeSpotPriceHistory" and form["Version"] == "2016-11-15"
    assert form["InstanceType.1"] == "p5.48xlarge" and form["ProductDescription.1"] == "Linux/UNIX"
    assert form["StartTime"] == "2026-03-01T11:00:00Z"
    auth = sigv4.parse_authorization(request.headers["authorization"])
    assert auth is not None and (auth.access_key_id, auth.region, auth.service) == (
        SANDBOX_ACCESS_KEY_ID,
        "us-east-1",
        "ec2",
    )
    assert request.headers["x-amz-date"] == "20260301T120000Z"


async def test_spot_pages_are_all_read():
    small = Recorder(page_size=3)
    offers = await aws_source(small).fetch(A10x1)
    big = await aws_source(Recorder()).fetch(A10x1)
    assert [o.model_dump() for o in offers] == [o.model_dump() for o in big]
    assert small.count("/ec2/") > 4  # more than one page per region


async def test_spot_failure_keeps_on_demand_with_a_note():
    transport = Recorder(
        overrides={
            "/ec2/": lambda r: httpx.Response(
                500,
                text="<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message></Error></Errors></Response>",
            )
        }
    )
    offers = await aws_source(transport).fetch(A10x1)
    assert offers and all(o.pricing_model == "fixed" for o in offers)
    note = "spot prices unavailable in us-east-1: HTTP 500: InternalError: An internal error has occurred"
    assert note in by_id(offers)["aws:g5.xlarge:us-east-1"].notes


async def test_wrong_secret_is_a_spot_note_not_a_failure():
    offers = await aws_source(Recorder(), secret_access_key="not-the-secret").fetch(A10x1)
    od = by_id(offers)["aws:g5.xlarge:eu-west-1"]
    assert all(o.pricing_model == "fixed" for o in offers)
    assert any(
        n.startswith("spot prices unavailable in eu-west-1: HTTP 403: SignatureDoesNotMatch")
        for n in od.notes
    )


async def test_spot_timeout_and_garbage_are_notes():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    for handler, fragment in (
        (timeout, "timed out"),
        (lambda r: httpx.Response(200, text="<html>hello</html>"), "unexpected response shape"),
        (lambda r: httpx.Response(200, text="not xml at all"), "not XML"),
    ):
        offers = await aws_source(Recorder(overrides={"/ec2/": handler})).fetch(A10x1)
        assert all(o.pricing_model == "fixed" for o in offers)
        assert any(fragment in n for n in offers[0].notes), offers[0].notes


async def test_advisor_failure_assumes_the_pessimistic_bucket():
    transport = Recorder(overrides={"spot-advisor": lambda r: httpx.Response(500, json={"message": "nope"})})
    offers = by_id(await aws_source(transport).fetch(A10x1))
    spot = offers["aws-spot:g5.xlarge:us-east-1a"]
    assert spot.inputs["interruption_bucket"] == ">20%" and "spot_advisor_range" not in spot.inputs
    assert any(
        n.startswith("Spot Advisor unavailable (HTTP 500: nope): assumed the >20% bucket") for n in spot.notes
    )
    expected = by_id(await aws_source(Recorder()).fetch(A10x1))["aws-spot:g5.xlarge:us-east-1a"]
    assert spot.usd_total > expected.usd_total  # same price, worse bucket


async def test_advisor_missing_a_type():
    offers = await aws_source(Recorder()).fetch(
        ComputeRequest(gpu_model="l40s", gpu_count=1, hours=2, region="us-east")
    )
    spots = [o for o in offers if o.pricing_model == "spot" and o.inputs["instance_type"] == "g6e.xlarge"]
    assert spots
    for spot in spots:
        assert spot.inputs["interruption_bucket"] == ">20%"
        assert "Spot Advisor has no data for g6e.xlarge in us-east-1: assumed the >20% bucket" in spot.notes


def test_parse_spot_history_and_latest_per_zone():
    document = """<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
      <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
      <spotPriceHistorySet>
        <item><instanceType>g5.xlarge</instanceType><productDescription>Linux/UNIX</productDescription>
          <spotPrice>0.300000</spotPrice><timestamp>2026-03-01T10:00:00.000Z</timestamp>
          <availabilityZone>us-east-1a</availabilityZone></item>
        <item><instanceType>g5.xlarge</instanceType><productDescription>Linux/UNIX</productDescription>
          <spotPrice>0.310000</spotPrice><timestamp>2026-03-01T11:00:00.000Z</timestamp>
          <availabilityZone>us-east-1a</availabilityZone></item>
        <item><instanceType>g5.xlarge</instanceType><productDescription>Windows</productDescription>
          <spotPrice>0.900000</spotPrice><timestamp>2026-03-01T11:30:00.000Z</timestamp>
          <availabilityZone>us-east-1a</availabilityZone></item>
        <item><instanceType>g5.xlarge</instanceType><productDescription>Linux/UNIX</productDescription>
          <timestamp>2026-03-01T11:50:00.000Z</timestamp></item>
      </spotPriceHistorySet>
      <nextToken>page2</nextToken>
    </DescribeSpotPriceHistoryResponse>"""
    points, token = parse_spot_price_history(document)
    assert token == "page2" and len(points) == 3  # the item without price or zone is dropped
    latest = latest_per_zone(points)
    assert (
        list(latest) == [("g5.xlarge", "us-east-1a")]
        and latest[("g5.xlarge", "us-east-1a")].spot_price == "0.310000"
    )
    _, token = parse_spot_price_history(document.replace("<nextToken>page2</nextToken>", "<nextToken/>"))
    assert token is None
    with pytest.raises(SourceError):
        parse_spot_price_history(document.replace("0.300000", "lots"))


# --- failures of the price list -------------------------------------------------------------------


def _timeout(request):
    raise httpx.ReadTimeout("read timed out", request=request)


_HEADER_WITHOUT_PRICE = '"SKU","TermType","Unit","Currency","Product Family","Instance Type","vCPU","Memory"'
_PREAMBLE = '"FormatVersion","v1.0"\n"Disclaimer","x"\n"Publication Date","2026-03-01T00:00:00Z"\n"Version","1"\n"OfferCode","AmazonEC2"\n'


@pytest.mark.parametrize(
    ("override", "handler", "reason"),
    [
        ("index.csv", _timeout, "timed out after"),
        ("index.csv", lambda r: httpx.Response(500, text="Internal Error"), "HTTP 500 from"),
        ("index.csv", lambda r: httpx.Response(503, text="Slow Down"), "HTTP 503 from"),
        (
            "index.csv",
            lambda r: httpx.Response(200, text="<html><body>maintenance</body></html>\n"),
            "not an AWS price list CSV",
        ),
        (
            "index.csv",
            lambda r: httpx.Response(200, text=_PREAMBLE + _HEADER_WITHOUT_PRICE + "\n"),
            "lacks columns PricePerUnit, Tenancy",
        ),
        ("index.csv", lambda r: httpx.Response(200, text=_PREAMBLE), "ended before its header row"),
        ("index.csv", lambda r: httpx.Response(200, text="x" * 70_000), "longer than 65536 characters"),
        (
            "index.csv",
            lambda r: httpx.Response(200, text=_PREAMBLE.replace("AmazonEC2", "AmazonS3")),
            "not AmazonEC2",
        ),
        ("region_index.json", lambda r: httpx.Response(200, text="{not json"), "non-JSON"),
        (
            "region_index.json",
            lambda r: httpx.Response(200, json={"regions": {}}),
            "not in the EC2 price list index",
        ),
        ("region_index.json", _timeout, "timed out after"),
    ],
)
async def test_price_list_failures_are_source_errors(override, handler, reason):
    source = aws_source(Recorder(overrides={override: handler}))
    with pytest.raises(SourceError) as info:
        await source.fetch(A100x8)
    assert info.value.source == "aws" and reason in info.value.reason, info.value.reason


async def test_a_bad_price_is_a_source_error():
    text = price_list_csv(0, "us-east-1").replace('"30.4800000000"', '"thirty"')
    source = aws_source(Recorder(overrides={"us-east-1/index.csv": lambda r: httpx.Response(200, text=text)}))
    with pytest.raises(SourceError, match="PricePerUnit is not a number"):
        await source.fetch(A100x8)


async def test_one_retry_after_a_503():
    answers = iter([httpx.Response(503, text="Slow Down")])
    recorder = Recorder()

    async def flaky(request):
        answer = next(answers, None)
        return answer if answer is not None else await recorder.inner.handle_async_request(request)

    recorder.overrides["us-east-1/index.csv"] = flaky
    offers = await aws_source(recorder, retries=1, credentials=False).fetch(A100x8)
    assert "aws:p4d.24xlarge:us-east-1" in by_id(offers) and recorder.count("us-east-1/index.csv") == 2


def test_parser_keeps_only_linux_shared_on_demand_rows():
    header = (
        '"SKU","RateCode","TermType","Unit","PricePerUnit","Currency","Product Family","Instance Type","vCPU",'
        '"Memory","Tenancy","Operating System","CapacityStatus","Pre Installed S/W","Region Code"'
    )
    rows = [
        '"A","A.1","OnDemand","Hrs","1.0060000000","USD","Compute Instance","g5.xlarge","4","16 GiB","Shared","Linux","Used","NA","us-east-1"',
        '"B","B.1","OnDemand","Hrs","1.9000000000","USD","Compute Instance","g5.xlarge","4","16 GiB","Shared","Windows","Used","NA","us-east-1"',
        '"C","C.1","OnDemand","Hrs","1.2000000000","USD","Compute Instance","g5.xlarge","4","16 GiB","Shared","Linux","Used","NA","us-east-1-bos-1"',
        '"D","D.1","Reserved","Hrs","0.6000000000","USD","Compute Instance","g5.xlarge","4","16 GiB","Shared","Linux","Used","NA","us-east-1"',
        '"E","E.1","OnDemand","Hrs","0.0960000000","USD","Compute Instance","m5.large","2","8 GiB","Shared","Linux","Used","NA","us-east-1"',
    ]
    parser = PriceListParser("us-east-1")
    for line in _PREAMBLE.splitlines() + [header, *rows]:
        parser.feed(line)
    kept = parser.finish()
    assert list(kept) == ["g5.xlarge"] and kept["g5.xlarge"].sku == "A"
    assert parser.metadata["OfferCode"] == "AmazonEC2"

    # The same file with a byte-order mark and no quotes at all still parses (slower pre-filter).
    bare = PriceListParser("us-east-1")
    for line in ("\ufeff" + _PREAMBLE).replace('"', "").splitlines() + [header.replace('"', "")]:
        bare.feed(line)
    for line in rows:
        bare.feed(line.replace('"', ""))
    assert {k: v.sku for k, v in bare.finish().items()} == {"g5.xlarge": "A"}


# --- cache -------------------------------------------------------------------------------------------


async def test_cache_reuse_and_expiry(tmp_path):
    clock = Clock()
    transport = Recorder()
    source = aws_source(transport, credentials=False, cache_dir=tmp_path, clock=clock)
    first = await source.fetch(A100x8)
    assert transport.count("index.csv") == 4
    cached = json.loads(next(tmp_path.glob("aws-ec2-ondemand-us-east-1-*.json")).read_text())
    assert cached["rows"]["p4d.24xlarge"]["price_per_unit"] == "30.4800000000"
    assert len(cached["rows"]) < 20  # the compact table, not the file

    clock.now = NOW + timedelta(hours=5)
    second = await source.fetch(A100x8)
    assert transport.count("index.csv") == 4 and transport.count("region_index") == 4
    assert [o.model_dump() for o in second] == [o.model_dump() for o in first]  # observed_at = download time

    # A new source on the same directory (another process) reuses the files too.
    other = Recorder()
    await aws_source(other, credentials=False, cache_dir=tmp_path, clock=clock).fetch(A100x8)
    assert other.calls == []

    clock.now = NOW + timedelta(hours=6, seconds=1)
    third = await source.fetch(A100x8)
    assert transport.count("index.csv") == 8
    assert third[0].observed_at == clock.now


async def test_cache_without_a_directory_lives_in_memory():
    transport = Recorder()
    source = aws_source(transport)
    await source.fetch(A10x1)
    await source.fetch(A10x1)
    assert transport.count("index.csv") == 4 and transport.count("spot-advisor") == 1
    assert transport.count("/ec2/") == 8  # spot prices are never cached


async def test_corrupt_cache_file_is_refetched(tmp_path):
    transport = Recorder()
    source = aws_source(transport, credentials=False, cache_dir=tmp_path, regions=("us-east-1",))
    await source.fetch(A100x8)
    (path,) = tmp_path.glob("aws-ec2-ondemand-*.json")
    path.write_text("{broken")
    offers = await source.fetch(A100x8)
    assert offers and transport.count("index.csv") == 2


async def test_a_download_outlives_a_timed_out_quote():
    recorder = Recorder()

    async def slow(request):
        await asyncio.sleep(0.3)
        return await recorder.inner.handle_async_request(request)

    recorder.overrides["index.csv"] = slow
    source = aws_source(recorder, credentials=False, regions=("us-east-1",))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(source.fetch(A100x8), timeout=0.05)
    await asyncio.sleep(0.5)  # the shielded download finishes and fills the cache
    offers = await source.fetch(A100x8)
    assert by_id(offers)["aws:p4d.24xlarge:us-east-1"].usd_per_hour == D("30.48")
    assert recorder.count("index.csv") == 1


# --- determinism and the quote ---------------------------------------------------------------------


async def test_offers_are_deterministic():
    first = [o.model_dump_json() for o in await aws_source(Recorder(seed=4)).fetch(A10x1)]
    again = [o.model_dump_json() for o in await aws_source(Recorder(seed=4)).fetch(A10x1)]
    other = [o.model_dump_json() for o in await aws_source(Recorder(seed=5)).fetch(A10x1)]
    assert first == again and first != other
    assert len({json.loads(o)["offer_id"] for o in first}) == len(first)


async def test_quote_ranks_aws_offers():
    request = ComputeRequest(
        gpu_model="a10", gpu_count=1, cpu=4, memory_gib=16, hours=10, objective="cheapest"
    )
    quote = await gather_quote(request, [aws_source(Recorder())], now=NOW)
    assert quote.skipped == [] and quote.ranking.best is not None
    best = quote.ranking.best.offer
    assert best.source == "aws" and best.pricing_model == "spot"
    totals = [r.offer.usd_total for r in quote.ranking.offers]
    assert totals == sorted(totals)


async def test_fake_mounted_under_a_prefix():
    # The devnet REST app mounts the fake at /aws: the signature covers the full path, /aws/ec2/.
    app = Starlette(routes=[Mount("/aws", app=build_aws_app())])
    source = AwsSource(
        f"{BASE}/aws",
        f"{BASE}/aws/ec2/",
        f"{BASE}/aws/spot-advisor-data.json",
        access_key_id=SANDBOX_ACCESS_KEY_ID,
        secret_access_key=SANDBOX_SECRET_ACCESS_KEY,
        transport=httpx.ASGITransport(app=app),
        clock=lambda: NOW,
    )
    offers = by_id(await source.fetch(A10x1))
    assert offers["aws-spot:g5.xlarge:us-east-1a"].inputs["interruption_bucket"] == "<5%"
    assert not any("unavailable" in note for offer in offers.values() for note in offer.notes)


async def test_quote_skips_aws_when_the_price_list_fails():
    source = aws_source(Recorder(overrides={"index.csv": lambda r: httpx.Response(500, text="boom")}))
    quote = await gather_quote(A10x1, [source], now=NOW)
    assert [s.source for s in quote.skipped] == ["aws"] and "HTTP 500" in quote.skipped[0].reason


def test_repr_hides_the_secret():
    source = aws_source(Recorder())
    assert SANDBOX_SECRET_ACCESS_KEY not in repr(source) and "spot=True" in repr(source)


async def test_the_requested_disk_is_priced_as_ebs_on_demand_and_through_spot_interruptions():
    small = by_id(await aws_source(Recorder()).fetch(A10x1))
    big = by_id(await aws_source(Recorder()).fetch(A10x1.model_copy(update={"storage_gib": 500.0})))
    on_demand = "aws:g5.xlarge:us-east-1"
    # 499 GiB more for 10 h at 0.08 USD per GiB-month of 730 h = 0.546849... USD more.
    assert abs(big[on_demand].usd_total - small[on_demand].usd_total - D(499) * D("0.08") / 730 * 10) < D("1e-20")
    assert big[on_demand].storage_gib == 500.0
    spot = "aws-spot:g5.xlarge:us-east-1a"
    wall = D(small[spot].inputs["expected_wall_hours"])
    # W > T: the disk is paid through the interruptions too (28-digit Decimal context: compare to 1e-20).
    assert abs(big[spot].usd_total - small[spot].usd_total - D(499) * D("0.08") / 730 * wall) < D("1e-20")
