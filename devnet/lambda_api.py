"""A fake Lambda Cloud API: ``GET /api/v1/instance-types`` in Lambda's response shape.

The instance types and prices are self-authored and plausible, not Lambda's real price list. ``seed``
decides which regions have capacity (deterministic per seed); some types are always sold out so tests can
rely on that. Every request needs ``Authorization: Bearer <non-empty>``, else 401 in Lambda's error shape.

Run alone: ``python -m devnet.lambda_api --port 8787``.
"""

from __future__ import annotations

import argparse
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

REGIONS: tuple[tuple[str, str], ...] = (
    ("us-west-1", "California, USA"),
    ("us-west-2", "Arizona, USA"),
    ("us-east-1", "Virginia, USA"),
    ("us-midwest-1", "Illinois, USA"),
    ("us-south-1", "Texas, USA"),
    ("europe-central-1", "Germany"),
    ("asia-northeast-1", "Tokyo, Japan"),
    ("asia-south-1", "India"),
)

# name, description, gpu_description, cents/hour, vcpus, memory GiB, storage GiB, gpus
# fmt: off
INSTANCE_TYPES: tuple[tuple[str, str, str, int, int, int, int, int], ...] = (
    ("cpu_4x_general", "4x vCPU general", "", 17, 4, 16, 100, 0),
    ("gpu_1x_a10", "1x A10 (24 GB PCIe)", "A10 (24 GB PCIe)", 79, 30, 200, 1400, 1),
    ("gpu_1x_a6000", "1x A6000 (48 GB)", "RTX A6000 (48 GB)", 84, 14, 100, 512, 1),
    ("gpu_1x_rtx6000", "1x RTX 6000 (24 GB)", "RTX 6000 (24 GB)", 55, 14, 46, 512, 1),
    ("gpu_1x_a100", "1x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 135, 30, 200, 512, 1),
    ("gpu_1x_a100_sxm4", "1x A100 (40 GB SXM4)", "A100 (40 GB SXM4)", 139, 30, 200, 512, 1),
    ("gpu_2x_a100", "2x A100 (40 GB PCIe)", "A100 (40 GB PCIe)", 270, 60, 400, 1024, 2),
    ("gpu_8x_a100_80gb_sxm4", "8x A100 (80 GB SXM4)", "A100 (80 GB SXM4)", 1432, 240, 1800, 19500, 8),
    ("gpu_1x_h100_pcie", "1x H100 (80 GB PCIe)", "H100 (80 GB PCIe)", 259, 26, 200, 1000, 1),
    ("gpu_1x_h100_sxm5", "1x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 319, 26, 225, 2750, 1),
    ("gpu_8x_h100_sxm5", "8x H100 (80 GB SXM5)", "H100 (80 GB SXM5)", 2392, 208, 1800, 22000, 8),
    ("gpu_1x_gh200", "1x GH200 (96 GB)", "GH200 (96 GB)", 169, 64, 432, 4000, 1),
)
# fmt: on
ALWAYS_SOLD_OUT = frozenset({"gpu_8x_h100_sxm5", "gpu_1x_a100"})
ALWAYS_AVAILABLE = {
    "gpu_1x_a100_sxm4": "us-west-1",
    "gpu_1x_h100_pcie": "us-east-1",
    "cpu_4x_general": "us-west-1",
}


def instance_types_body(seed: int = 0) -> dict:
    """The ``/api/v1/instance-types`` body for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    data = {}
    for name, description, gpu_description, cents, vcpus, memory, storage, gpus in INSTANCE_TYPES:
        if name in ALWAYS_SOLD_OUT:
            regions = []
        else:
            pinned = ALWAYS_AVAILABLE.get(name)
            draws = [rng.random() for _ in REGIONS]
            regions = [r for r, draw in zip(REGIONS, draws, strict=True) if draw < 0.45 or r[0] == pinned]
        data[name] = {
            "instance_type": {
                "name": name,
                "description": description,
                "gpu_description": gpu_description,
                "price_cents_per_hour": cents,
                "specs": {"vcpus": vcpus, "memory_gib": memory, "storage_gib": storage, "gpus": gpus},
            },
            "regions_with_capacity_available": [{"name": r, "description": d} for r, d in regions],
        }
    return {"data": data}


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": "global/invalid-api-key",
                "message": "API key was invalid, expired, or deleted.",
                "suggestion": "Check your API key or create a new key and try again.",
            }
        },
        status_code=401,
    )


def build_lambda_app(seed: int = 0) -> Starlette:
    """A Starlette app serving the fake Lambda Cloud API."""
    body = instance_types_body(seed)

    async def instance_types(request: Request) -> JSONResponse:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized()
        return JSONResponse(body)

    return Starlette(routes=[Route("/api/v1/instance-types", instance_types, methods=["GET"])])


def main() -> None:  # pragma: no cover - manual use
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(build_lambda_app(args.seed), host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
