"""A fake of the three AWS price inputs Necto reads (tools/pricing/sources/aws.py), in AWS's shapes.

Routes (relative to wherever the app is mounted; the devnet mounts it at ``/aws``):

- ``GET /offers/v1.0/aws/AmazonEC2/current/region_index.json``: the Price List region index;
  ``currentVersionUrl`` points at ``/offers/v1.0/aws/AmazonEC2/<VERSION>/<region>/index.json``.
- ``GET /offers/v1.0/aws/AmazonEC2/{current|<VERSION>}/<region>/index.csv`` (and ``index.json``): the
  per-region offer file: five metadata rows, the header row (the column list of a real 2025 AmazonEC2
  file), then rows. Beside each Linux on-demand row there are the rows a reader must skip: Windows, RHEL,
  SQL pre-installed, dedicated tenancy, capacity-reservation states, a Capacity Block row, reserved
  terms, a Local Zone row, EBS storage, and GPU types Necto does not know (g4ad).
- ``POST /ec2/`` or ``/ec2/<region>/``: the EC2 Query API, ``Action=DescribeSpotPriceHistory`` only
  (form body). Every call must carry a valid Signature Version 4 ``Authorization`` header made with
  ``SANDBOX_ACCESS_KEY_ID`` / ``SANDBOX_SECRET_ACCESS_KEY`` for service ``ec2``; the region comes from the
  path, else from the credential scope. Missing or unknown key -> 401 ``AuthFailure``; a wrong signature,
  scope or signed-header set -> 403 ``SignatureDoesNotMatch``; both in EC2's XML error shape
  ``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``. The request
  time is not checked against the server clock (tests run on a fixed clock). Pages of ``page_size``
  items with ``nextToken``.
- ``GET /spot-advisor-data.json``: the Spot Advisor file (``ranges``, ``instance_types``,
  ``spot_advisor.<region>.{Linux,Windows}.<type> = {s, r}``).

The instance types are real EC2 GPU types with their real shapes (vCPU, memory, GPUs, instance store),
but every price, spot price, savings figure and interruption bucket is self-authored and plausible, NOT
AWS's. us-east-1 on-demand prices are fixed (``BASE_PRICES``); other regions, spot prices and advisor
buckets are drawn from ``seed`` (deterministic). Pinned for tests whatever the seed: g5.xlarge in
us-east-1a has spot history 0.450000 (StartTime - 2 h), 0.420000 (+20 min), 0.400000 (+40 min) and is in
the ``<5%`` bucket (r 0, s 61); g6e.xlarge in us-east-1 is missing from the advisor. Spot timestamps are
relative to the request's ``StartTime`` (default: now - 1 h).

Run alone: ``python -m devnet.aws_api --port 8788``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tools.pricing.sources import aws_sigv4 as sigv4

SANDBOX_ACCESS_KEY_ID = "AKIDNECTOSANDBOX0001"
SANDBOX_SECRET_ACCESS_KEY = "necto/sandbox/NOT-an-AWS-secret/0000000001"
VERSION = "20260301000000"
PUBLICATION_DATE = "2026-03-01T00:00:00Z"
EFFECTIVE_DATE = "2026-03-01"
DEFAULT_PAGE_SIZE = 40
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
DISCLAIMER = (
    "Necto devnet fake: self-authored prices for testing, not AWS's price list. Real prices are at "
    "https://aws.amazon.com/ec2/pricing/."
)
ON_DEMAND_TERM = "JRTCKXETXF"
RESERVED_TERM = "4NA7Y494T4"

# code -> (Location, usage-type prefix, AZs, price factor vs us-east-1)
REGIONS: dict[str, tuple[str, str, tuple[str, ...], Decimal]] = {
    "us-east-1": (
        "US East (N. Virginia)",
        "",
        ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"),
        Decimal(1),
    ),
    "us-west-2": ("US West (Oregon)", "USW2-", ("us-west-2a", "us-west-2b", "us-west-2c"), Decimal(1)),
    "eu-west-1": ("EU (Ireland)", "EU-", ("eu-west-1a", "eu-west-1b", "eu-west-1c"), Decimal("1.11")),
    "ap-northeast-1": (
        "Asia Pacific (Tokyo)",
        "APN1-",
        ("ap-northeast-1a", "ap-northeast-1c"),
        Decimal("1.29"),
    ),
}
ALL = tuple(REGIONS)

# type -> (vCPU, Memory, GPUs, GPU Memory, Storage, Network Performance, regions)
# fmt: off
INSTANCE_TYPES: dict[str, tuple[int, str, int, str, str, str, tuple[str, ...]]] = {
    "p5.48xlarge": (192, "2048 GiB", 8, "640 GB", "8 x 3840 SSD", "3200 Gigabit", ("us-east-1", "us-west-2", "ap-northeast-1")),
    "p4d.24xlarge": (96, "1152 GiB", 8, "320 GB", "8 x 1000 SSD", "400 Gigabit", ALL),
    "p4de.24xlarge": (96, "1152 GiB", 8, "640 GB", "8 x 1000 SSD", "400 Gigabit", ("us-east-1", "us-west-2")),
    "p3.2xlarge": (8, "61 GiB", 1, "16 GB", "EBS only", "Up to 10 Gigabit", ALL),
    "p3.8xlarge": (32, "244 GiB", 4, "64 GB", "EBS only", "10 Gigabit", ALL),
    "p3.16xlarge": (64, "488 GiB", 8, "128 GB", "EBS only", "25 Gigabit", ("us-east-1", "us-west-2", "eu-west-1")),
    "g6e.xlarge": (4, "32 GiB", 1, "48 GB", "1 x 250 NVMe SSD", "Up to 20 Gigabit", ("us-east-1", "us-west-2", "eu-west-1")),
    "g6e.12xlarge": (48, "384 GiB", 4, "192 GB", "2 x 1900 NVMe SSD", "100 Gigabit", ("us-east-1", "us-west-2")),
    "g6.xlarge": (4, "16 GiB", 1, "24 GB", "1 x 250 NVMe SSD", "Up to 10 Gigabit", ALL),
    "g6.12xlarge": (48, "192 GiB", 4, "96 GB", "4 x 940 NVMe SSD", "40 Gigabit", ALL),
    "g5.xlarge": (4, "16 GiB", 1, "24 GB", "1 x 250 NVMe SSD", "Up to 10 Gigabit", ALL),
    "g5.2xlarge": (8, "32 GiB", 1, "24 GB", "1 x 450 NVMe SSD", "Up to 10 Gigabit", ALL),
    "g5.12xlarge": (48, "192 GiB", 4, "96 GB", "1 x 3800 NVMe SSD", "40 Gigabit", ALL),
    "g5.48xlarge": (192, "768 GiB", 8, "192 GB", "2 x 3800 NVMe SSD", "100 Gigabit", ("us-east-1", "us-west-2", "eu-west-1")),
    "g4dn.xlarge": (4, "16 GiB", 1, "16 GB", "1 x 125 NVMe SSD", "Up to 25 Gigabit", ALL),
    "g4dn.12xlarge": (48, "192 GiB", 4, "64 GB", "1 x 900 NVMe SSD", "50 Gigabit", ALL),
    "g4ad.xlarge": (4, "16 GiB", 1, "8 GB", "1 x 150 NVMe SSD", "Up to 10 Gigabit", ALL),  # AMD: Necto skips it
    "m5.large": (2, "8 GiB", 0, "NA", "EBS only", "Up to 10 Gigabit", ALL),  # CPU-only
}
# fmt: on
# us-east-1 Linux on-demand USD/hour; self-authored (deliberately not AWS's list prices).
BASE_PRICES: dict[str, str] = {
    "p5.48xlarge": "54.9800",
    "p4d.24xlarge": "30.4800",
    "p4de.24xlarge": "38.1900",
    "p3.2xlarge": "2.9100",
    "p3.8xlarge": "11.6400",
    "p3.16xlarge": "23.2800",
    "g6e.xlarge": "1.7900",
    "g6e.12xlarge": "9.8800",
    "g6.xlarge": "0.7700",
    "g6.12xlarge": "4.4100",
    "g5.xlarge": "0.9700",
    "g5.2xlarge": "1.1700",
    "g5.12xlarge": "5.5100",
    "g5.48xlarge": "15.9700",
    "g4dn.xlarge": "0.5100",
    "g4dn.12xlarge": "3.8100",
    "g4ad.xlarge": "0.3600",
    "m5.large": "0.0930",
}
PINNED_SPOT_POOL = ("us-east-1", "g5.xlarge", "us-east-1a")
PINNED_SPOT_HISTORY = (
    (timedelta(hours=-2), "0.450000"),
    (timedelta(minutes=20), "0.420000"),
    (timedelta(minutes=40), "0.400000"),
)
PINNED_ADVISOR = {("us-east-1", "g5.xlarge"): {"s": 61, "r": 0}}
MISSING_FROM_ADVISOR = frozenset({("us-east-1", "g6e.xlarge")})
ADVISOR_RANGES = [
    {"index": 0, "label": "<5%", "dots": 0, "max": 5},
    {"index": 1, "label": "5-10%", "dots": 1, "max": 11},
    {"index": 2, "label": "10-15%", "dots": 2, "max": 16},
    {"index": 3, "label": "15-20%", "dots": 3, "max": 22},
    {"index": 4, "label": ">20%", "dots": 4, "max": 100},
]

# The header of a real AmazonEC2 index.csv (2025), in order.
# fmt: off
CSV_COLUMNS: tuple[str, ...] = (
    "SKU", "OfferTermCode", "RateCode", "TermType", "PriceDescription", "EffectiveDate", "StartingRange",
    "EndingRange", "Unit", "PricePerUnit", "Currency", "RelatedTo", "LeaseContractLength", "PurchaseOption",
    "OfferingClass", "Product Family", "serviceCode", "Location", "Location Type", "Instance Type",
    "Current Generation", "Instance Family", "vCPU", "Physical Processor", "Clock Speed", "Memory", "Storage",
    "Network Performance", "Processor Architecture", "Storage Media", "Volume Type", "Max Volume Size",
    "Max IOPS/volume", "Max IOPS Burst Performance", "Max throughput/volume", "Provisioned", "Tenancy",
    "EBS Optimized", "Operating System", "License Model", "Group", "Group Description", "Transfer Type",
    "From Location", "From Location Type", "To Location", "To Location Type", "usageType", "operation",
    "AvailabilityZone", "CapacityStatus", "ClassicNetworkingSupport", "Dedicated EBS Throughput", "ECU",
    "Elastic Graphics Type", "Enhanced Networking Supported", "From Region Code", "GPU", "GPU Memory",
    "Instance", "Instance Capacity - 10xlarge", "Instance Capacity - 12xlarge", "Instance Capacity - 16xlarge",
    "Instance Capacity - 18xlarge", "Instance Capacity - 24xlarge", "Instance Capacity - 2xlarge",
    "Instance Capacity - 32xlarge", "Instance Capacity - 4xlarge", "Instance Capacity - 8xlarge",
    "Instance Capacity - 9xlarge", "Instance Capacity - large", "Instance Capacity - medium",
    "Instance Capacity - metal", "Instance Capacity - xlarge", "instanceSKU", "Intel AVX2 Available",
    "Intel AVX Available", "Intel Turbo Available", "MarketOption", "Normalization Size Factor",
    "Physical Cores", "Pre Installed S/W", "Processor Features", "Product Type", "Region Code",
    "Resource Type", "serviceName", "SnapshotArchiveFeeType", "To Region Code", "Volume API Name",
    "VPCNetworkingSupport",
)
# fmt: on
# CSV column -> attribute name in index.json (the JSON form of the same file).
_JSON_ATTRIBUTES = {
    "Location": "location",
    "Location Type": "locationType",
    "Instance Type": "instanceType",
    "Current Generation": "currentGeneration",
    "Instance Family": "instanceFamily",
    "vCPU": "vcpu",
    "Physical Processor": "physicalProcessor",
    "Memory": "memory",
    "Storage": "storage",
    "Network Performance": "networkPerformance",
    "Processor Architecture": "processorArchitecture",
    "Tenancy": "tenancy",
    "Operating System": "operatingSystem",
    "License Model": "licenseModel",
    "usageType": "usagetype",
    "operation": "operation",
    "CapacityStatus": "capacitystatus",
    "GPU": "gpu",
    "GPU Memory": "gpuMemory",
    "MarketOption": "marketoption",
    "Pre Installed S/W": "preInstalledSw",
    "Region Code": "regionCode",
    "serviceName": "servicename",
    "Volume API Name": "volumeApiName",
    "Volume Type": "volumeType",
}
_CENT4 = Decimal("0.0001")
_MICRO = Decimal("0.000001")


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("|".join((str(seed), *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _sku(*parts: str) -> str:
    return base64.b32encode(hashlib.sha256("|".join(parts).encode()).digest()[:10]).decode()


def types_in(region: str) -> list[str]:
    return [t for t, spec in INSTANCE_TYPES.items() if region in spec[6]]


def on_demand_price(seed: int, region: str, instance_type: str) -> Decimal:
    """Linux shared on-demand USD/hour: us-east-1 is ``BASE_PRICES``; elsewhere factor and +-4 % jitter."""
    base = Decimal(BASE_PRICES[instance_type])
    factor = REGIONS[region][3]
    if region == "us-east-1":
        return base.quantize(_CENT4)
    jitter = Decimal(_rng(seed, "od", region, instance_type).randint(-40, 40)) / 1000
    return (base * factor * (1 + jitter)).quantize(_CENT4, rounding=ROUND_HALF_EVEN)


def spot_pools(seed: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """(region, type) -> the AZs with a spot price (GPU types and m5.large)."""
    pools = {}
    for region, (_, _, zones, _) in REGIONS.items():
        for itype in types_in(region):
            rng = _rng(seed, "zones", region, itype)
            chosen = set(rng.sample(zones, k=min(len(zones), rng.randint(1, 3))))
            if (region, itype) == PINNED_SPOT_POOL[:2]:
                chosen.add(PINNED_SPOT_POOL[2])
            pools[(region, itype)] = tuple(sorted(chosen))
    return pools


def spot_history(seed: int, region: str, start: datetime) -> list[dict[str, str]]:
    """Every spot price point of ``region`` around ``start`` (Linux/UNIX and Windows), in a seeded order."""
    items: list[dict[str, str]] = []
    for (pool_region, itype), zones in spot_pools(seed).items():
        if pool_region != region:
            continue
        for zone in zones:
            if (region, itype, zone) == PINNED_SPOT_POOL:
                history = [(start + offset, Decimal(price)) for offset, price in PINNED_SPOT_HISTORY]
            else:
                rng = _rng(seed, "spot", region, itype, zone)
                latest = on_demand_price(seed, region, itype) * Decimal(rng.randint(30, 70)) / 100
                history = [(start - timedelta(hours=2), latest * Decimal("1.08"))]
                if rng.random() < 0.5:
                    history.append((start + timedelta(minutes=20), latest * Decimal("1.03")))
                history.append((start + timedelta(minutes=40), latest))
            for moment, price in history:
                for product, markup in (("Linux/UNIX", Decimal(1)), ("Windows", Decimal("1.6"))):
                    items.append(
                        {
                            "instanceType": itype,
                            "productDescription": product,
                            "spotPrice": str((price * markup).quantize(_MICRO, rounding=ROUND_HALF_EVEN)),
                            "timestamp": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            "availabilityZone": zone,
                        }
                    )
    _rng(seed, "order", region).shuffle(items)
    return items


def advisor_body(seed: int = 0) -> dict[str, Any]:
    """The ``spot-advisor-data.json`` body for ``seed``."""
    advisor: dict[str, Any] = {}
    for region in REGIONS:
        linux: dict[str, dict[str, int]] = {}
        windows: dict[str, dict[str, int]] = {}
        for itype in types_in(region):
            if (region, itype) in MISSING_FROM_ADVISOR:
                continue
            rng = _rng(seed, "advisor", region, itype)
            linux[itype] = PINNED_ADVISOR.get((region, itype)) or {
                "s": rng.randint(40, 80),
                "r": rng.randrange(5),
            }
            windows[itype] = {"s": rng.randint(30, 70), "r": rng.randrange(5)}
        advisor[region] = {"Linux": linux, "Windows": windows}
    return {
        "global_rate": "<10%",
        "instance_types": {
            t: {"emr": spec[2] > 0, "cores": spec[0], "ram_gb": float(spec[1].split()[0])}
            for t, spec in INSTANCE_TYPES.items()
        },
        "ranges": ADVISOR_RANGES,
        "spot_advisor": advisor,
    }


def region_index_body() -> dict[str, Any]:
    return {
        "formatVersion": "v1.0",
        "disclaimer": DISCLAIMER,
        "publicationDate": PUBLICATION_DATE,
        "regions": {
            code: {
                "regionCode": code,
                "currentVersionUrl": f"/offers/v1.0/aws/AmazonEC2/{VERSION}/{code}/index.json",
            }
            for code in REGIONS
        },
    }


# --- price list rows -------------------------------------------------------------------------------------


def _products(seed: int, region: str) -> Iterator[tuple[dict[str, str], Decimal, bool]]:
    """(product attributes by CSV column, on-demand USD/hour, has a 1-year reserved term)."""
    location, prefix, _, _ = REGIONS[region]
    for itype in types_in(region):
        vcpu, memory, gpus, gpu_memory, storage, network, _ = INSTANCE_TYPES[itype]
        price = on_demand_price(seed, region, itype)
        family = "GPU instance" if gpus else "General purpose"
        common = {
            "Product Family": "Compute Instance",
            "serviceCode": "AmazonEC2",
            "Location": location,
            "Location Type": "AWS Region",
            "Instance Type": itype,
            "Current Generation": "Yes",
            "Instance Family": family,
            "vCPU": str(vcpu),
            "Physical Processor": "AMD EPYC"
            if itype.startswith(("p5", "g6", "g5.", "g4ad"))
            else "Intel Xeon",
            "Memory": memory,
            "Storage": storage,
            "Network Performance": network,
            "Processor Architecture": "64-bit",
            "Tenancy": "Shared",
            "Operating System": "Linux",
            "License Model": "No License required",
            "usageType": f"{prefix}BoxUsage:{itype}",
            "operation": "RunInstances",
            "CapacityStatus": "Used",
            "GPU": str(gpus) if gpus else "",
            "GPU Memory": gpu_memory,
            "MarketOption": "OnDemand",
            "Pre Installed S/W": "NA",
            "Region Code": region,
            "serviceName": "Amazon Elastic Compute Cloud",
        }
        yield common, price, True
        sw = {"Operating System": "Linux", "Pre Installed S/W": "SQL Std", "operation": "RunInstances:0004"}
        variants: list[tuple[dict[str, str], Decimal]] = [
            (
                {"Operating System": "Windows", "operation": "RunInstances:0002"},
                price + vcpu * Decimal("0.046"),
            ),
            ({"Operating System": "RHEL", "operation": "RunInstances:0010"}, price + Decimal("0.0600")),
            (sw, price + vcpu * Decimal("0.12")),
            (
                {"Tenancy": "Dedicated", "usageType": f"{prefix}DedicatedUsage:{itype}"},
                price * Decimal("1.1"),
            ),
            (
                {"CapacityStatus": "UnusedCapacityReservation", "usageType": f"{prefix}UnusedBox:{itype}"},
                price,
            ),
            (
                {
                    "CapacityStatus": "AllocatedCapacityReservation",
                    "usageType": f"{prefix}Reservation:{itype}",
                },
                Decimal(0),
            ),
        ]
        if itype in ("p5.48xlarge", "p4d.24xlarge"):
            variants.append(({"MarketOption": "CapacityBlock"}, price * Decimal("0.7")))
        if region == "us-east-1" and itype == "g4dn.xlarge":
            local = {
                "Location": "US East (Boston)",
                "Location Type": "AWS Local Zone",
                "Region Code": "us-east-1-bos-1",
                "usageType": "USE1-BOS1-BoxUsage:g4dn.xlarge",
            }
            variants.append((local, price * Decimal("1.2")))
        for changes, variant_price in variants:
            yield {**common, **changes}, variant_price.quantize(_CENT4, rounding=ROUND_HALF_EVEN), False
    ebs = {
        "Product Family": "Storage",
        "serviceCode": "AmazonEC2",
        "Location": location,
        "Location Type": "AWS Region",
        "Storage Media": "SSD-backed",
        "Volume Type": "General Purpose",
        "Volume API Name": "gp3",
        "usageType": f"{prefix}EBS:VolumeUsage.gp3",
        "operation": "",
        "Region Code": region,
        "serviceName": "Amazon Elastic Compute Cloud",
    }
    yield ebs, Decimal("0.0800"), False


def _rows(seed: int, region: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(term type, CSV row by column) for the region's offer file."""
    for product, price, reserved in _products(seed, region):
        sku = _sku(region, *(f"{k}={v}" for k, v in sorted(product.items())))
        is_storage = product["Product Family"] == "Storage"
        unit = "GB-Mo" if is_storage else "Hrs"
        what = (
            f"{product.get('Volume API Name')} GB-month"
            if is_storage
            else f"{product['Instance Type']} Instance Hour"
        )
        row = {
            **product,
            "SKU": sku,
            "OfferTermCode": ON_DEMAND_TERM,
            "RateCode": f"{sku}.{ON_DEMAND_TERM}.6YS6EN2CT7",
            "TermType": "OnDemand",
            "PriceDescription": f"${price.normalize():f} per On Demand {product.get('Operating System', 'EBS')} {what}",
            "EffectiveDate": EFFECTIVE_DATE,
            "StartingRange": "0",
            "EndingRange": "Inf",
            "Unit": unit,
            "PricePerUnit": f"{price:.10f}",
            "Currency": "USD",
        }
        yield "OnDemand", row
        if reserved:
            hourly = (price * Decimal("0.62")).quantize(_CENT4, rounding=ROUND_HALF_EVEN)
            yield (
                "Reserved",
                {
                    **row,
                    "OfferTermCode": RESERVED_TERM,
                    "RateCode": f"{sku}.{RESERVED_TERM}.6YS6EN2CT7",
                    "TermType": "Reserved",
                    "PriceDescription": f"Linux/UNIX (Amazon VPC), {product['Instance Type']} reserved instance applied",
                    "PricePerUnit": f"{hourly:.10f}",
                    "LeaseContractLength": "1yr",
                    "PurchaseOption": "No Upfront",
                    "OfferingClass": "standard",
                },
            )


def _csv_line(cells: list[str]) -> str:
    # AWS quotes every non-empty cell and leaves empty ones bare.
    return ",".join('"' + c.replace('"', '""') + '"' if c else "" for c in cells)


def price_list_csv(seed: int, region: str) -> str:
    """The region's ``index.csv`` text for ``seed``."""
    lines = [
        _csv_line(["FormatVersion", "v1.0"]),
        _csv_line(["Disclaimer", DISCLAIMER]),
        _csv_line(["Publication Date", PUBLICATION_DATE]),
        _csv_line(["Version", VERSION]),
        _csv_line(["OfferCode", "AmazonEC2"]),
        _csv_line(list(CSV_COLUMNS)),
    ]
    for _, row in _rows(seed, region):
        lines.append(_csv_line([row.get(column, "") for column in CSV_COLUMNS]))
    return "\n".join(lines) + "\n"


def price_list_json(seed: int, region: str) -> dict[str, Any]:
    """The region's ``index.json`` for ``seed`` (products and terms, the JSON form of the same rows)."""
    products: dict[str, Any] = {}
    terms: dict[str, dict[str, Any]] = {"OnDemand": {}, "Reserved": {}}
    for term_type, row in _rows(seed, region):
        sku = row["SKU"]
        attributes = {attr: row[col] for col, attr in _JSON_ATTRIBUTES.items() if row.get(col)}
        products[sku] = {"sku": sku, "productFamily": row["Product Family"], "attributes": attributes}
        term_code = row["OfferTermCode"]
        term_attributes = (
            {
                "LeaseContractLength": row["LeaseContractLength"],
                "OfferingClass": row["OfferingClass"],
                "PurchaseOption": row["PurchaseOption"],
            }
            if term_type == "Reserved"
            else {}
        )
        terms[term_type].setdefault(sku, {})[f"{sku}.{term_code}"] = {
            "offerTermCode": term_code,
            "sku": sku,
            "effectiveDate": f"{EFFECTIVE_DATE}T00:00:00Z",
            "priceDimensions": {
                row["RateCode"]: {
                    "rateCode": row["RateCode"],
                    "description": row["PriceDescription"],
                    "beginRange": "0",
                    "endRange": "Inf",
                    "unit": row["Unit"],
                    "pricePerUnit": {"USD": row["PricePerUnit"]},
                    "appliesTo": [],
                }
            },
            "termAttributes": term_attributes,
        }
    return {
        "formatVersion": "v1.0",
        "disclaimer": DISCLAIMER,
        "offerCode": "AmazonEC2",
        "version": VERSION,
        "publicationDate": PUBLICATION_DATE,
        "products": products,
        "terms": terms,
    }


# --- HTTP ---------------------------------------------------------------------------------------------


def ec2_error(status: int, code: str, message: str) -> Response:
    """EC2's Query API error document."""
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{code}|{message}"))
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"</Errors><RequestID>{request_id}</RequestID></Response>"
    )
    return Response(body, status_code=status, media_type="text/xml")


def _not_found(key: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Key>{escape(key)}</Key></Error>'
    return Response(body, status_code=404, media_type="application/xml")


_AUTH_FAILURE = "AWS was not able to validate the provided access credentials"
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


def verify_signature(request: Request, body: bytes, path_region: str | None) -> Response | str:
    """The request's region when its SigV4 signature is valid for the sandbox key, else the error response."""
    parsed = sigv4.parse_authorization(request.headers.get("authorization", ""))
    if parsed is None or parsed.access_key_id != SANDBOX_ACCESS_KEY_ID:
        return ec2_error(401, "AuthFailure", _AUTH_FAILURE)
    stamp = request.headers.get("x-amz-date", "")
    if parsed.date != stamp[:8] or parsed.service != "ec2" or parsed.terminator != sigv4.TERMINATOR:
        return ec2_error(
            403, "SignatureDoesNotMatch", "Credential should be scoped to a valid date and service."
        )
    region = path_region or parsed.region
    if region not in REGIONS or parsed.region != region:
        return ec2_error(
            403,
            "SignatureDoesNotMatch",
            f"Credential should be scoped to a valid region, not '{parsed.region}'.",
        )
    signed = [h.lower() for h in parsed.signed_headers]
    if "host" not in signed or "x-amz-date" not in signed or any(h not in request.headers for h in signed):
        return ec2_error(403, "SignatureDoesNotMatch", _SIGNATURE_MISMATCH)
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    canonical = sigv4.canonical_request(
        request.method,
        raw_path.split(b"?")[0].decode("latin-1"),
        request.scope.get("query_string", b"").decode("latin-1"),
        {h: request.headers[h] for h in signed},
        signed,
        sigv4.sha256_hex(body),
    )
    expected = sigv4.signature(SANDBOX_SECRET_ACCESS_KEY, stamp, parsed.region, "ec2", canonical)
    if not hmac.compare_digest(expected, parsed.signature):
        return ec2_error(403, "SignatureDoesNotMatch", _SIGNATURE_MISMATCH)
    return region


def _numbered(form: list[tuple[str, str]], prefix: str) -> set[str]:
    """Values of ``Prefix.1``, ``Prefix.2``, ... (EC2 Query lists)."""
    return {value for key, value in form if key.startswith(prefix + ".") and key[len(prefix) + 1 :].isdigit()}


def describe_spot_price_history(
    seed: int, region: str, form: list[tuple[str, str]], page_size: int
) -> Response:
    fields = dict(form)
    if fields.get("Version") is None:
        return ec2_error(400, "MissingParameter", "The request must contain the parameter Version")
    try:
        start = (
            datetime.fromisoformat(fields["StartTime"]).astimezone(UTC)
            if fields.get("StartTime")
            else datetime.now(UTC) - timedelta(hours=1)
        )
        limit = min(int(fields.get("MaxResults") or 1000), page_size)
        offset = int(base64.urlsafe_b64decode(fields["NextToken"]).decode()) if fields.get("NextToken") else 0
    except (ValueError, UnicodeDecodeError):
        return ec2_error(400, "InvalidParameterValue", "StartTime, MaxResults or NextToken is malformed")
    if limit < 1 or offset < 0:
        return ec2_error(400, "InvalidParameterValue", "MaxResults and NextToken must be positive")
    types = _numbered(form, "InstanceType")
    products = _numbered(form, "ProductDescription")
    zone = fields.get("AvailabilityZone")
    items = [
        item
        for item in spot_history(seed, region, start)
        if (not types or item["instanceType"] in types)
        and (not products or item["productDescription"] in products)
        and (not zone or item["availabilityZone"] == zone)
    ]
    page = items[offset : offset + limit]
    following = offset + limit
    token = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(items) else ""
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}|{region}|{sorted(form)}"))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<DescribeSpotPriceHistoryResponse xmlns="{EC2_XMLNS}">',
        f"    <requestId>{request_id}</requestId>",
        "    <spotPriceHistorySet>",
    ]
    for item in page:
        parts.append("        <item>")
        for key in ("instanceType", "productDescription", "spotPrice", "timestamp", "availabilityZone"):
            parts.append(f"            <{key}>{escape(item[key])}</{key}>")
        parts.append("        </item>")
    parts.append("    </spotPriceHistorySet>")
    parts.append(f"    <nextToken>{token}</nextToken>" if token else "    <nextToken/>")
    parts.append("</DescribeSpotPriceHistoryResponse>")
    return Response("\n".join(parts) + "\n", media_type="text/xml")


def build_aws_app(seed: int = 0, *, page_size: int = DEFAULT_PAGE_SIZE) -> Starlette:
    """A Starlette app serving the fake AWS Price List, EC2 spot history and Spot Advisor."""
    index = region_index_body()
    advisor = advisor_body(seed)
    csv_files = {region: price_list_csv(seed, region) for region in REGIONS}

    async def region_index(request: Request) -> JSONResponse:
        return JSONResponse(index)

    async def offer_file(request: Request) -> Response:
        version = request.path_params["version"]
        region = request.path_params["region"]
        name = request.path_params["name"]
        if (
            version not in ("current", VERSION)
            or region not in REGIONS
            or name not in ("index.csv", "index.json")
        ):
            return _not_found(request.url.path)
        if name == "index.json":
            return JSONResponse(price_list_json(seed, region))
        return PlainTextResponse(csv_files[region], media_type="text/csv")

    async def ec2(request: Request) -> Response:
        body = await request.body()
        checked = verify_signature(request, body, request.path_params.get("region"))
        if isinstance(checked, Response):
            return checked
        try:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return ec2_error(400, "InvalidParameterValue", "The request body is not a form")
        action = dict(form).get("Action", "")
        if action != "DescribeSpotPriceHistory":
            return ec2_error(
                400, "InvalidAction", f"The action {action or '(none)'} is not valid for this web service."
            )
        return describe_spot_price_history(seed, checked, form, page_size)

    async def spot_advisor(request: Request) -> JSONResponse:
        return JSONResponse(advisor)

    return Starlette(
        routes=[
            Route("/offers/v1.0/aws/AmazonEC2/current/region_index.json", region_index, methods=["GET"]),
            Route("/offers/v1.0/aws/AmazonEC2/{version}/{region}/{name}", offer_file, methods=["GET"]),
            Route("/ec2/", ec2, methods=["POST"]),
            Route("/ec2/{region}/", ec2, methods=["POST"]),
            Route("/spot-advisor-data.json", spot_advisor, methods=["GET"]),
        ]
    )


def main() -> None:  # pragma: no cover - manual use
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(build_aws_app(args.seed), host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
