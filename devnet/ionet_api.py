"""A fake io.net VMaaS API: the hardware list and the deployment price, in io.net's response shapes.

Routes (shapes from io.net's published OpenAPI, https://io.net/docs/reference/vmaas/get-hardware-list and
.../get-deployment-price):

- ``GET /enterprise/v1/io-cloud/vmaas/hardware[?gpu=&regions=]`` ->
  ``{"data": {"hardware": [{id, deploy_id, name, num_cards, supplier, sold_out, price, vram_per_card,
  interconnect, nvlink, storage, vcpu, memory, location}]}}``; ``price`` is USD per hour for the whole VM.
- ``GET /enterprise/v1/io-cloud/vmaas/price?hardware_id=&location_ids=&currency=usdc|iocoin&duration_hours=
  &gpus_per_vm=&replica_count=`` -> ``{"data": {replica_count, gpus_per_vm, available_replica_count,
  discount, ionet_fee, ionet_fee_percent, currency_conversion_fee, currency_conversion_fee_percent,
  total_cost_usdc}}``. ``location_ids`` is a JSON array (``["US"]``), as io.net's guide sends it.

The hardware, prices and availability are self-authored and plausible, NOT io.net's real prices. The price
model is the fake's own: ``total_cost_usdc`` = per-GPU hourly rate x GPUs x hours x replicas, less a
duration discount (5 % from 168 h, 10 % from 720 h); the io.net fee is 0.25 % of that total and the
currency conversion fee 2 % for USDC, 0 for IO coin (the rates io.net's payment guide publishes); fees are
reported beside the total, not inside it. ``seed`` decides which configurations are sold out and how many
replicas are free (deterministic per seed); one RTX 4090 in the US is always available and the H100 in AU
always sold out, so tests can rely on them.

Every request needs a non-empty ``x-api-key`` header, else 401 ``{"detail": ...}`` (io.net's API is
FastAPI, whose errors have that shape; the exact message is the fake's). Bad query parameters get
FastAPI's 422 ``{"detail": [{"loc", "msg", "type"}]}``; unknown hardware or location 404 ``{"detail"}``.

Run alone: ``python -m devnet.ionet_api --port 8788``.
"""

from __future__ import annotations

import argparse
import json
import random
from decimal import Decimal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HARDWARE_PATH = "/enterprise/v1/io-cloud/vmaas/hardware"
PRICE_PATH = "/enterprise/v1/io-cloud/vmaas/price"

# deploy_id, name, supplier, USD per GPU-hour, GPU counts, VRAM GB, interconnect, nvlink,
# vCPU / memory GB / storage GB per card, locations
# fmt: off
HARDWARE: tuple[tuple[int | str, str, str, str, tuple[int, ...], int, str | None, bool, int, int, int, tuple[str, ...]], ...] = (
    (12, "GeForce RTX 4090", "internal", "0.30", (1, 2, 4, 8), 24, None, False, 12, 48, 500, ("US", "CA", "DE", "FI", "SG")),
    (14, "GeForce RTX 3090", "internal", "0.20", (1, 2, 4), 24, None, False, 8, 32, 250, ("US", "DE", "JP")),
    (22, "L40S", "internal", "0.85", (1, 2, 4), 48, "pcie", False, 16, 64, 500, ("US", "FI")),
    (31, "A100-SXM4-80GB", "internal", "1.20", (1, 8), 80, "sxm4", True, 24, 120, 1000, ("US", "DE")),
    ("8H100.80S.176V", "H100", "external", "2.10", (8,), 80, "sxm5", True, 22, 185, 250, ("FI", "US", "AU")),
    ("B200_sxm6x8", "B200", "external", "4.99", (8,), 192, "sxm6", False, 26, 360, 2816, ("US",)),
)
# fmt: on
ALWAYS_AVAILABLE = frozenset({("12", 1, "US")})
ALWAYS_SOLD_OUT = frozenset({("8H100.80S.176V", 8, "AU")})
SOLD_OUT_CHANCE = 0.2

IONET_FEE_PERCENT = Decimal("0.25")
CONVERSION_FEE_PERCENT = {"usdc": Decimal(2), "iocoin": Decimal(0)}
# (minimum hours, discount fraction), largest first
DURATION_DISCOUNTS: tuple[tuple[int, Decimal], ...] = ((720, Decimal("0.10")), (168, Decimal("0.05")))
_MICRO = Decimal("0.000001")


def _availability(seed: int, deploy_id: int | str, cards: int, location: str) -> tuple[bool, int]:
    """(sold_out, free replicas) for one configuration, deterministic per seed."""
    key = (str(deploy_id), cards, location)
    rng = random.Random(f"{seed}:{deploy_id}:{cards}:{location}")
    sold_out = rng.random() < SOLD_OUT_CHANCE
    free = rng.randint(1, 6)
    if key in ALWAYS_AVAILABLE:
        return False, max(free, 2)
    if key in ALWAYS_SOLD_OUT or sold_out:
        return True, 0
    return False, free


def hardware_body(seed: int = 0) -> dict:
    """The ``/vmaas/hardware`` body for ``seed`` (deterministic)."""
    items = []
    for (
        deploy_id,
        name,
        supplier,
        per_gpu,
        counts,
        vram,
        link,
        nvlink,
        vcpu,
        memory,
        storage,
        locations,
    ) in HARDWARE:
        for cards in counts:
            for location in locations:
                sold_out, _ = _availability(seed, deploy_id, cards, location)
                items.append(
                    {
                        "id": f"{deploy_id}__{cards}__{location}",
                        "deploy_id": deploy_id,
                        "name": name,
                        "num_cards": cards,
                        "supplier": supplier,
                        "sold_out": sold_out,
                        "price": float(Decimal(per_gpu) * cards),
                        "vram_per_card": vram,
                        "interconnect": link,
                        "nvlink": nvlink,
                        "storage": storage * cards,
                        "vcpu": vcpu * cards,
                        "memory": memory * cards,
                        "location": location,
                    }
                )
    return {"data": {"hardware": items}}


def price_body(
    seed: int,
    hardware_id: str,
    locations: list[str],
    currency: str,
    duration_hours: int,
    gpus_per_vm: int,
    replica_count: int,
) -> dict:
    """The ``/vmaas/price`` body (raises LookupError for unknown hardware, GPU count or location)."""
    row = next((h for h in HARDWARE if str(h[0]) == hardware_id), None)
    if row is None:
        raise LookupError(f"Hardware {hardware_id} not found")
    deploy_id, _, _, per_gpu, counts, *_, known_locations = row
    if gpus_per_vm not in counts:
        raise LookupError(f"Hardware {hardware_id} has no {gpus_per_vm}-GPU configuration")
    unknown = [loc for loc in locations if loc not in known_locations]
    if unknown or not locations:
        raise LookupError(f"Hardware {hardware_id} is not offered in {', '.join(unknown) or 'no location'}")
    base = Decimal(per_gpu) * gpus_per_vm * duration_hours * replica_count
    rate = next((r for hours, r in DURATION_DISCOUNTS if duration_hours >= hours), Decimal(0))
    discount = base * rate
    total = base - discount
    conversion_percent = CONVERSION_FEE_PERCENT[currency]
    free = [_availability(seed, deploy_id, gpus_per_vm, loc)[1] for loc in locations]

    def money(value: Decimal) -> float:
        return float(value.quantize(_MICRO))

    return {
        "data": {
            "replica_count": replica_count,
            "gpus_per_vm": gpus_per_vm,
            "available_replica_count": free,
            "discount": money(discount),
            "ionet_fee": money(total * IONET_FEE_PERCENT / 100),
            "ionet_fee_percent": float(IONET_FEE_PERCENT),
            "currency_conversion_fee": money(total * conversion_percent / 100),
            "currency_conversion_fee_percent": float(conversion_percent),
            "total_cost_usdc": money(total),
        }
    }


def _unauthorized() -> JSONResponse:
    return JSONResponse({"detail": "Invalid or missing API key (x-api-key)"}, status_code=401)


def _invalid(problems: list[tuple[str, str, str]]) -> JSONResponse:
    detail = [{"loc": ["query", name], "msg": msg, "type": kind} for name, msg, kind in problems]
    return JSONResponse({"detail": detail}, status_code=422)


def _has_key(request: Request) -> bool:
    return bool(request.headers.get("x-api-key", "").strip())


def _parse_locations(raw: str) -> list[str]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.split(",")
    if isinstance(parsed, str):
        parsed = [parsed]
    if not isinstance(parsed, list):
        return []
    return [str(p).strip() for p in parsed if str(p).strip()]


def build_ionet_app(seed: int = 0) -> Starlette:
    """A Starlette app serving the fake io.net VMaaS API."""
    listing = hardware_body(seed)

    async def hardware(request: Request) -> JSONResponse:
        if not _has_key(request):
            return _unauthorized()
        items = listing["data"]["hardware"]
        gpu = request.query_params.get("gpu")
        if gpu:
            items = [i for i in items if gpu.lower() in i["name"].lower()]
        regions = request.query_params.get("regions")
        if regions:
            wanted = {r.strip().upper() for r in regions.split(",") if r.strip()}
            items = [i for i in items if i["location"] in wanted]
        return JSONResponse({"data": {"hardware": items}})

    async def price(request: Request) -> JSONResponse:
        if not _has_key(request):
            return _unauthorized()
        query = request.query_params
        problems: list[tuple[str, str, str]] = []
        for name in (
            "location_ids",
            "hardware_id",
            "currency",
            "duration_hours",
            "gpus_per_vm",
            "replica_count",
        ):
            if name not in query:
                problems.append((name, "Field required", "missing"))
        integers: dict[str, int] = {}
        for name in ("duration_hours", "gpus_per_vm", "replica_count"):
            if name in query:
                try:
                    integers[name] = int(query[name])
                except ValueError:
                    problems.append((name, "Input should be a valid integer", "int_parsing"))
                    continue
                if integers[name] < 1:
                    problems.append(
                        (name, "Input should be greater than or equal to 1", "greater_than_equal")
                    )
        currency = query.get("currency")
        if currency is not None and currency not in CONVERSION_FEE_PERCENT:
            problems.append(("currency", "Input should be 'usdc' or 'iocoin'", "enum"))
        if problems:
            return _invalid(problems)
        try:
            body = price_body(
                seed,
                query["hardware_id"],
                _parse_locations(query["location_ids"]),
                query["currency"],
                integers["duration_hours"],
                integers["gpus_per_vm"],
                integers["replica_count"],
            )
        except LookupError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return JSONResponse(body)

    return Starlette(
        routes=[
            Route(HARDWARE_PATH, hardware, methods=["GET"]),
            Route(PRICE_PATH, price, methods=["GET"]),
        ]
    )


def main() -> None:  # pragma: no cover - manual use
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8788)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(build_ionet_app(args.seed), host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
