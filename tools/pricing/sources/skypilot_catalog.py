"""Offers from SkyPilot price catalogs: ``<catalog_dir>/<cloud>/vms.csv`` (pricing.md §4).

Columns ``InstanceType, AcceleratorName, AcceleratorCount, vCPUs, MemoryGiB, Price, Region, GpuInfo,
SpotPrice`` in any order (RunPod adds ``AvailabilityZone``, Spheron ``Provider``). Prices are USD/hour list
prices from a snapshot, so offers are ``estimate=True`` and observed at the file's modification time.

Rows are streamed and filtered by the request's GPU model and count before any offer is built. Rows
without ``Price`` are skipped. A positive ``SpotPrice`` adds a separate spot offer whose total is the
expected cost under the most pessimistic Spot Advisor bucket (catalogs carry no interruption data).
Rows differing only by zone or location (same instance type, Necto region and prices) become one offer;
its ``inputs["locations"]`` lists them as one CSV record (Vast locations such as "Oregon, US, NA" contain
commas, so read it with ``csv.reader``).

``gpu_memory_gib`` comes from the accelerator name when it says ("A100-80GB"), else from ``GpuInfo``'s first
``MemoryInfo.SizeInMiB``, whose meaning depends on the cloud's SkyPilot fetcher: per GPU in MiB (Lambda,
Spheron, AWS-style), per GPU in GB despite the name (Shadeform, RunPod: values below 1024), or the total
over all GPUs in MiB (Vast, ``gpu_total_ram``). Vast calls every A100 plain "A100" (SkyPilot's name for the
40 GB card), so without this an 80 GB Vast A100 would read as 40 GB.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from tools.pricing.gpus import catalog_gpu
from tools.pricing.normalize import (
    PricingError,
    billed_cost,
    effective_pflops,
    necto_region,
    spot_expected_cost,
    to_decimal,
    usd_per_effective_pflop_hour,
)
from tools.pricing.offer import Offer, exact_inputs
from tools.pricing.sources import SourceError
from tools.request import ComputeRequest

CATALOG_TTL_S = 6 * 3600  # catalogs: hours (pricing.md §3)
SPOT_BUCKET = ">20%"
DISPLAY_NAMES = {
    "lambda": "Lambda",
    "runpod": "RunPod",
    "vast": "Vast.ai",
    "shadeform": "Shadeform",
    "spheron": "Spheron",
    "aws": "AWS",
    "gcp": "GCP",
    "azure": "Azure",
    "oci": "OCI",
}
_REQUIRED = {"InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "Price", "Region"}
_NAMED_MEMORY = re.compile(r"(?:^|[-_\s])\d+G(?:B|I|IB)?(?:$|[-_\s])", re.IGNORECASE)  # "A100-80GB"
_GPU_INFO_SIZE = re.compile(r"""['"]SizeInMiB['"]\s*:\s*([0-9]+(?:\.[0-9]+)?)""")
# Clouds whose fetcher writes the total memory of all GPUs into MemoryInfo.SizeInMiB (fetch_vast.py).
GPU_INFO_TOTAL_CLOUDS = frozenset({"vast"})


def gpu_info_memory_gib(cloud: str, gpu_info: str | None, gpu_count: int) -> float | None:
    """Per-GPU memory in GiB (whole number) from a SkyPilot ``GpuInfo`` cell, or None if it has none.

    See the module docstring for the three conventions: values below 1024 are GB already; Vast's is the
    total over ``gpu_count`` GPUs.
    """
    found = _GPU_INFO_SIZE.search(gpu_info or "")
    if not found:
        return None
    value = float(found.group(1))
    if value <= 0:
        return None
    if cloud in GPU_INFO_TOTAL_CLOUDS and gpu_count > 1:
        value /= gpu_count
    gib = value if value < 1024 else value / 1024
    return float(round(gib))


def _csv_record(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


class SkyPilotCatalogSource:
    """Every cloud folder under ``catalog_dir`` (``common`` skipped), read in place."""

    name = "skypilot"

    def __init__(
        self,
        catalog_dir: str | Path,
        *,
        clouds: tuple[str, ...] | None = None,
        observed_at: datetime | None = None,
        ttl_s: int = CATALOG_TTL_S,
    ) -> None:
        self.catalog_dir = Path(catalog_dir)
        self.clouds = clouds
        self.observed_at = observed_at
        self.ttl_s = ttl_s

    def cloud_files(self) -> list[tuple[str, Path]]:
        if not self.catalog_dir.is_dir():
            raise SourceError(self.name, f"no catalog directory at {self.catalog_dir}")
        found = []
        for folder in sorted(self.catalog_dir.iterdir()):
            if folder.name == "common" or not (folder / "vms.csv").is_file():
                continue
            if self.clouds is None or folder.name in self.clouds:
                found.append((folder.name, folder / "vms.csv"))
        return found

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """Offers from every catalog matching the request's GPU model and count (file I/O in a thread)."""
        return await asyncio.to_thread(self.offers, request)

    def offers(self, request: ComputeRequest) -> list[Offer]:
        offers: list[Offer] = []
        for cloud, path in self.cloud_files():
            offers.extend(self.cloud_offers(cloud, path, request))
        return offers

    def cloud_offers(self, cloud: str, path: Path, request: ComputeRequest) -> list[Offer]:
        source = f"skypilot:{cloud}"
        observed = self.observed_at or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        offers: dict[str, Offer] = {}
        zones: dict[str, set[str]] = {}
        try:
            for row in self._rows(path, source):
                for offer_id, location, build in self._row_offers(cloud, source, row, request, observed):
                    if offer_id not in offers:
                        offers[offer_id] = build()  # later rows of the same offer only add a location
                    zones.setdefault(offer_id, set()).add(location)
        except (KeyError, ValueError, PricingError) as exc:
            raise SourceError(source, f"bad row in {path.name}: {exc}") from None
        result = []
        for offer_id, offer in offers.items():
            seen = sorted(zones.get(offer_id, ()))
            if len(seen) > 1:
                offer = offer.model_copy(
                    update={
                        "inputs": {**offer.inputs, "locations": _csv_record(seen)},
                        "notes": [*offer.notes, f"{len(seen)} locations in this region at this price"],
                    }
                )
            result.append(offer)
        return result

    @staticmethod
    def _rows(path: Path, source: str) -> Iterator[dict[str, str]]:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = _REQUIRED - set(reader.fieldnames or ())
            if missing:
                raise SourceError(source, f"{path} lacks columns {', '.join(sorted(missing))}")
            yield from reader

    def _row_offers(
        self, cloud: str, source: str, row: dict[str, str], request: ComputeRequest, observed: datetime
    ) -> Iterator[tuple[str, str, Callable[[], Offer]]]:
        """``(offer_id, location, build)`` for the row's fixed offer and, with a SpotPrice, its spot offer.

        ``build()`` makes the Offer. It is deferred because many rows (RunPod zones, one row per region
        elsewhere) collapse into an offer an earlier row already built; those only add their location.
        """
        accelerator = (row.get("AcceleratorName") or "").strip()
        # Filter early: the cheap string checks come before any Decimal or Offer is built.
        if request.gpu_count == 0:
            if accelerator:
                return
            gpu = None
            gpus = 0
        else:
            if not accelerator:
                return
            gpus = int(float(row["AcceleratorCount"] or 0))
            if gpus != request.gpu_count:
                return
            gpu_info = row.get("GpuInfo") or ""
            gpu = catalog_gpu(accelerator, hint=f"{gpu_info} {row['InstanceType']}")
            if gpu is None or (request.gpu_model and gpu.model != request.gpu_model):
                return
            gpu_memory = gpu.memory_gib
            if not _NAMED_MEMORY.search(accelerator):
                gpu_memory = gpu_info_memory_gib(cloud, gpu_info, gpus) or gpu_memory
        price_text = (row.get("Price") or "").strip()
        if not price_text:
            return
        price = to_decimal(price_text, what="Price")
        spot_text = (row.get("SpotPrice") or "").strip()
        spot = to_decimal(spot_text, what="SpotPrice") if spot_text else Decimal(0)
        itype = row["InstanceType"].strip()
        raw_region = row["Region"].strip()
        zone = (row.get("AvailabilityZone") or "").strip()
        region = necto_region(zone) if zone else None
        region = region or necto_region(raw_region)
        place = region or f"raw:{raw_region}"
        location = zone or raw_region
        hours = to_decimal(request.hours)
        snapshot = "catalog snapshot list price; check the provider for today's price"
        model = gpu.model if gpu else None
        interface = gpu.interface if gpu else None
        if gpu is None:
            gpu_memory = None
        # The performance variant keeps catalog_gpu's choice when it had no memory: a GpuInfo 80 GB must not
        # turn an "H100_NVL"/"NVLINK" row (an 80 GB NVLink-bridged card in these catalogs) into an SXM one.
        # Where catalog_gpu had a memory (A100: named, or its 40 GB default) the variants' TFLOPS agree.
        spec_memory = gpu_memory if gpu is not None and gpu.memory_gib is not None else None

        def base() -> dict:
            seller = (row.get("Provider") or "").strip()
            return dict(
                provider=DISPLAY_NAMES.get(cloud, cloud.capitalize()) + (f" / {seller}" if seller else ""),
                source=source,
                region=region,
                provider_region=location,
                gpu_model=model,
                gpu_count=gpus,
                gpu_memory_gib=gpu_memory,
                cpu=float(row["vCPUs"]),
                memory_gib=float(row["MemoryGiB"]),
                storage_gib=None,
                effective_pflops=effective_pflops(model, gpus, interface=interface, memory_gib=spec_memory),
                observed_at=observed,
                ttl_s=self.ttl_s,
                deployable=False,
                estimate=True,
            )

        def per_pflop(usd_per_hour: Decimal) -> Decimal | None:
            return usd_per_effective_pflop_hour(
                usd_per_hour, model, gpus, interface=interface, memory_gib=spec_memory
            )

        def fixed() -> Offer:
            total = billed_cost(price, hours)
            pflop = per_pflop(price)
            return Offer(
                offer_id=fixed_id,
                pricing_model="fixed",
                usd_per_hour=price,
                usd_total=total,
                usd_per_effective_pflop_hour=pflop,
                notes=[snapshot],
                inputs=exact_inputs(
                    instance_type=itype,
                    accelerator=accelerator or None,
                    catalog_price=price_text,
                    usd_per_hour=price,
                    hours=hours,
                    usd_total=total,
                    usd_per_effective_pflop_hour=pflop,
                ),
                **base(),
            )

        def spot_offer() -> Offer:
            expected, wall = spot_expected_cost(spot, hours, bucket=SPOT_BUCKET)
            pflop = per_pflop(spot)
            return Offer(
                offer_id=spot_id,
                pricing_model="spot",
                usd_per_hour=spot,
                usd_total=expected,
                usd_per_effective_pflop_hour=pflop,
                notes=[
                    snapshot,
                    f"spot: may be interrupted; total is the expected cost assuming the {SPOT_BUCKET} "
                    f"monthly interruption bucket ({wall.quantize(Decimal('0.01'))} wall hours for {hours} useful)",
                ],
                inputs=exact_inputs(
                    instance_type=itype,
                    accelerator=accelerator or None,
                    catalog_spot_price=spot_text,
                    usd_per_hour=spot,
                    hours=hours,
                    interruption_bucket=SPOT_BUCKET,
                    expected_wall_hours=wall,
                    usd_total=expected,
                    usd_per_effective_pflop_hour=pflop,
                ),
                **base(),
            )

        fixed_id = f"{source}:{itype}:{place}:{price}"
        spot_id = f"{source}:{itype}:{place}:{spot}:spot"
        yield fixed_id, location, fixed
        if spot > 0:
            yield spot_id, location, spot_offer
