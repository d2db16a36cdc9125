"""SkyPilotCatalogSource on the shared v8 catalogs (read in place) and on small hand-written ones."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tools.pricing.quote import gather_quote
from tools.pricing.sources import SourceError
from tools.pricing.sources.skypilot_catalog import SkyPilotCatalogSource
from tools.request import ComputeRequest

CATALOG = Path(__file__).resolve().parents[3] / "shared" / "data" / "skypilot-catalog" / "v8"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal

needs_catalog = pytest.mark.skipif(not CATALOG.is_dir(), reason="shared SkyPilot catalog not present")


@needs_catalog
async def test_one_a100_from_several_clouds_cheapest_first():
    request = ComputeRequest(gpu_model="a100", gpu_count=1, hours=10, objective="cheapest")
    quote = await gather_quote(request, [SkyPilotCatalogSource(CATALOG, observed_at=NOW)], now=NOW)
    offers = [r.offer for r in quote.ranking.offers]
    assert {o.source for o in offers} >= {
        "skypilot:lambda",
        "skypilot:runpod",
        "skypilot:shadeform",
        "skypilot:vast",
    }
    totals = [o.usd_total for o in offers]
    assert totals == sorted(totals)
    assert all(o.gpu_model == "a100" and o.gpu_count == 1 for o in offers)
    assert all(o.estimate and not o.deployable for o in offers)
    assert quote.skipped == []


@needs_catalog
def test_filters_early_and_fast():
    src = SkyPilotCatalogSource(CATALOG, observed_at=NOW)
    start = time.perf_counter()
    offers = src.offers(ComputeRequest(gpu_model="h100", gpu_count=8))
    assert time.perf_counter() - start < 2.0
    assert offers and all(o.gpu_model == "h100" and o.gpu_count == 8 for o in offers)


@needs_catalog
def test_cpu_only_request():
    offers = SkyPilotCatalogSource(CATALOG, observed_at=NOW).offers(ComputeRequest(cpu=2, memory_gib=4))
    assert offers and all(o.gpu_count == 0 and o.gpu_model is None for o in offers)
    assert {o.source for o in offers} == {"skypilot:lambda"}  # the only catalog here with CPU rows


@needs_catalog
def test_rows_without_price_are_skipped_and_spot_rows_add_offers():
    src = SkyPilotCatalogSource(CATALOG, observed_at=NOW, clouds=("spheron", "runpod"))
    offers = src.offers(ComputeRequest(gpu_model="a100", gpu_count=1, hours=100))
    assert not any("spot__CANADA-1" in o.offer_id for o in offers)  # n3-A100x1-spot has an empty Price
    spot = [o for o in offers if o.pricing_model == "spot"]
    assert spot and all(o.source == "skypilot:runpod" for o in spot)
    one = spot[0]
    assert one.usd_total > one.usd_per_hour * 100  # expected interruption overhead
    assert one.inputs["interruption_bucket"] == ">20%"
    assert any("may be interrupted" in n for n in one.notes)


@needs_catalog
def test_zones_collapse_and_regions_map():
    offers = SkyPilotCatalogSource(CATALOG, observed_at=NOW, clouds=("runpod",)).offers(
        ComputeRequest(gpu_model="a100", gpu_count=1)
    )
    ids = [o.offer_id for o in offers]
    assert len(ids) == len(set(ids))
    # Texas, Kansas, Illinois... zones at one price collapse into one us-central offer per instance type
    central = [o for o in offers if o.region == "us-central" and o.pricing_model == "fixed"]
    assert central and all("US-TX-3" in o.inputs["locations"].split(",") for o in central)
    assert all(o.region is not None for o in offers)


def write_catalog(root: Path, cloud: str, text: str) -> None:
    (root / cloud).mkdir(parents=True)
    (root / cloud / "vms.csv").write_text(text, newline="")
    (root / "common").mkdir(exist_ok=True)
    (root / "common" / "accelerators.csv").write_text("AcceleratorName,Clouds\r\n")


def test_hand_written_catalog_with_spot_and_column_order(tmp_path):
    write_catalog(
        tmp_path,
        "mycloud",
        "Region,InstanceType,Price,SpotPrice,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo\r\n"
        "us-east-1,g.a100,2.00,0.80,A100-80GB,1.0,12,96,\r\n"
        "us-east-1,g.h100,3.00,,H100,1.0,16,128,\r\n"
        "us-east-1,c.small,0.10,,,,2,8,\r\n",
    )
    src = SkyPilotCatalogSource(tmp_path, observed_at=NOW)
    offers = src.offers(ComputeRequest(gpu_model="a100", gpu_count=1, hours=100))
    assert [o.pricing_model for o in offers] == ["fixed", "spot"]
    fixed, spot = offers
    assert fixed.offer_id == "skypilot:mycloud:g.a100:us-east:2.00"
    assert fixed.usd_total == D("200.00") and fixed.gpu_memory_gib == 80.0 and fixed.provider == "Mycloud"
    assert fixed.region == "us-east" and fixed.ttl_s == 6 * 3600 and fixed.observed_at == NOW
    # >20 % bucket: lambda = -ln(0.7)/730 = 4.886e-4; c* = sqrt(2 (1/12) / lambda) = 18.47 h
    # W = 100 (1 + 0.08333/18.47) / (1 - lambda (0.25 + 9.234)) = 100 * 1.004512 / 0.995366 = 100.919 h
    assert spot.usd_per_hour == D("0.80")
    assert abs(spot.usd_total - D("0.80") * D(spot.inputs["expected_wall_hours"])) < D("1e-20")
    assert abs(D(spot.inputs["expected_wall_hours"]) - D("100.919")) < D("0.001")


def test_observed_at_defaults_to_file_time(tmp_path):
    write_catalog(
        tmp_path,
        "c",
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region\r\nx,,,2,4,0.1,us-west-1\r\n",
    )
    offer = SkyPilotCatalogSource(tmp_path).offers(ComputeRequest())[0]
    assert abs(offer.observed_at.timestamp() - (tmp_path / "c" / "vms.csv").stat().st_mtime) < 1


def test_bad_catalogs_raise_source_error(tmp_path):
    with pytest.raises(SourceError, match="no catalog directory"):
        SkyPilotCatalogSource(tmp_path / "missing").offers(ComputeRequest())
    write_catalog(tmp_path, "broken", "InstanceType,Price\r\nx,1\r\n")
    with pytest.raises(SourceError, match="lacks columns"):
        SkyPilotCatalogSource(tmp_path).offers(ComputeRequest())


def test_garbage_price_is_a_source_error(tmp_path):
    write_catalog(
        tmp_path,
        "c",
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,Region\r\nx,,,2,4,cheap,us-west-1\r\n",
    )
    with pytest.raises(SourceError, match="bad row"):
        SkyPilotCatalogSource(tmp_path).offers(ComputeRequest())
