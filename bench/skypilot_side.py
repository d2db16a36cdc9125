"""SkyPilot's side of bench/skypilot_compare.py: run with the scratch venv's Python, never the project's.

Reads a JSON job on stdin ``{"clouds": [...], "requests": [...], "runs": N}`` and prints one JSON document on
stdout. It imports only SkyPilot (and pandas), so it must not import anything from Necto.

``HOME`` must point at a directory holding ``.sky/catalogs/v8/<cloud>/vms.csv`` (the caller makes a temp one).
SkyPilot's ``read_catalog`` downloads a catalog only when the file is missing, or when it is older than the
cloud's pull frequency *and* ``.sky/catalogs/v8/.meta/<cloud>/vms.csv.md5`` exists and matches the file
(a file without that md5 counts as "modified by the user" and is never replaced). The caller copies the
files without any ``.meta`` and with a fresh mtime, so neither condition holds; on top of that this script
replaces ``requests.get`` with a function that raises, and reports whether anything called it.

The pick per (request, cloud) uses SkyPilot's own catalog functions, the ones its optimizer calls:

- GPU requests: ``<cloud>_catalog.get_instance_type_for_accelerator(name, count, cpus=, memory=,
  use_spot=False)`` for every SkyPilot accelerator name the request covers (a list of instance types sorted
  by price), ``get_hourly_cost(instance_type, False, None, None)`` (its cheapest price across regions) to
  compare across names, then ``get_region_zones_for_instance_type`` (SkyPilot's failover order) with
  ``get_hourly_cost(instance_type, False, region, zone)`` for the first region at that price.
- CPU-only requests: ``get_default_instance_type(cpus=, memory=)``.

A cloud without a ``sky.catalog.<cloud>_catalog`` module (Spheron in SkyPilot 0.14) is read with
``sky.catalog.common.LazyDataFrame`` and the same generic ``*_impl`` functions the per-cloud modules
delegate to (``via: "generic"``).

An instance type whose rows have no Price (one Spheron row) is returned by
``get_instance_type_for_accelerator_impl`` but ``get_hourly_cost`` raises for it; it is skipped as unpriceable.

Timings (ms, every run): ``cold`` re-imports the cloud's catalog module (``importlib.reload``: a new lazy
DataFrame, so the CSV is parsed again) and then picks; ``warm`` picks again with the DataFrame loaded.
Enumerating every tied (instance type, region, zone) for the comparison happens outside the timed part.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

NETWORK_CALLS: list[str] = []


def _block_network() -> None:
    import requests

    def refuse(*args: Any, **kwargs: Any) -> Any:
        NETWORK_CALLS.append(str(args[:1] or kwargs.get("url")))
        raise requests.exceptions.ConnectionError("network disabled by bench/skypilot_side.py")

    requests.get = refuse  # type: ignore[assignment]
    requests.Session.request = refuse  # type: ignore[assignment,method-assign]


class GenericCatalog:
    """A per-cloud-module look-alike over SkyPilot's generic catalog functions, for clouds it lacks."""

    def __init__(self, cloud: str) -> None:
        from sky.catalog import common

        self.common = common
        self.path = common.get_catalog_path(f"{cloud}/vms.csv")
        self._df = common.LazyDataFrame(self.path, update_if_stale_func=lambda: False)

    def get_instance_type_for_accelerator(self, acc_name, acc_count, cpus=None, memory=None, use_spot=False):
        return self.common.get_instance_type_for_accelerator_impl(
            df=self._df, acc_name=acc_name, acc_count=acc_count, cpus=cpus, memory=memory, use_spot=use_spot
        )

    def get_hourly_cost(self, instance_type, use_spot=False, region=None, zone=None):
        return self.common.get_hourly_cost_impl(self._df, instance_type, use_spot, region, zone)

    def get_region_zones_for_instance_type(self, instance_type, use_spot):
        df = self._df[self._df["InstanceType"] == instance_type]
        return self.common.get_region_zones(df, use_spot)

    def get_default_instance_type(self, cpus=None, memory=None):
        return self.common.get_instance_type_for_cpus_mem_impl(self._df, cpus, memory)

    def get_accelerators_from_instance_type(self, instance_type):
        return self.common.get_accelerators_from_instance_type_impl(self._df, instance_type)

    def get_vcpus_mem_from_instance_type(self, instance_type):
        return self.common.get_vcpus_mem_from_instance_type_impl(self._df, instance_type)


def load_api(cloud: str, fresh: bool) -> tuple[Any, str]:
    """The catalog API for ``cloud`` and how it is reached; ``fresh`` forces the CSV to be parsed again."""
    try:
        module = importlib.import_module(f"sky.catalog.{cloud}_catalog")
    except ModuleNotFoundError:
        return GenericCatalog(cloud), "generic"
    if fresh:
        module = importlib.reload(module)
    return module, f"sky.catalog.{cloud}_catalog"


def _locations(api: Any, instance_type: str) -> Iterator[tuple[str, str | None, float]]:
    """(region, zone, price) of ``instance_type`` in SkyPilot's failover order, priced lazily."""
    for region in api.get_region_zones_for_instance_type(instance_type, False):
        for zone in [z.name for z in (region.zones or [])] or [None]:
            yield region.name, zone, float(api.get_hourly_cost(instance_type, False, region.name, zone))


def pick(api: Any, req: dict) -> dict | None:
    """SkyPilot's cheapest on-demand instance for ``req``: instance type, price, first cheapest region."""
    candidates: list[tuple[float, int, str]] = []  # (price, order, instance type)
    if req["gpu_count"]:
        for name in req["skypilot_names"]:
            types, _fuzzy = api.get_instance_type_for_accelerator(
                name, req["gpu_count"], cpus=req["cpus"], memory=req["memory"], use_spot=False
            )
            for itype in types or []:
                try:
                    price = float(api.get_hourly_cost(itype, False, None, None))
                except ValueError:
                    # A row without a Price ("No Price found"): it cannot be priced, so it is not a
                    # candidate (Necto skips such rows too). Only the generic Spheron rows have one.
                    continue
                candidates.append((price, len(candidates), itype))
    else:
        itype = api.get_default_instance_type(cpus=req["cpus"], memory=req["memory"])
        if itype is not None:
            candidates.append((float(api.get_hourly_cost(itype, False, None, None)), 0, itype))
    if not candidates:
        return None
    price, _, itype = min(candidates)
    for region, zone, where_price in _locations(api, itype):
        if where_price == price:
            return {
                "instance_type": itype,
                "region": region,
                "zone": zone,
                "price": price,
                "candidates": candidates,
            }
    raise AssertionError(f"{itype}: no region at its cheapest price {price}")


def _frame(api: Any) -> Any:
    """The catalog DataFrame behind ``api`` (Shadeform's module builds it on first use)."""
    return api._get_df() if hasattr(api, "_get_df") else api._df


def describe(api: Any, req: dict, found: dict | None) -> dict:
    """The pick plus every (instance type, region, zone) at the same price (untimed)."""
    if found is None:
        return {"pick": None, "cheapest_set": []}
    price = found["price"]
    tied = sorted({itype for p, _, itype in found["candidates"] if p == price})
    if not req["gpu_count"]:
        # get_default_instance_type returns one type: ask the same impl again without the ones found so far.
        from sky.catalog import common

        df = _frame(api)
        while True:
            rest = df[~df["InstanceType"].isin(tied)]
            more = common.get_instance_type_for_cpus_mem_impl(rest, req["cpus"], req["memory"])
            if more is None or float(api.get_hourly_cost(more, False, None, None)) != price:
                break
            tied.append(more)
        tied.sort()
    cheapest = [
        [itype, region, zone, p] for itype in tied for region, zone, p in _locations(api, itype) if p == price
    ]
    pick_out = {k: found[k] for k in ("instance_type", "region", "zone", "price")}
    pick_out["accelerators"] = api.get_accelerators_from_instance_type(found["instance_type"])
    pick_out["vcpus_mem"] = api.get_vcpus_mem_from_instance_type(found["instance_type"])
    return {"pick": pick_out, "cheapest_set": cheapest, "tied_instance_types": tied}


def main() -> None:
    job = json.load(sys.stdin)
    out = sys.stdout
    sys.stdout = sys.stderr  # anything SkyPilot prints goes to stderr; stdout carries only the JSON
    start = time.perf_counter()
    import sky
    from sky.catalog import common
    from sky.skylet import constants

    _block_network()
    import_ms = 1000 * (time.perf_counter() - start)
    catalog_dir = os.path.dirname(common.get_catalog_path("x/vms.csv"))
    result: dict[str, Any] = {
        "skypilot_version": sky.__version__,
        "schema": constants.CATALOG_SCHEMA_VERSION,
        "catalog_dir": catalog_dir,
        "import_ms": import_ms,
        "python": sys.version.split()[0],
        "results": [],
    }
    runs = int(job.get("runs", 5))
    for req in job["requests"]:
        for cloud in job["clouds"]:
            entry: dict[str, Any] = {"request": req["id"], "cloud": cloud}
            try:
                cold, warm = [], []
                found = None
                for _ in range(runs):
                    t0 = time.perf_counter()
                    api, via = load_api(cloud, fresh=True)
                    found = pick(api, req)
                    cold.append(1000 * (time.perf_counter() - t0))
                for _ in range(runs):
                    t0 = time.perf_counter()
                    found = pick(api, req)
                    warm.append(1000 * (time.perf_counter() - t0))
                entry.update(describe(api, req, found))
                entry.update(via=via, cold_ms=statistics.median(cold), warm_ms=statistics.median(warm))
            except Exception as exc:  # noqa: BLE001 - reported per cell, the rest of the table still runs
                entry["error"] = f"{type(exc).__name__}: {exc}"[:300]
            result["results"].append(entry)
    meta = os.path.join(catalog_dir, ".meta")
    result["network_calls"] = NETWORK_CALLS
    result["meta_dir_created"] = os.path.exists(meta)
    with contextlib.suppress(Exception):
        result["catalog_mtimes"] = {
            c: os.path.getmtime(common.get_catalog_path(f"{c}/vms.csv")) for c in job["clouds"]
        }
    out.write(json.dumps(result))
    out.write("\n")


if __name__ == "__main__":
    main()
