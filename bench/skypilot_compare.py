"""Necto vs SkyPilot on the same SkyPilot catalogs: the same cheapest instance per cloud, and how fast.

Run: ``.venv/bin/python -m bench.skypilot_compare`` (options: ``--runs N``, ``--venv DIR``, ``--out FILE``).
Prints a markdown report on stdout. It never fails ``make bench``: when SkyPilot cannot be installed or run
it prints a ``skipped:`` line and exits 0.

How:
- SkyPilot (pinned ``SKYPILOT_SPEC``) lives in a scratch venv outside the project (default
  ``$TMPDIR/necto-skypilot-venv``; created once, reused while ``import sky`` works). It is not a Necto
  dependency. ``bench/skypilot_side.py`` runs there as a subprocess with ``HOME`` set to a temp directory
  holding a copy of the shared catalogs under ``.sky/catalogs/v8`` (no ``.meta`` md5 files, fresh mtimes:
  SkyPilot treats such files as user-edited and never re-downloads them; the helper also disables
  ``requests``). Nothing is copied into the repository.
- Necto runs in-process: ``SkyPilotCatalogSource`` over the shared catalog directory, restricted to one
  cloud (source ``skypilot:<cloud>``), on-demand offers only (``pricing_model == "fixed"``), ranked with
  ``rank(..., objective "cheapest")`` for one hour.

Request mapping (SkyPilot names accelerators by card and memory, Necto by model plus ``gpu_memory_gib``):
Necto ``a100`` = SkyPilot ``A100`` (SkyPilot's 40 GB name), ``A100-80GB``, ``A100-80GB-SXM`` (RunPod) and
Spheron's ``A100_80G_PCIE``/``A100_80G_SXM4``; the SkyPilot side takes the cheapest over those names. The
"A100 40GB" / "A100 80GB" rows ask SkyPilot for the names of that memory and give Necto the a100 offers
whose ``gpu_memory_gib`` is 40 / 80. ``h100`` = ``H100``, ``H100-SXM``, ``H100-NVL`` and Spheron's
``H100_PCIE``, ``H100_PCIE_BAREMETAL``, ``H100_SXM5``, ``H100_NVL``; ``a10`` = ``A10`` (and AWS's ``A10G``);
``rtx4090`` = ``RTX4090``. SkyPilot's ``cpus="8+"``/``memory="32+"`` are Necto's ``cpu=8``/``memory_gib=32``
(both "at least"); no minimum is ``None`` for SkyPilot and 0.001 for Necto (its fields must be positive).

Timings are medians over ``--runs`` runs, in ms. "load+pick" includes reading the catalog: SkyPilot reloads
the cloud's catalog module (a fresh lazy DataFrame, so pandas parses the CSV again) then picks; Necto builds
the offers from the CSV (filtering rows as it streams) then ranks. "warm" repeats the pick with the data in
memory: SkyPilot's cached DataFrame, Necto's already-built offers (rank only). SkyPilot's one-off
``import sky`` is reported separately. A match means the same price and Necto's instance and location are
among SkyPilot's cheapest (instance type, region/zone) pairs; "same cheapest set" compares every tied pair.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATALOG = ROOT.parent / "shared" / "data" / "skypilot-catalog" / "v8"
HELPER = Path(__file__).with_name("skypilot_side.py")
SKYPILOT_SPEC = "skypilot==0.14.1"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "necto-skypilot-venv"
CLOUDS = ("lambda", "runpod", "vast", "shadeform", "spheron")
NO_MINIMUM = 0.001

A100_40 = ["A100"]
A100_80 = ["A100-80GB", "A100-80GB-SXM", "A100_80G_PCIE", "A100_80G_SXM4"]
H100 = ["H100", "H100-SXM", "H100-NVL", "H100_PCIE", "H100_PCIE_BAREMETAL", "H100_SXM5", "H100_NVL"]


@dataclass(frozen=True)
class Req:
    id: str
    label: str
    gpu_model: str | None
    gpu_count: int
    skypilot_names: tuple[str, ...]
    cpus: str | None = None  # SkyPilot syntax, "8+"
    memory: str | None = None  # SkyPilot syntax, "32+"
    gpu_memory_gib: float | None = None  # Necto post-filter for the memory-specific rows

    def skypilot_job(self) -> dict:
        return {
            "id": self.id,
            "gpu_count": self.gpu_count,
            "skypilot_names": list(self.skypilot_names),
            "cpus": self.cpus,
            "memory": self.memory,
        }

    def necto_request(self):
        from tools.request import ComputeRequest

        def minimum(text: str | None) -> float:
            return float(text.rstrip("+")) if text else NO_MINIMUM

        return ComputeRequest(
            gpu_model=self.gpu_model,
            gpu_count=self.gpu_count,
            cpu=minimum(self.cpus),
            memory_gib=minimum(self.memory),
            hours=1,
            objective="cheapest",
        )


REQUESTS = (
    Req("a100", "1x A100 (any memory), 8+ vCPU, 32+ GiB", "a100", 1, (*A100_40, *A100_80), "8+", "32+"),
    Req("a100-40", "1x A100 40GB, 8+ vCPU, 32+ GiB", "a100", 1, tuple(A100_40), "8+", "32+", 40.0),
    Req("a100-80", "1x A100 80GB, 8+ vCPU, 32+ GiB", "a100", 1, tuple(A100_80), "8+", "32+", 80.0),
    Req("h100", "1x H100", "h100", 1, tuple(H100)),
    Req("h100-32", "1x H100, 32+ vCPU", "h100", 1, tuple(H100), "32+"),
    Req("a100x8", "8x A100 (any memory)", "a100", 8, (*A100_40, *A100_80)),
    Req("h100x8", "8x H100", "h100", 8, tuple(H100)),
    Req("a10", "1x A10", "a10", 1, ("A10", "A10G")),
    Req("rtx4090", "1x RTX 4090", "rtx4090", 1, ("RTX4090",)),
    Req("cpu-4", "CPU only, 4+ vCPU, 16+ GiB", None, 0, (), "4+", "16+"),
    Req("cpu-8", "CPU only, 8+ vCPU, 32+ GiB", None, 0, (), "8+", "32+"),
)


# ---------------------------------------------------------------- SkyPilot side (scratch venv, subprocess)


class Skipped(Exception):
    pass


def ensure_venv(path: Path, spec: str) -> Path:
    """The scratch venv's python with ``spec`` importable (created or repaired once, then reused)."""
    python = path / "bin" / "python"
    probe = [str(python), "-c", "import sky, sys; sys.stdout.write(sky.__version__)"]
    wanted = spec.partition("==")[2]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, timeout=300)
        if found.returncode == 0 and (not wanted or found.stdout.strip() == wanted):
            return python
    print(f"installing {spec} into the scratch venv {path} (once) ...", file=sys.stderr)
    try:
        if not python.exists():
            venv.create(path, with_pip=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", spec],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise Skipped(f"could not create the scratch venv {path}: {exc}") from None
    if pip.returncode != 0:
        tail = " ".join((pip.stderr or pip.stdout).strip().splitlines()[-3:])
        raise Skipped(f"pip install {spec} failed: {tail[:400]}")
    found = subprocess.run(probe, capture_output=True, text=True, timeout=300)
    if found.returncode != 0:
        raise Skipped(f"{spec} installed but 'import sky' fails: {found.stderr.strip()[-300:]}")
    return python


def run_skypilot(python: Path, catalog: Path, clouds: Iterable[str], runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="necto-skyhome-") as home:
        target = Path(home) / ".sky" / "catalogs" / "v8"
        shutil.copytree(catalog, target)
        now = time.time()
        for path in [target, *target.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
            os.utime(path, (now, now))  # fresh: no cloud's pull frequency has elapsed
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SKY", "SKYPILOT"))}
        env.update(HOME=home, SKYPILOT_DISABLE_USAGE_COLLECTION="1", PYTHONDONTWRITEBYTECODE="1")
        job = {"clouds": list(clouds), "runs": runs, "requests": [r.skypilot_job() for r in REQUESTS]}
        start = time.perf_counter()
        proc = subprocess.run(
            [str(python), str(HELPER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=1800,
        )
        wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise Skipped(f"the SkyPilot helper failed: {proc.stderr.strip()[-600:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["wall_s"] = wall
    return data


# ---------------------------------------------------------------- Necto side (in-process)


def necto_offers(req: Req, cloud: str):
    from tools.pricing.sources.skypilot_catalog import SkyPilotCatalogSource

    offers = SkyPilotCatalogSource(CATALOG, clouds=(cloud,)).offers(req.necto_request())
    return [
        o
        for o in offers
        if o.source == f"skypilot:{cloud}"
        and o.pricing_model == "fixed"
        and (req.gpu_memory_gib is None or o.gpu_memory_gib == req.gpu_memory_gib)
    ]


def necto_rank(req: Req, offers, now: datetime):
    from tools.pricing.rank import rank

    return rank(offers, req.necto_request(), now=now)


def _locations(offer) -> list[str]:
    """Every raw location an offer stands for (``inputs["locations"]`` is one CSV record)."""
    if "locations" in offer.inputs:
        return next(csv.reader([offer.inputs["locations"]]))
    return [offer.provider_region or ""]


def run_necto(req: Req, cloud: str, runs: int, now: datetime) -> dict:
    cold, warm = [], []
    ranking = None
    for _ in range(runs):
        start = time.perf_counter()
        offers = necto_offers(req, cloud)
        ranking = necto_rank(req, offers, now)
        cold.append(1000 * (time.perf_counter() - start))
    for _ in range(runs):
        start = time.perf_counter()
        ranking = necto_rank(req, offers, now)
        warm.append(1000 * (time.perf_counter() - start))
    out = {
        "cold_ms": statistics.median(cold),
        "warm_ms": statistics.median(warm),
        "pick": None,
        "cheapest_set": [],
        "offers": len(ranking.offers),
    }
    best = ranking.best
    if best is None:
        return out
    o = best.offer
    out["pick"] = {
        "instance_type": o.inputs["instance_type"],
        "location": o.provider_region,
        "region": o.region,
        "price": o.usd_per_hour,
        "locations": _locations(o),
        "gpu_memory_gib": o.gpu_memory_gib,
    }
    for ranked in ranking.offers:
        r = ranked.offer
        if r.usd_per_hour != o.usd_per_hour:
            break
        for where in _locations(r):
            out["cheapest_set"].append((r.inputs["instance_type"], where, r.usd_per_hour))
    return out


# ---------------------------------------------------------------- comparison and report


def _price(value) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else str(value)).normalize()


def _usd(value) -> str:
    return f"${_price(value):f}"


def compare(req: Req, cloud: str, sky: dict, necto: dict) -> dict:
    """match, same_set and a note for one (request, cloud) cell."""
    if "error" in sky:
        return {"match": "error", "same_set": "-", "note": f"SkyPilot raised {sky['error']}"}
    s, n = sky["pick"], necto["pick"]
    if s is None and n is None:
        return {"match": "yes (neither has one)", "same_set": "yes", "note": ""}
    sky_set = {(i, z or r, _price(p)) for i, r, z, p in sky["cheapest_set"]}
    necto_set = {(i, w, _price(p)) for i, w, p in necto["cheapest_set"]}
    same = (
        "yes"
        if sky_set == necto_set
        else f"no (+{len(necto_set - sky_set)} Necto / +{len(sky_set - necto_set)} SkyPilot)"
    )
    if s is None or n is None:
        return {"match": "NO", "same_set": same, "note": ""}
    key = (n["instance_type"], n["location"], _price(n["price"]))
    if _price(s["price"]) != _price(n["price"]) or key not in sky_set:
        return {"match": "NO", "same_set": same, "note": ""}
    exact = n["instance_type"] == s["instance_type"] and n["location"] in (s["zone"] or s["region"],)
    return {"match": "yes" if exact else "yes (tie)", "same_set": same, "note": ""}


def explain(req: Req, cloud: str, sky: dict, necto: dict, verdict: dict) -> str:
    """A known, defensible reason for a disagreement, or '' (then it is reported as unexplained)."""
    s, n = sky.get("pick"), necto.get("pick")
    if req.gpu_count == 0 and s is not None and s.get("accelerators"):
        nothing = "Necto has no CPU-only machine here" if n is None else f"Necto picks {n['instance_type']}"
        return (
            f"SkyPilot's get_default_instance_type does not exclude GPU machines, so this CPU-only request "
            f"gets {s['instance_type']} ({s['accelerators']}); Necto's CPU-only requests exclude GPU "
            f"machines (rank.py hard filter); {nothing}."
        )
    if req.gpu_memory_gib == 80 and s is None and n is not None and cloud == "vast":
        return (
            f"Vast names every A100 plain 'A100' (SkyPilot's 40 GB name); GpuInfo says {n['instance_type']} "
            "has 80 GB, which Necto reads, so only Necto finds an 80 GB card here."
        )
    return ""


def table(rows: list[dict]) -> list[str]:
    head = (
        "request",
        "cloud",
        "SkyPilot pick",
        "Necto pick",
        "match",
        "same cheapest set",
        "SkyPilot ms load+pick / warm",
        "Necto ms load+pick / warm",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row[k]).replace("|", "/") for k in head) + " |")
    return lines


def describe_sky(sky: dict) -> str:
    if "error" in sky:
        return f"error: {sky['error'][:80]}"
    s = sky["pick"]
    if s is None:
        return "-"
    where = s["region"] + (f"/{s['zone']}" if s["zone"] else "")
    others = len(sky["cheapest_set"]) - 1
    return f"{s['instance_type']} @ {where}{f' (+{others} tied)' if others else ''}, {_usd(s['price'])}/h"


def describe_necto(necto: dict) -> str:
    n = necto["pick"]
    if n is None:
        return "-"
    others = len(necto["cheapest_set"]) - 1
    return (
        f"{n['instance_type']} @ {n['location']} [{n['region'] or '?'}]"
        f"{f' (+{others} tied)' if others else ''}, {_usd(n['price'])}/h"
    )


def _ms(a: float | None, b: float | None) -> str:
    return "-" if a is None else f"{a:.1f} / {b:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--venv", type=Path, default=Path(os.environ.get("NECTO_SKYPILOT_VENV", DEFAULT_VENV))
    )
    parser.add_argument("--spec", default=SKYPILOT_SPEC, help="pip requirement for SkyPilot")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    args = parser.parse_args(argv)
    if not CATALOG.is_dir():
        print(f"skipped: no SkyPilot catalog at {CATALOG}")
        return 0
    try:
        python = ensure_venv(args.venv, args.spec)
        sky = run_skypilot(python, CATALOG, CLOUDS, args.runs)
    except Skipped as exc:
        print(f"skipped: SkyPilot comparison not run: {exc}")
        return 0
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        print(f"skipped: SkyPilot comparison not run: {type(exc).__name__}: {exc}")
        return 0

    by_key = {(r["request"], r["cloud"]): r for r in sky["results"]}
    now = datetime.now(UTC)
    rows, notes, tallies = [], [], {"yes": 0, "tie": 0, "no": 0}
    for req in REQUESTS:
        for cloud in CLOUDS:
            s = by_key[(req.id, cloud)]
            n = run_necto(req, cloud, args.runs, now)
            verdict = compare(req, cloud, s, n)
            reason = explain(req, cloud, s, n, verdict) if verdict["match"] in ("NO", "error") else ""
            match = verdict["match"]
            if match in ("NO", "error"):
                tallies["no"] += 1
                notes.append(f"- {req.label} / {cloud}: {reason or 'UNEXPLAINED disagreement'}")
                match += f" [{len(notes)}]"
            else:
                tallies["tie" if "tie" in match else "yes"] += 1
            via = (
                ""
                if s.get("via", "").startswith("sky.catalog.")
                else " (generic impl)"
                if s.get("via")
                else ""
            )
            rows.append(
                {
                    "request": req.label,
                    "cloud": cloud + via,
                    "SkyPilot pick": describe_sky(s),
                    "Necto pick": describe_necto(n),
                    "match": match,
                    "same cheapest set": verdict["same_set"],
                    "SkyPilot ms load+pick / warm": _ms(s.get("cold_ms"), s.get("warm_ms")),
                    "Necto ms load+pick / warm": _ms(n["cold_ms"], n["warm_ms"]),
                }
            )

    sky_cold = [s["cold_ms"] for s in sky["results"] if "cold_ms" in s]
    sky_warm = [s["warm_ms"] for s in sky["results"] if "warm_ms" in s]
    necto_cold = [float(r["Necto ms load+pick / warm"].split(" / ")[0]) for r in rows]
    necto_warm = [float(r["Necto ms load+pick / warm"].split(" / ")[1]) for r in rows]
    lines = [
        "# Necto vs SkyPilot: cheapest instance per cloud on the same catalogs",
        "",
        f"Run {now.strftime('%Y-%m-%d %H:%M UTC')}: SkyPilot {sky['skypilot_version']} (catalog schema "
        f"{sky['schema']}, Python {sky['python']}, scratch venv {args.venv}) vs Necto in-process; catalogs "
        f"{CATALOG}; {args.runs} runs per cell, medians. On-demand only, one hour, objective cheapest.",
        f"SkyPilot `import sky` + catalog modules: {sky['import_ms']:.0f} ms once per process (not in the cells); "
        f"whole SkyPilot subprocess {sky['wall_s']:.1f} s. Network calls attempted by SkyPilot: "
        f"{len(sky['network_calls'])}; catalog .meta created (a download decision): {sky['meta_dir_created']}.",
        "",
        *table(rows),
        "",
        f"Matches: {tallies['yes']} exact, {tallies['tie']} equal-price ties, {tallies['no']} disagreements. "
        f"Median per cell, load+pick: SkyPilot {statistics.median(sky_cold):.1f} ms, Necto "
        f"{statistics.median(necto_cold):.1f} ms; warm: SkyPilot {statistics.median(sky_warm):.2f} ms, Necto "
        f"{statistics.median(necto_warm):.2f} ms.",
        "",
        "Spheron has no catalog module in this SkyPilot version; its rows use SkyPilot's generic "
        "`sky.catalog.common` functions over a `LazyDataFrame` of the same CSV (what the per-cloud modules "
        "delegate to). Its one row without a Price (n3-A100x1-spot__CANADA-1) is among the instance types "
        "SkyPilot's get_instance_type_for_accelerator_impl returns, and get_hourly_cost raises 'No Price found' "
        "for it; the SkyPilot side skips it as unpriceable, as Necto skips rows without Price.",
        "",
        "Locations: SkyPilot region (RunPod: region/zone); Necto provider location [Necto region]. "
        "'+N tied': other (instance type, location) pairs at the same price. 'yes (tie)': same price and "
        "Necto's pick is one of SkyPilot's cheapest pairs, but each side shows a different one. SkyPilot "
        "breaks ties by its failover order (pandas sort by price, then region and zone; Lambda puts us-* "
        "regions first; equal-price instance types come in pandas' unstable sort order), Necto by offer id "
        "(instance type, then Necto region). Neither is a price difference.",
        "SkyPilot's time for the A100 (any) and H100 rows covers one catalog query per accelerator name it "
        "needs (5 and 7 names), as `accelerators: {A100, A100-80GB, ...}` would.",
    ]
    if notes:
        lines += ["", "Disagreements:", *notes]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
