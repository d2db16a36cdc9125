"""A fake Render Compute Network price document: ``GET /gpu-prices.json``.

Render publishes its hourly GPU prices on a web page, not through an API; the JSON shape served here is
Necto's own (see ``tools.pricing.sources.render`` for the schema). The figures for RTX 4090 (0.35),
RTX 3090 (0.31) and RTX 5090 (0.45-0.69 USD per GPU-hour) are the published ones quoted in pricing.md §4 at
the time of writing; regions, availability and per-GPU CPU/memory are self-authored. None of it is a live
price: the document says so in its ``note``. ``seed`` decides the ``available`` counts (deterministic per
seed); the RTX 4090 always has at least 8 free GPUs so tests can rely on it. No authentication.

Run alone: ``python -m devnet.render_api --port 8789``.
"""

from __future__ import annotations

import argparse
import random

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PRICES_PATH = "/gpu-prices.json"
UPDATED_AT = "2026-02-20T00:00:00Z"

# model, VRAM GB, USD/GPU-hour (low, high or None), regions, vCPU and memory GiB per GPU
# fmt: off
GPUS: tuple[tuple[str, int, str, str | None, tuple[str, ...], int, int], ...] = (
    ("RTX 4090", 24, "0.35", None, ("us-east", "eu-central"), 8, 32),
    ("RTX 3090", 24, "0.31", None, ("us-west",), 6, 24),
    ("RTX 5090", 32, "0.45", "0.69", (), 8, 48),
)
# fmt: on
ALWAYS_AVAILABLE = {"RTX 4090": 8}


def prices_body(seed: int = 0) -> dict:
    """The price document for ``seed`` (deterministic)."""
    rng = random.Random(seed)
    gpus = []
    for model, vram, low, high, regions, vcpus, memory in GPUS:
        available = rng.choice((0, 3, 12, 40, 150))
        available = max(available, ALWAYS_AVAILABLE.get(model, 0))
        entry: dict = {"model": model, "vram_gb": vram, "usd_per_hour": low}
        if high is not None:
            entry["usd_per_hour_max"] = high
        entry.update(
            available=available,
            regions=list(regions),
            vcpus_per_gpu=vcpus,
            memory_gib_per_gpu=memory,
        )
        gpus.append(entry)
    return {
        "updated_at": UPDATED_AT,
        "currency": "USD",
        "billing_increment_s": 60,
        "source": "Necto devnet",
        "note": "Self-authored devnet data modeled on Render's published prices (pricing.md §4); not live prices.",
        "gpus": gpus,
    }


def build_render_app(seed: int = 0) -> Starlette:
    """A Starlette app serving the fake Render price document."""
    body = prices_body(seed)

    async def prices(request: Request) -> JSONResponse:
        return JSONResponse(body)

    return Starlette(routes=[Route(PRICES_PATH, prices, methods=["GET"])])


def main() -> None:  # pragma: no cover - manual use
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8789)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    uvicorn.run(build_render_app(args.seed), host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
