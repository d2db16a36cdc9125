"""AWS EC2 GPU offers: on-demand from the Price List bulk files, spot from ``DescribeSpotPriceHistory``,
interruption risk from the public Spot Advisor file (pricing.md §4).

Three inputs, fetched concurrently for the regions that can satisfy the request:

1. **On-demand** (no credentials): ``GET {pricing_url}/offers/v1.0/aws/AmazonEC2/current/region_index.json``
   -> ``{"formatVersion", "disclaimer", "publicationDate", "regions": {<code>: {"regionCode",
   "currentVersionUrl": "/offers/v1.0/aws/AmazonEC2/<version>/<code>/index.json"}}}``, then the same URL
   ending in ``index.csv``. Per AWS Billing's "Reading the service price list file for an AWS service", the
   CSV's first five rows are metadata (``FormatVersion``, ``Disclaimer``, ``Publication Date``,
   ``Version``, ``OfferCode``) and the sixth holds the column names; an AmazonEC2 header seen in 2025 reads
   ``SKU, OfferTermCode, RateCode, TermType, PriceDescription, EffectiveDate, StartingRange, EndingRange,
   Unit, PricePerUnit, Currency, RelatedTo, LeaseContractLength, PurchaseOption, OfferingClass,
   Product Family, serviceCode, Location, Location Type, Instance Type, ..., vCPU, ..., Memory ("16 GiB"),
   Storage, ..., Tenancy, ..., Operating System, License Model, ..., CapacityStatus, ..., GPU, GPU Memory,
   ..., MarketOption, ..., Pre Installed S/W, ..., Region Code, ...``. A region's file is hundreds of MB,
   so it is streamed line by line and only the rows kept that are ``TermType=OnDemand``, ``Product
   Family=Compute Instance``, ``Operating System=Linux``, ``Tenancy=Shared``, ``Pre Installed S/W=NA``,
   ``CapacityStatus=Used``, ``Unit=Hrs``, ``Currency=USD`` (and, where those columns exist,
   ``MarketOption=OnDemand``, ``Region Code`` = the region, i.e. no Local Zone rows) for an instance type
   in :data:`GPU_INSTANCE_TYPES`. That compact table (a few dozen rows) is cached as JSON under
   ``cache_dir`` for ``cache_ttl_s`` (hours), so a quote does not download the file again; a refresh
   keeps running in the background if the quote that started it times out, and the next quote uses it.
2. **Spot** (needs an access key): EC2 Query API ``POST`` to ``ec2_url`` (real:
   ``https://ec2.<region>.amazonaws.com/``), form ``Action=DescribeSpotPriceHistory&Version=2016-11-15
   &StartTime=<now - 1 h>&ProductDescription.1=Linux/UNIX&InstanceType.N=...&MaxResults=1000
   [&NextToken=...]``, signed with Signature Version 4 (``tools.pricing.sources.aws_sigv4``). Response
   (EC2 API reference, DescribeSpotPriceHistory): ``<DescribeSpotPriceHistoryResponse><requestId/>
   <spotPriceHistorySet><item><instanceType/><productDescription/><spotPrice/><timestamp/>
   <availabilityZone/></item>...</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>``;
   errors are ``<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>``.
   The answer holds the price in effect at StartTime plus later changes; the latest per Availability Zone
   wins. One spot offer per (instance type, AZ).
3. **Interruption buckets**: ``GET spot_advisor_url`` -> ``{"ranges": [{"index", "label": "<5%", "dots",
   "max"}, ...], "instance_types": {<type>: {"emr", "cores", "ram_gb"}}, "spot_advisor": {<region>:
   {"Linux": {<type>: {"s": savings %, "r": range index}}}}}`` (the shape public Spot Advisor readers
   decode). ``r`` -> label -> ``normalize.hazard_from_bucket``; a spot offer's ``usd_total`` is
   ``normalize.spot_expected_cost``. A type the advisor does not list gets the pessimistic ``>20%``
   bucket, with a note. Cached like the price list.

Failures: the price list (index or CSV) timing out, failing or answering garbage raises ``SourceError``.
Spot or advisor failures never do: on-demand offers still come back, with a note saying why there is no
spot offer. Without credentials there are no spot offers (a note says so).

Billing: AWS bills Linux instances per second with a 60 s minimum (``normalize.billed_cost``). Egress
(about 0.09 USD/GB) and EBS volumes are billed separately and not included: the request has no egress
figure, so the notes say so. CPU-only requests get no AWS offers (only GPU types are kept).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import httpx

from tools.pricing.gpus import CatalogGpu, catalog_gpu
from tools.pricing.normalize import (
    DEFAULT_CHECKPOINT_WRITE_H,
    DEFAULT_RESTART_OVERHEAD_H,
    INTERRUPTION_BUCKETS,
    PricingError,
    billed_cost,
    billed_seconds,
    effective_pflops,
    hazard_from_bucket,
    necto_region,
    spot_expected_cost,
    to_decimal,
    usd_per_effective_pflop_hour,
)
from tools.pricing.offer import Offer, exact_inputs, utc_now
from tools.pricing.sources import DEFAULT_TIMEOUT_S, Clock, HttpJson, SourceError, require
from tools.pricing.sources import aws_sigv4 as sigv4
from tools.request import ComputeRequest, region_matches
from tools.tls import default_ssl_context

AWS_PRICING_URL = "https://pricing.us-east-1.amazonaws.com"
AWS_EC2_URL = "https://ec2.{region}.amazonaws.com/"  # "{region}" is replaced; a URL without it serves all
AWS_SPOT_ADVISOR_URL = "https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json"
DEFAULT_REGIONS: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1")
EC2_API_VERSION = "2016-11-15"
EC2_SERVICE = "ec2"
REGION_INDEX_PATH = "/offers/v1.0/aws/AmazonEC2/current/region_index.json"

ON_DEMAND_TTL_S = 6 * 3600  # hyperscaler catalog: hours (pricing.md §3); also the cache lifetime
ADVISOR_TTL_S = 6 * 3600  # the advisor file changes a few times a month
SPOT_TTL_S = 600  # spot prices move: marketplace-style TTL
BILLING_INCREMENT_S = 1
BILLING_MINIMUM_S = 60
EGRESS_USD_PER_GB = Decimal("0.09")  # pricing.md §2; quoted in notes, not charged (no egress in the request)
# The request's disk as an EBS gp3 root volume (us-east-1 list price, USD per GiB-month of 730 h): AWS
# charges it for every hour the volume exists, including a spot instance's interrupted hours.
EBS_GP3_USD_PER_GIB_MONTH = Decimal("0.08")
SPOT_LOOKBACK = timedelta(hours=1)
SPOT_PRODUCT = "Linux/UNIX"
PESSIMISTIC_BUCKET = ">20%"
MAX_SPOT_PAGES = 50
DOWNLOAD_TIMEOUT_S = 900.0  # a whole region file; per-read stalls are caught by timeout_s
MAX_LINE_CHARS = 64 * 1024  # no price-list row comes near this; a body without newlines is garbage
RETRY_BACKOFF_S = 0.2
_RETRY_STATUS = {502, 503, 504}
_CACHE_FORMAT = 1
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"

REQUIRED_COLUMNS: tuple[str, ...] = (
    "TermType",
    "Unit",
    "PricePerUnit",
    "Currency",
    "Product Family",
    "Instance Type",
    "vCPU",
    "Memory",
    "Tenancy",
    "Operating System",
    "CapacityStatus",
    "Pre Installed S/W",
)


class AwsGpu(NamedTuple):
    """What an EC2 GPU instance type carries: AWS's card name, a hint for ``catalog_gpu``, the count."""

    name: str
    hint: str
    count: int


_ONE_FOUR_EIGHT = {
    "xlarge": 1,
    "2xlarge": 1,
    "4xlarge": 1,
    "8xlarge": 1,
    "16xlarge": 1,
    "12xlarge": 4,
    "24xlarge": 4,
    "48xlarge": 8,
}
# family -> (AWS card name, interface/memory hint, {size: GPU count}); sizes from the EC2 instance-type pages.
# fmt: off
_GPU_FAMILIES: dict[str, tuple[str, str, dict[str, int]]] = {
    "p6-b200": ("B200", "SXM 180GB", {"48xlarge": 8}),
    "p5en": ("H200", "SXM 141GB", {"48xlarge": 8}),
    "p5e": ("H200", "SXM 141GB", {"48xlarge": 8}),
    "p5": ("H100", "SXM5 80GB", {"4xlarge": 1, "48xlarge": 8}),
    "p4de": ("A100", "SXM4 80GB", {"24xlarge": 8}),
    "p4d": ("A100", "SXM4 40GB", {"24xlarge": 8}),
    "p3dn": ("V100", "SXM2 32GB", {"24xlarge": 8}),
    "p3": ("V100", "SXM2 16GB", {"2xlarge": 1, "8xlarge": 4, "16xlarge": 8}),
    "g6e": ("L40S", "48GB", _ONE_FOUR_EIGHT),
    "g6": ("L4", "24GB", _ONE_FOUR_EIGHT),
    "g5": ("A10G", "24GB", _ONE_FOUR_EIGHT),
    "g4dn": ("T4", "16GB", {"xlarge": 1, "2xlarge": 1, "4xlarge": 1, "8xlarge": 1, "16xlarge": 1,
                            "12xlarge": 4, "metal": 8}),
}
# fmt: on
GPU_INSTANCE_TYPES: dict[str, AwsGpu] = {
    f"{family}.{size}": AwsGpu(name, hint, count)
    for family, (name, hint, sizes) in _GPU_FAMILIES.items()
    for size, count in sizes.items()
}
# Cheap pre-filter on raw CSV lines: only lines with a token shaped like a p*/g* instance type that is in
# GPU_INSTANCE_TYPES are parsed as CSV. AWS quotes every non-empty cell, which makes the quoted form ~10x
# faster; an unquoted file falls back to the looser pattern.
_QUOTED_TYPE = re.compile(r'"([pg]\d[a-z0-9-]*\.[a-z0-9]+)"')
_BARE_TYPE = re.compile(r'(?:^|[",:])([pg]\d[a-z0-9-]*\.[a-z0-9]+)(?=[",]|$)')
_GIB = re.compile(r"^\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*GiB\s*$")


def aws_gpu(instance_type: str) -> CatalogGpu | None:
    """The Necto GPU (Akash model name, interface, memory) of an EC2 GPU instance type, else None."""
    known = GPU_INSTANCE_TYPES.get(instance_type)
    return catalog_gpu(known.name, hint=known.hint) if known else None


def instance_types_for(request: ComputeRequest) -> list[str]:
    """EC2 GPU instance types with exactly the request's GPU count (and model, when it names one)."""
    if request.gpu_count <= 0:
        return []
    matched = []
    for itype, known in GPU_INSTANCE_TYPES.items():
        if known.count != request.gpu_count:
            continue
        gpu = aws_gpu(itype)
        if request.gpu_model and (gpu is None or gpu.model != request.gpu_model):
            continue
        matched.append(itype)
    return sorted(matched)


# --- The compact on-demand table -------------------------------------------------------------------------


@dataclass(frozen=True)
class OnDemandRow:
    """One kept price-list row, as exact text."""

    instance_type: str
    price_per_unit: str
    vcpu: str
    memory: str
    storage: str
    sku: str
    rate_code: str


@dataclass(frozen=True)
class PriceTable:
    """The on-demand GPU rows of one region's price list."""

    region: str
    fetched_at: datetime
    publication_date: str
    version: str
    url: str
    rows: dict[str, OnDemandRow]

    def is_fresh(self, now: datetime, ttl_s: float) -> bool:
        age = (now - self.fetched_at).total_seconds()
        return 0 <= age < ttl_s

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _CACHE_FORMAT,
            "region": self.region,
            "fetched_at": self.fetched_at.isoformat(),
            "publication_date": self.publication_date,
            "version": self.version,
            "url": self.url,
            "rows": {k: vars(v) for k, v in sorted(self.rows.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> PriceTable | None:
        """The table in a cache file, or None when the file is not one (then it is fetched again)."""
        try:
            if data.get("format") != _CACHE_FORMAT:
                return None
            fetched = datetime.fromisoformat(data["fetched_at"])
            if fetched.tzinfo is None:
                return None
            rows = {str(k): OnDemandRow(**v) for k, v in data["rows"].items()}
            return cls(
                str(data["region"]),
                fetched,
                str(data["publication_date"]),
                str(data["version"]),
                str(data["url"]),
                rows,
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None


class PriceListParser:
    """Feed a per-region EC2 ``index.csv`` one line at a time; keeps the on-demand Linux GPU rows.

    Raises SourceError on a body that is not an AmazonEC2 price list or lacks a needed column.
    """

    def __init__(self, region: str, source: str = "aws") -> None:
        self.region = region
        self.source = source
        self.metadata: dict[str, str] = {}
        self.columns: dict[str, int] | None = None
        self.rows: dict[str, OnDemandRow] = {}
        self.line_no = 0
        self._type_tokens = _QUOTED_TYPE

    def feed(self, line: str) -> None:
        self.line_no += 1
        if self.columns is None:
            self._preamble(line)
            return
        # Most lines are other families or other services: skip them before CSV parsing.
        if "Compute Instance" not in line or not any(
            token in GPU_INSTANCE_TYPES for token in self._type_tokens.findall(line)
        ):
            return
        self._row(next(csv.reader([line]), []))

    def finish(self) -> dict[str, OnDemandRow]:
        if self.columns is None:
            raise SourceError(self.source, f"{self.region} price list ended before its header row")
        return self.rows

    def _preamble(self, line: str) -> None:
        if self.line_no == 1:
            line = line.removeprefix("\ufeff")
        cells = next(csv.reader([line]), [])
        if self.line_no <= 5:
            expected = ("FormatVersion", "Disclaimer", "Publication Date", "Version", "OfferCode")
            if len(cells) < 2 or cells[0] != expected[self.line_no - 1]:
                raise SourceError(
                    self.source,
                    f"{self.region} price list is not an AWS price list CSV "
                    f"(line {self.line_no} should start with {expected[self.line_no - 1]!r})",
                )
            self.metadata[cells[0]] = cells[1]
            if cells[0] == "OfferCode" and cells[1] != "AmazonEC2":
                raise SourceError(self.source, f"{self.region} price list is for {cells[1]!r}, not AmazonEC2")
            return
        missing = [name for name in REQUIRED_COLUMNS if name not in cells]
        if missing:
            raise SourceError(self.source, f"{self.region} price list lacks columns {', '.join(missing)}")
        self.columns = {name: i for i, name in enumerate(cells)}
        self._type_tokens = _QUOTED_TYPE if line.startswith('"') else _BARE_TYPE

    def _cell(self, cells: list[str], name: str) -> str:
        assert self.columns is not None
        index = self.columns.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    def _row(self, cells: list[str]) -> None:
        cell = self._cell
        wanted = (
            ("TermType", "OnDemand"),
            ("Product Family", "Compute Instance"),
            ("Operating System", "Linux"),
            ("Tenancy", "Shared"),
            ("Pre Installed S/W", "NA"),
            ("CapacityStatus", "Used"),
            ("Unit", "Hrs"),
            ("Currency", "USD"),
        )
        if any(cell(cells, name) != value for name, value in wanted):
            return
        if cell(cells, "MarketOption") not in ("", "OnDemand"):
            return  # capacity blocks and the like
        if cell(cells, "Region Code") not in ("", self.region):
            return  # Local Zone / Wavelength rows ride in their parent region's file
        if cell(cells, "License Model") not in ("", "No License required"):
            return
        itype = cell(cells, "Instance Type")
        if itype not in GPU_INSTANCE_TYPES:
            return
        text = cell(cells, "PricePerUnit")
        try:
            price = to_decimal(text, what="PricePerUnit")
        except PricingError as exc:
            raise SourceError(self.source, f"{self.region} price list line {self.line_no}: {exc}") from None
        if price <= 0 or _GIB.match(cell(cells, "Memory")) is None or not cell(cells, "vCPU").isdigit():
            return
        row = OnDemandRow(
            instance_type=itype,
            price_per_unit=text,
            vcpu=cell(cells, "vCPU"),
            memory=cell(cells, "Memory"),
            storage=cell(cells, "Storage"),
            sku=cell(cells, "SKU"),
            rate_code=cell(cells, "RateCode"),
        )
        kept = self.rows.get(itype)
        # Two rows left after the filters would be an AWS quirk; keep the cheaper, deterministically.
        if kept is None or (price, row.sku) < (to_decimal(kept.price_per_unit), kept.sku):
            self.rows[itype] = row


def gib(memory: str) -> float:
    """``"1,152 GiB"`` -> 1152.0."""
    matched = _GIB.match(memory)
    if not matched:
        raise PricingError(f"memory is not 'N GiB': {memory!r}")
    return float(matched.group(1).replace(",", ""))


# --- Spot price history and the Spot Advisor -------------------------------------------------------------


class SpotPoint(NamedTuple):
    instance_type: str
    product_description: str
    spot_price: str
    timestamp: datetime
    availability_zone: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element: ET.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse_spot_price_history(text: str, source: str = "aws") -> tuple[list[SpotPoint], str | None]:
    """The items and the next-page token of a ``DescribeSpotPriceHistoryResponse`` document.

    Items missing a field are skipped (AWS documents none as optional, but a blank zone or price is
    useless); a price that is not a number, or a document of another shape, raises SourceError.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SourceError(source, f"spot price history is not XML ({exc})") from None
    require(
        _local(root.tag) == "DescribeSpotPriceHistoryResponse", source, f"spot answer <{_local(root.tag)}>"
    )
    points: list[SpotPoint] = []
    token: str | None = None
    for child in root:
        name = _local(child.tag)
        if name == "nextToken":
            token = (child.text or "").strip() or None
        elif name == "spotPriceHistorySet":
            for item in child:
                fields = {
                    key: _child_text(item, key)
                    for key in (
                        "instanceType",
                        "productDescription",
                        "spotPrice",
                        "timestamp",
                        "availabilityZone",
                    )
                }
                if not all(fields.values()):
                    continue
                try:
                    to_decimal(fields["spotPrice"], what="spotPrice")
                    stamp = datetime.fromisoformat(fields["timestamp"]).astimezone(UTC)
                except (PricingError, ValueError) as exc:
                    raise SourceError(source, f"bad spot price item: {exc}") from None
                points.append(
                    SpotPoint(
                        fields["instanceType"],
                        fields["productDescription"],
                        fields["spotPrice"],
                        stamp,
                        fields["availabilityZone"],
                    )
                )
    return points, token


def latest_per_zone(points: Sequence[SpotPoint]) -> dict[tuple[str, str], SpotPoint]:
    """The newest Linux/UNIX point per (instance type, Availability Zone)."""
    latest: dict[tuple[str, str], SpotPoint] = {}
    for point in points:
        if point.product_description != SPOT_PRODUCT:
            continue
        key = (point.instance_type, point.availability_zone)
        kept = latest.get(key)
        if kept is None or (point.timestamp, point.spot_price) > (kept.timestamp, kept.spot_price):
            latest[key] = point
    return latest


def _ec2_error(response: httpx.Response) -> str:
    """``Code: Message`` from EC2's ``<Response><Errors><Error>`` body, else the start of the text."""
    try:
        root = ET.fromstring(response.text)
    except ET.ParseError:
        return response.text[:200].strip()
    for element in root.iter():
        if _local(element.tag) == "Error":
            return f"{_child_text(element, 'Code')}: {_child_text(element, 'Message')}"[:300]
    return response.text[:200].strip()


@dataclass(frozen=True)
class SpotAdvisor:
    """The Spot Advisor figures Necto uses: range labels and, per region and Linux type, ``(r, s)``."""

    fetched_at: datetime
    ranges: dict[int, str]
    regions: dict[str, dict[str, tuple[int, int]]]

    def bucket(self, region: str, instance_type: str) -> tuple[str | None, int | None, int | None]:
        """``(label, r, s)``; label None when the advisor does not list the type (or its range)."""
        entry = self.regions.get(region, {}).get(instance_type)
        if entry is None:
            return None, None, None
        r, s = entry
        return self.ranges.get(r), r, s

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _CACHE_FORMAT,
            "fetched_at": self.fetched_at.isoformat(),
            "ranges": {str(k): v for k, v in sorted(self.ranges.items())},
            "regions": {
                region: {t: list(v) for t, v in sorted(types.items())}
                for region, types in sorted(self.regions.items())
            },
        }

    @classmethod
    def from_json(cls, data: Any) -> SpotAdvisor | None:
        try:
            if data.get("format") != _CACHE_FORMAT:
                return None
            fetched = datetime.fromisoformat(data["fetched_at"])
            if fetched.tzinfo is None:
                return None
            ranges = {int(k): str(v) for k, v in data["ranges"].items()}
            regions = {
                str(region): {str(t): (int(v[0]), int(v[1])) for t, v in types.items()}
                for region, types in data["regions"].items()
            }
            return cls(fetched, ranges, regions)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None

    @classmethod
    def from_advisor_file(
        cls, body: Any, regions: Sequence[str], fetched_at: datetime, source: str = "aws"
    ) -> SpotAdvisor:
        """Keep the ranges and the Linux entries of ``regions`` for known GPU types from the advisor file."""
        require(isinstance(body, dict), source, "Spot Advisor file is not an object")
        ranges_raw = body.get("ranges")
        advisor_raw = body.get("spot_advisor")
        require(isinstance(ranges_raw, list), source, "Spot Advisor file has no 'ranges' list")
        require(isinstance(advisor_raw, dict), source, "Spot Advisor file has no 'spot_advisor' object")
        ranges: dict[int, str] = {}
        for entry in ranges_raw:
            require(
                isinstance(entry, dict)
                and isinstance(entry.get("index"), int)
                and isinstance(entry.get("label"), str),
                source,
                "Spot Advisor range without index/label",
            )
            ranges[entry["index"]] = entry["label"]
        kept: dict[str, dict[str, tuple[int, int]]] = {}
        for region in regions:
            by_os = advisor_raw.get(region)
            linux = by_os.get("Linux") if isinstance(by_os, dict) else None
            if not isinstance(linux, dict):
                continue
            kept[region] = {}
            for itype, figures in linux.items():
                if itype not in GPU_INSTANCE_TYPES or not isinstance(figures, dict):
                    continue
                r, s = figures.get("r"), figures.get("s")
                if isinstance(r, int) and not isinstance(r, bool) and isinstance(s, int | float):
                    kept[region][itype] = (r, int(s))
        return cls(fetched_at, ranges, kept)


# --- Cache ---------------------------------------------------------------------------------------------


class JsonCache:
    """Small JSON documents under ``directory`` (written atomically); in memory when directory is None.

    A file that cannot be written (read-only disk) is kept in memory instead: caching never fails a quote.
    """

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, Any] = {}

    def path(self, key: str) -> Path | None:
        return self.directory / f"{key}.json" if self.directory is not None else None

    def load(self, key: str) -> Any:
        path = self.path(key)
        if path is None or key in self._memory:
            return self._memory.get(key)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def store(self, key: str, payload: Any) -> None:
        path = self.path(key)
        if path is None:
            self._memory[key] = payload
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, path)
            self._memory.pop(key, None)
        except OSError:
            self._memory[key] = payload


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _iso_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- The source ---------------------------------------------------------------------------------------


def ebs_usd(storage_gib: Decimal, hours: Decimal) -> Decimal:
    """An EBS gp3 volume of ``storage_gib`` kept ``hours`` (billed per second, a month is 730 h)."""
    return storage_gib * EBS_GP3_USD_PER_GIB_MONTH * hours / 730


class AwsSource:
    """AWS EC2 GPU offers: on-demand (price list) and spot (price history + Spot Advisor)."""

    name = "aws"

    def __init__(
        self,
        pricing_url: str = AWS_PRICING_URL,
        ec2_url: str | Mapping[str, str] = AWS_EC2_URL,
        spot_advisor_url: str = AWS_SPOT_ADVISOR_URL,
        *,
        regions: Sequence[str] = DEFAULT_REGIONS,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        cache_dir: str | Path | None = None,
        cache_ttl_s: int = ON_DEMAND_TTL_S,
        advisor_ttl_s: int = ADVISOR_TTL_S,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        download_timeout_s: float = DOWNLOAD_TIMEOUT_S,
        retries: int = 1,
        clock: Clock = utc_now,
    ) -> None:
        """
        Args:
            pricing_url: Price List bulk API base (``/offers/...`` paths are appended).
            ec2_url: EC2 Query endpoint: a URL with ``{region}`` in it, one URL for every region (a fake),
                or a region -> URL mapping. The SigV4 scope always names the AWS region.
            spot_advisor_url: the Spot Advisor JSON.
            regions: AWS regions to price (those outside the request's region are skipped).
            access_key_id, secret_access_key: for DescribeSpotPriceHistory; without both, no spot offers.
            cache_dir: where the compact price tables and advisor extract live (None: in memory only).
            cache_ttl_s: price-table lifetime; also the on-demand offers' ``ttl_s``.
            timeout_s: per-request (and per-read) timeout; download_timeout_s bounds a whole CSV download.
        """
        self.pricing_url = pricing_url.rstrip("/")
        self.ec2_url = ec2_url
        self.spot_advisor_url = spot_advisor_url
        self.regions = tuple(regions)
        self._access_key_id = access_key_id or ""
        self._secret_access_key = secret_access_key or ""
        self.cache = JsonCache(cache_dir)
        self.cache_ttl_s = cache_ttl_s
        self.advisor_ttl_s = advisor_ttl_s
        self._client = client
        self._transport = transport
        self.timeout_s = timeout_s
        self.download_timeout_s = download_timeout_s
        self.retries = retries
        self.clock = clock
        self._refreshing: dict[str, asyncio.Task[Any]] = {}

    def __repr__(self) -> str:  # never show the secret
        return f"AwsSource(pricing_url={self.pricing_url!r}, regions={self.regions!r}, spot={self.has_credentials})"

    @property
    def has_credentials(self) -> bool:
        return bool(self._access_key_id and self._secret_access_key)

    def regions_for(self, request: ComputeRequest) -> list[str]:
        return [r for r in self.regions if region_matches(request.region, necto_region(r))]

    # --- fetch ---------------------------------------------------------------------------------------

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """On-demand and spot offers for the EC2 GPU types matching the request's GPU model and count."""
        types = instance_types_for(request)
        regions = self.regions_for(request)
        if not types or not regions:
            return []
        started = self.clock()
        spot = self.has_credentials
        tables_job = asyncio.gather(*(self.on_demand_table(region) for region in regions))
        advisor_job = self.spot_advisor() if spot else _nothing()
        spot_jobs = [self.spot_prices(region, types, started) for region in regions] if spot else []
        tables, advisor, *spot_results = await asyncio.gather(
            tables_job, advisor_job, *spot_jobs, return_exceptions=True
        )
        if isinstance(tables, BaseException):
            raise _as_source_error(self.name, tables, "price list")
        advisor_failure = None
        if isinstance(advisor, BaseException):
            advisor_failure = _as_source_error(self.name, advisor, "Spot Advisor").reason
            advisor = None
        observed = self.clock()
        hours = to_decimal(request.hours)
        storage = to_decimal(request.storage_gib, what="storage_gib")
        offers: list[Offer] = []
        for index, (region, table) in enumerate(zip(regions, tables, strict=True)):
            spot_notes: list[str] = []
            points: dict[tuple[str, str], SpotPoint] = {}
            if not spot:
                spot_notes.append("no AWS credentials configured, so no spot prices were asked for")
            else:
                result = spot_results[index]
                if isinstance(result, BaseException):
                    reason = _as_source_error(self.name, result, "spot prices").reason
                    spot_notes.append(f"spot prices unavailable in {region}: {reason}")
                else:
                    points = result
            for itype in types:
                row = table.rows.get(itype)
                if row is None:
                    continue
                offers.append(self._on_demand_offer(table, row, hours, spot_notes, storage))
                for (point_type, _zone), point in sorted(points.items()):
                    if point_type == itype:
                        offers.append(
                            self._spot_offer(
                                region, row, point, hours, observed, advisor, advisor_failure, storage
                            )
                        )
        return offers

    # --- offers ----------------------------------------------------------------------------------------

    def _common(self, region: str, row: OnDemandRow) -> dict[str, Any]:
        gpu = aws_gpu(row.instance_type)
        assert gpu is not None  # rows are kept only for GPU_INSTANCE_TYPES
        return dict(
            provider="AWS",
            source=self.name,
            region=necto_region(region),
            gpu_model=gpu.model,
            gpu_count=GPU_INSTANCE_TYPES[row.instance_type].count,
            gpu_memory_gib=gpu.memory_gib,
            cpu=float(row.vcpu),
            memory_gib=gib(row.memory),
            storage_gib=None,  # EBS volumes of any size attach (billed apart); instance store is in inputs
            deployable=False,
            estimate=False,
        )

    def _performance(
        self, usd_per_hour: Decimal, instance_type: str
    ) -> tuple[Decimal | None, Decimal | None]:
        gpu = aws_gpu(instance_type)
        assert gpu is not None
        count = GPU_INSTANCE_TYPES[instance_type].count
        return (
            usd_per_effective_pflop_hour(
                usd_per_hour, gpu.model, count, interface=gpu.interface, memory_gib=gpu.memory_gib
            ),
            effective_pflops(gpu.model, count, interface=gpu.interface, memory_gib=gpu.memory_gib),
        )

    def _on_demand_offer(
        self, table: PriceTable, row: OnDemandRow, hours: Decimal, extra_notes: list[str], storage_gib: Decimal
    ) -> Offer:
        price = to_decimal(row.price_per_unit, what="PricePerUnit")
        billed = billed_seconds(hours, increment_s=BILLING_INCREMENT_S, minimum_s=BILLING_MINIMUM_S)
        ebs = ebs_usd(storage_gib, billed / 3600)
        total = billed_cost(
            price, hours, increment_s=BILLING_INCREMENT_S, minimum_s=BILLING_MINIMUM_S, storage_usd=ebs
        )
        per_pflop, pflops = self._performance(price, row.instance_type)
        published = table.publication_date or "date unknown"
        return Offer(
            offer_id=f"aws:{row.instance_type}:{table.region}",
            pricing_model="fixed",
            provider_region=table.region,
            usd_per_hour=price,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=pflops,
            observed_at=table.fetched_at,
            ttl_s=int(self.cache_ttl_s),
            capacity_available=None,  # the price list says nothing about capacity
            notes=[
                f"on-demand list price from the AWS Price List (published {published}), billed per second "
                f"with a 60 s minimum; total includes a {storage_gib} GiB EBS gp3 volume; egress (about "
                f"{EGRESS_USD_PER_GB} USD/GB) is extra",
                *extra_notes,
            ],
            inputs=exact_inputs(
                instance_type=row.instance_type,
                price_per_unit=row.price_per_unit,
                usd_per_hour=price,
                hours=hours,
                billing_increment_s=BILLING_INCREMENT_S,
                billing_minimum_s=BILLING_MINIMUM_S,
                billed_seconds=billed,
                storage_gib=storage_gib,
                ebs_gp3_usd_per_gib_month=EBS_GP3_USD_PER_GIB_MONTH,
                ebs_usd=ebs,
                usd_total=total,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=pflops,
                sku=row.sku or None,
                rate_code=row.rate_code or None,
                price_list_version=table.version or None,
                instance_storage=row.storage or None,
            ),
            **{**self._common(table.region, row), "storage_gib": float(storage_gib)},
        )

    def _spot_offer(
        self,
        region: str,
        row: OnDemandRow,
        point: SpotPoint,
        hours: Decimal,
        observed: datetime,
        advisor: SpotAdvisor | None,
        advisor_failure: str | None,
        storage_gib: Decimal,
    ) -> Offer:
        price = to_decimal(point.spot_price, what="spotPrice")
        label, r, savings = advisor.bucket(region, row.instance_type) if advisor else (None, None, None)
        notes = [
            f"spot price in {point.availability_zone} as of {_iso_z(point.timestamp)}; billed per second; "
            f"total includes a {storage_gib} GiB EBS gp3 volume for the expected wall time; egress extra"
        ]
        if label is None or label not in INTERRUPTION_BUCKETS:
            if advisor is None:
                notes.append(
                    f"Spot Advisor unavailable ({advisor_failure}): assumed the {PESSIMISTIC_BUCKET} bucket"
                )
            elif r is None:
                notes.append(
                    f"Spot Advisor has no data for {row.instance_type} in {region}: "
                    f"assumed the {PESSIMISTIC_BUCKET} bucket"
                )
            else:
                notes.append(
                    f"Spot Advisor range {r} is unknown ({label!r}): assumed the {PESSIMISTIC_BUCKET} bucket"
                )
            label = PESSIMISTIC_BUCKET
        compute, wall = spot_expected_cost(price, hours, bucket=label)
        ebs = ebs_usd(storage_gib, wall)  # the volume is billed through interruptions too
        expected = compute + ebs
        notes.append(
            f"may be interrupted: {label} of these instances are interrupted per month (Spot Advisor bucket), "
            f"so the total is the expected cost ({wall.quantize(Decimal('0.01'))} wall hours for {hours} useful)"
        )
        per_pflop, pflops = self._performance(price, row.instance_type)
        return Offer(
            offer_id=f"aws-spot:{row.instance_type}:{point.availability_zone}",
            pricing_model="spot",
            provider_region=point.availability_zone,
            usd_per_hour=price,
            usd_total=expected,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=pflops,
            observed_at=observed,
            ttl_s=SPOT_TTL_S,
            capacity_available=None,
            notes=notes,
            inputs=exact_inputs(
                instance_type=row.instance_type,
                availability_zone=point.availability_zone,
                spot_price=point.spot_price,
                spot_price_timestamp=_iso_z(point.timestamp),
                usd_per_hour=price,
                hours=hours,
                interruption_bucket=label,
                spot_advisor_range=r,
                spot_advisor_savings_pct=savings,
                hazard_per_hour=hazard_from_bucket(label),
                restart_overhead_h=DEFAULT_RESTART_OVERHEAD_H,
                checkpoint_write_h=DEFAULT_CHECKPOINT_WRITE_H,
                expected_wall_hours=wall,
                storage_gib=storage_gib,
                ebs_gp3_usd_per_gib_month=EBS_GP3_USD_PER_GIB_MONTH,
                ebs_usd=ebs,
                usd_total=expected,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=pflops,
                on_demand_usd_per_hour=row.price_per_unit,
            ),
            **{**self._common(region, row), "storage_gib": float(storage_gib)},
        )

    # --- input 1: the on-demand price list -----------------------------------------------------------

    def _table_key(self, region: str) -> str:
        return f"aws-ec2-ondemand-{region}-{_digest(self.pricing_url)}"

    async def on_demand_table(self, region: str) -> PriceTable:
        """The region's compact on-demand table: from the cache while fresh, else downloaded.

        One download per region at a time; it is shielded, so a caller that gives up (a quote timeout)
        leaves it running to fill the cache for the next quote.
        """
        key = self._table_key(region)
        cached = PriceTable.from_json(self.cache.load(key))
        if cached is not None and cached.region == region and cached.is_fresh(self.clock(), self.cache_ttl_s):
            return cached
        task = self._refreshing.get(key)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.create_task(self._download_table(region, key), name=f"aws-price-list-{region}")
            self._refreshing[key] = task
            task.add_done_callback(lambda done, key=key: self._forget(key, done))
        return await asyncio.shield(task)

    def _forget(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._refreshing.get(key) is task:
            del self._refreshing[key]
        if not task.cancelled():
            task.exception()  # retrieved here so a download nobody awaits any more does not warn

    async def _download_table(self, region: str, key: str) -> PriceTable:
        async with self._http() as client:
            index = await HttpJson(
                self.name, client=client, timeout_s=self.timeout_s, retries=self.retries
            ).get(self.pricing_url + REGION_INDEX_PATH)
            require(
                isinstance(index, dict) and isinstance(index.get("regions"), dict),
                self.name,
                "region index has no 'regions'",
            )
            entry = index["regions"].get(region)
            if not isinstance(entry, dict):
                raise SourceError(self.name, f"region {region!r} is not in the EC2 price list index")
            version_url = entry.get("currentVersionUrl")
            require(
                isinstance(version_url, str)
                and version_url.startswith("/")
                and version_url.endswith("/index.json"),
                self.name,
                f"region {region} has no '/...index.json' currentVersionUrl",
            )
            url = self.pricing_url + version_url.removesuffix(".json") + ".csv"
            try:
                async with asyncio.timeout(self.download_timeout_s):
                    parser = await self._stream_price_list(client, url, region)
            except TimeoutError:
                raise SourceError(
                    self.name,
                    f"{region} price list took longer than {self.download_timeout_s:g}s to download",
                ) from None
        table = PriceTable(
            region=region,
            fetched_at=self.clock(),
            publication_date=parser.metadata.get("Publication Date", ""),
            version=parser.metadata.get("Version", ""),
            url=url,
            rows=parser.finish(),
        )
        self.cache.store(key, table.to_json())
        return table

    async def _stream_price_list(self, client: httpx.AsyncClient, url: str, region: str) -> PriceListParser:
        attempt = 0
        while True:
            parser = PriceListParser(region, self.name)  # a retry starts over: nothing half-fed survives
            try:
                async with client.stream("GET", url, timeout=self.timeout_s) as response:
                    if response.status_code in _RETRY_STATUS:
                        failure = f"HTTP {response.status_code} from {url}"
                    elif response.is_error:
                        detail = (await response.aread())[:200].decode("utf-8", "replace").strip()
                        raise SourceError(self.name, f"HTTP {response.status_code} from {url}: {detail}")
                    else:
                        async for line in _lines(response, self.name):
                            parser.feed(line)
                        parser.finish()
                        return parser
            except httpx.TimeoutException:
                failure = f"timed out after {self.timeout_s:g}s (GET {url})"
            except httpx.TransportError as exc:
                failure = f"cannot reach {url}: {type(exc).__name__}"
            if attempt >= self.retries:
                raise SourceError(self.name, failure)
            attempt += 1
            await asyncio.sleep(RETRY_BACKOFF_S * attempt)

    # --- input 2: spot price history ------------------------------------------------------------------

    def ec2_endpoint(self, region: str) -> str:
        if isinstance(self.ec2_url, Mapping):
            url = self.ec2_url.get(region)
            if not url:
                raise SourceError(self.name, f"no EC2 endpoint configured for {region}")
            return url
        return self.ec2_url.replace("{region}", region)

    async def spot_prices(
        self, region: str, instance_types: Sequence[str], now: datetime
    ) -> dict[tuple[str, str], SpotPoint]:
        """The latest Linux/UNIX spot price per (instance type, AZ) in ``region`` (all pages)."""
        params = [
            ("Action", "DescribeSpotPriceHistory"),
            ("Version", EC2_API_VERSION),
            ("StartTime", _iso_z(now - SPOT_LOOKBACK)),
            ("ProductDescription.1", SPOT_PRODUCT),
            *((f"InstanceType.{i}", itype) for i, itype in enumerate(instance_types, start=1)),
            ("MaxResults", "1000"),
        ]
        url = self.ec2_endpoint(region)
        points: list[SpotPoint] = []
        token: str | None = None
        async with self._http() as client:
            for _page in range(MAX_SPOT_PAGES):
                form = params + ([("NextToken", token)] if token else [])
                body = urlencode(form, quote_via=quote).encode("ascii")
                page, token = parse_spot_price_history(
                    await self._ec2_call(client, url, region, body), self.name
                )
                points.extend(page)
                if not token:
                    return latest_per_zone(points)
        raise SourceError(self.name, f"spot price history in {region} went past {MAX_SPOT_PAGES} pages")

    async def _ec2_call(self, client: httpx.AsyncClient, url: str, region: str, body: bytes) -> str:
        attempt = 0
        while True:
            request = client.build_request(
                "POST",
                url,
                content=body,
                headers={"Content-Type": _FORM_CONTENT_TYPE},
                timeout=self.timeout_s,
            )
            # Signed per attempt: the date is part of the signature.
            request.headers.update(
                sigv4.sign(
                    "POST",
                    str(request.url),
                    headers={"Content-Type": _FORM_CONTENT_TYPE, "Host": request.headers["Host"]},
                    body=body,
                    access_key_id=self._access_key_id,
                    secret_access_key=self._secret_access_key,
                    region=region,
                    service=EC2_SERVICE,
                    now=self.clock(),
                )
            )
            try:
                response = await client.send(request)
            except httpx.TimeoutException:
                failure = f"timed out after {self.timeout_s:g}s (POST {url})"
            except httpx.TransportError as exc:
                failure = f"cannot reach {url}: {type(exc).__name__}"
            else:
                if response.status_code in _RETRY_STATUS:
                    failure = f"HTTP {response.status_code} from {url}: {_ec2_error(response)}"
                elif response.is_error:
                    raise SourceError(self.name, f"HTTP {response.status_code}: {_ec2_error(response)}")
                else:
                    return response.text
            if attempt >= self.retries:
                raise SourceError(self.name, failure)
            attempt += 1
            await asyncio.sleep(RETRY_BACKOFF_S * attempt)

    # --- input 3: the Spot Advisor ---------------------------------------------------------------------

    def _advisor_key(self) -> str:
        return f"aws-spot-advisor-{_digest(self.spot_advisor_url + '|' + ','.join(self.regions))}"

    async def spot_advisor(self) -> SpotAdvisor:
        key = self._advisor_key()
        cached = SpotAdvisor.from_json(self.cache.load(key))
        if cached is not None:
            age = (self.clock() - cached.fetched_at).total_seconds()
            if 0 <= age < self.advisor_ttl_s:
                return cached
        async with self._http() as client:
            body = await HttpJson(
                self.name, client=client, timeout_s=self.timeout_s, retries=self.retries
            ).get(self.spot_advisor_url)
        advisor = SpotAdvisor.from_advisor_file(body, self.regions, self.clock(), self.name)
        self.cache.store(key, advisor.to_json())
        return advisor

    # --- plumbing ---------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[httpx.AsyncClient]:
        """The injected client (left open), else a client of our own for this one job."""
        if self._client is not None:
            yield self._client
            return
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.timeout_s, verify=default_ssl_context()
        ) as client:
            yield client


async def _nothing() -> None:
    return None


def _as_source_error(source: str, exc: BaseException, what: str) -> SourceError:
    """``exc`` as a SourceError; cancellations and interrupts are re-raised, never turned into notes."""
    if isinstance(exc, SourceError):
        return exc
    if not isinstance(exc, Exception):
        raise exc
    return SourceError(source, f"{what} failed: {type(exc).__name__}: {exc}"[:300])


async def _lines(response: httpx.Response, source: str) -> AsyncIterator[str]:
    """The body's lines without line ends; SourceError for a line longer than MAX_LINE_CHARS."""
    pending = ""
    async for chunk in response.aiter_text():
        pending += chunk
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line.rstrip("\r")
        if len(pending) > MAX_LINE_CHARS:
            raise SourceError(
                source, f"a price list line is longer than {MAX_LINE_CHARS} characters: not a CSV"
            )
    if pending:
        yield pending.rstrip("\r")


__all__ = [
    "AWS_EC2_URL",
    "AWS_PRICING_URL",
    "AWS_SPOT_ADVISOR_URL",
    "DEFAULT_REGIONS",
    "GPU_INSTANCE_TYPES",
    "AwsSource",
    "PriceListParser",
    "PriceTable",
    "SpotAdvisor",
    "instance_types_for",
    "parse_spot_price_history",
]
