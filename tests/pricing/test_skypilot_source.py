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


def test_gpu_info_memory_conventions():
    from tools.pricing.sources.skypilot_catalog import gpu_info_memory_gib

    lambda_8x = "{'Gpus': [{'Name': 'A100', 'Count': 8.0, 'MemoryInfo': {'SizeInMiB': 40960}}], 'TotalGpuMemoryInMiB': 40960}"
    shadeform_4x = "{'Gpus': [{'Name': 'A100-80GB', 'Count': 4.0, 'MemoryInfo': {'SizeInMiB': 80}, 'TotalGpuMemoryInMiB': 320}]}"
    vast_2x = "{'Gpus': [{'Name': 'A100', 'Count': 2, 'MemoryInfo': {'SizeInMiB': 81920}}], 'TotalGpuMemoryInMiB': 81920}"
    spheron = '{"Gpus": [{"Name": "H100_SXM5", "Count": 1.0, "MemoryInfo": {"SizeInMiB": 81920}}]}'
    assert gpu_info_memory_gib("lambda", lambda_8x, 8) == 40.0  # per GPU, MiB
    assert gpu_info_memory_gib("shadeform", shadeform_4x, 4) == 80.0  # per GPU, GB in a MiB field
    assert gpu_info_memory_gib("vast", vast_2x, 2) == 40.0  # Vast: the total over all GPUs
    assert gpu_info_memory_gib("vast", vast_2x.replace("81920", "95830"), 1) == 94.0  # H100 NVL
    assert gpu_info_memory_gib("spheron", spheron, 1) == 80.0
    assert gpu_info_memory_gib("vast", "", 1) is None and gpu_info_memory_gib("vast", None, 1) is None


@needs_catalog
def test_vast_a100_memory_comes_from_gpu_info():
    # Regression (bench/skypilot_compare.py): Vast names its 80 GB A100 PCIe plain "A100", SkyPilot's 40 GB name.
    offers = SkyPilotCatalogSource(CATALOG, observed_at=NOW, clouds=("vast",)).offers(
        ComputeRequest(gpu_model="a100", gpu_count=1)
    )
    memory = {o.inputs["instance_type"]: o.gpu_memory_gib for o in offers}
    assert memory == {"1x-A100_SXM4-32-65536": 40.0, "1x-A100_PCIE-32-65536": 80.0}
    two = SkyPilotCatalogSource(CATALOG, observed_at=NOW, clouds=("vast",)).offers(
        ComputeRequest(gpu_model="a100", gpu_count=2)
    )
    assert {o.gpu_memory_gib for o in two} == {40.0}  # 81920 MiB in total over 2 GPUs


def test_locations_with_commas_stay_one_csv_record(tmp_path):
    # Regression: Vast locations contain commas, so a plain ",".join could not be split back.
    import csv

    write_catalog(
        tmp_path,
        "vast",
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region\r\n"
        '1x-RTX_4090,RTX4090,1,32,64.0,,0.40,0.00,"Oregon, US, NA"\r\n'
        '1x-RTX_4090,RTX4090,1,32,64.0,,0.40,0.00,"California, US, NA"\r\n',
    )
    (offer,) = SkyPilotCatalogSource(tmp_path, observed_at=NOW).offers(ComputeRequest(gpu_model="rtx4090"))
    assert offer.region == "us-west"
    assert next(csv.reader([offer.inputs["locations"]])) == ["California, US, NA", "Oregon, US, NA"]


@needs_catalog
def test_gpu_info_memory_does_not_change_the_performance_variant():
    # Spheron's "H100_NVL" and Shadeform's "H100x8-NVLINK" rows say 80 GB in GpuInfo: the memory is reported,
    # but the card keeps the NVL figures catalog_gpu picked from the name (not the 80 GB SXM default).
    from tools.pricing.normalize import effective_pflops

    offers = SkyPilotCatalogSource(CATALOG, observed_at=NOW, clouds=("spheron", "shadeform")).offers(
        ComputeRequest(gpu_model="h100", gpu_count=8)
    )
    by_type = {o.inputs["instance_type"]: o for o in offers if o.pricing_model == "fixed"}
    nvl = effective_pflops("h100", 8, interface="nvl")
    for itype in ("n3-H100x8-NVLink__CANADA-1", "hyperstack_H100x8-NVLINK"):
        assert by_type[itype].gpu_memory_gib == 80.0
        assert by_type[itype].effective_pflops == nvl
    assert by_type["nebius_H100-sxm5x8-NVLINK"].effective_pflops == effective_pflops(
        "h100", 8, interface="sxm"
    )
