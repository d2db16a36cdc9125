"""Render Compute Network prices, read from a small JSON price document (pricing.md §4).

Render publishes its hourly GPU prices (RTX 4090 0.35, RTX 3090 0.31, RTX 5090 0.45-0.69 USD per GPU-hour
at the time of writing) on a web page; it has no official price API. **The JSON shape below is Necto's
own**: someone (an operator, a scheduled job, the devnet) keeps a document of this shape at a URL and this
source reads it::

    {"updated_at": "2026-02-20T00:00:00Z",      # ISO-8601, optional: when the figures were copied
     "currency": "USD",                         # required, only USD is accepted
     "billing_increment_s": 60,                 # optional, default 3600 (billed by the hour)
     "gpus": [{"model": "RTX 5090",             # required, any name gpus.catalog_gpu understands
               "vram_gb": 32,                   # optional
               "usd_per_hour": "0.45",          # required, USD per GPU-hour (string or number)
               "usd_per_hour_max": "0.69",      # optional: the top of a published range
               "available": 12,                 # optional: GPUs free now (unknown when absent)
               "regions": ["us-east"],          # optional: Necto or provider region names
               "vcpus_per_gpu": 8,              # optional (0 when absent, and said so in the notes)
               "memory_gib_per_gpu": 48}]}      # optional (same)

Pricing model ``token``: prices are fiat, but the tenant pays by burning RENDER bought up front for the
job, so the USD cost carries RENDER's volatility over the job (pricing.md §2)::

    usd_list  = per_gpu_usd_per_hour * gpu_count * billed_hours        (billed_hours: ceil to the increment)
    usd_total = usd_list * (1 + z * sigma_daily * sqrt(days)),  days = min(billed_hours / 24, 30)

A range is priced at its top (the bill must not exceed the quote). ``days`` is capped at
``MAX_EXPOSURE_DAYS`` = 30: past a month a tenant buys RENDER in monthly tranches rather than all at once,
so no single purchase is exposed longer. No fee is added (Render publishes none for the burn).

When RENDER's USD price is unavailable the offers are still listed, because the USD figure is the
published fiat price and needs no token price; the risk adjustment then uses an assumed volatility
(``token_exposure.ASSUMED_SIGMA_DAILY``) and the notes say so, as they do for a stale price or an unknown
sigma. Every Render offer is ``estimate=True``: a published price list, not a firm quote. One offer per
(GPU model, region) at the request's GPU count; no offers for CPU-only requests.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tools.pricing.gpus import catalog_gpu
from tools.pricing.normalize import (
    Z_95_ONE_SIDED,
    PricingError,
    billed_cost,
    billed_hours,
    effective_pflops,
    necto_region,
    to_decimal,
    token_risk_adjusted_usd,
    usd_per_effective_pflop_hour,
)
from tools.pricing.offer import Offer, exact_inputs, utc_now
from tools.pricing.sources import DEFAULT_TIMEOUT_S, Clock, HttpJson, SourceError, require
from tools.pricing.sources.token_exposure import TokenLookup, exposure, lookup_token
from tools.pricing.tokens import TokenPriceProvider
from tools.request import ComputeRequest

RENDER_TTL_S = 600  # marketplace prices: ~10 min (pricing.md §3)
RENDER_SYMBOL = "RENDER"
DEFAULT_BILLING_INCREMENT_S = 3600
MAX_EXPOSURE_DAYS = Decimal(30)
OLD_DOCUMENT_DAYS = 30  # a price document older than this gets a note


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class RenderSource:
    """Render Compute Network offers from a published-price document."""

    name = "render"

    def __init__(
        self,
        price_url: str,
        *,
        tokens: TokenPriceProvider | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
        clock: Clock = utc_now,
    ) -> None:
        if not price_url:
            raise ValueError("RenderSource needs the URL of a price document (Render has no price API)")
        self.price_url = price_url
        self.tokens = tokens
        self.clock = clock
        self._http = HttpJson(
            self.name, client=client, transport=transport, timeout_s=timeout_s, retries=retries
        )

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """Offers for every GPU model in the document at the request's GPU count (GPU requests only)."""
        if request.gpu_count == 0:
            return []  # the Render Compute Network sells GPU time only
        body = await self._http.get(self.price_url)
        observed = self.clock()
        require(isinstance(body, dict), self.name, "the price document is not an object")
        require(body.get("currency") == "USD", self.name, f"currency {body.get('currency')!r} is not 'USD'")
        require(isinstance(body.get("gpus"), list), self.name, "no 'gpus' list")
        try:
            increment = int(body.get("billing_increment_s") or DEFAULT_BILLING_INCREMENT_S)
            updated_at = _parse_time(body.get("updated_at"))
        except (TypeError, ValueError) as exc:
            raise SourceError(self.name, f"unexpected document header: {exc}") from None
        require(increment > 0, self.name, "billing_increment_s must be positive")
        token = await lookup_token(self.tokens, RENDER_SYMBOL)
        document_notes = []
        if updated_at is not None and observed - updated_at > timedelta(days=OLD_DOCUMENT_DAYS):
            document_notes.append(
                f"Render price list last updated {updated_at.date().isoformat()} "
                f"({(observed - updated_at).days} days ago)"
            )
        offers: list[Offer] = []
        for index, entry in enumerate(body["gpus"]):
            try:
                offers.extend(
                    self._offers(entry, request, increment, updated_at, token, observed, document_notes)
                )
            except (KeyError, TypeError, ValueError, PricingError) as exc:
                raise SourceError(self.name, f"unexpected gpus entry #{index}: {exc}") from None
        return sorted(offers, key=lambda o: o.offer_id)

    def _offers(
        self,
        entry: Any,
        request: ComputeRequest,
        increment: int,
        updated_at: datetime | None,
        token: TokenLookup,
        observed: datetime,
        document_notes: list[str],
    ) -> list[Offer]:
        if not isinstance(entry, dict):
            raise TypeError("not an object")
        name = str(entry["model"])
        vram = entry.get("vram_gb")
        gpu = catalog_gpu(name, hint=f"{vram} GB" if vram else "")
        if gpu is None:
            raise ValueError("empty model name")
        memory = float(vram) if vram else gpu.memory_gib
        low = to_decimal(entry["usd_per_hour"], what="usd_per_hour")
        high = (
            to_decimal(entry["usd_per_hour_max"], what="usd_per_hour_max")
            if "usd_per_hour_max" in entry
            else None
        )
        if low < 0 or (high is not None and high < low):
            raise ValueError(f"bad price range {low}..{high}")
        per_gpu = high if high is not None else low
        count = request.gpu_count
        available = entry.get("available")
        if available is not None:
            available = int(available)
        regions = entry.get("regions") or []
        if not isinstance(regions, list):
            raise TypeError("regions is not a list")
        vcpus = entry.get("vcpus_per_gpu")
        memory_per_gpu = entry.get("memory_gib_per_gpu")

        hours = to_decimal(request.hours)
        billed = billed_hours(hours, increment_s=increment)
        list_per_hour = per_gpu * count
        usd_list = billed_cost(list_per_hour, hours, increment_s=increment)
        days = min(billed / 24, MAX_EXPOSURE_DAYS)
        risk = exposure(token)
        total = token_risk_adjusted_usd(usd_list, sigma_daily=risk.sigma_daily, days=days, z=Z_95_ONE_SIDED)
        per_hour = total / billed
        per_pflop = usd_per_effective_pflop_hour(
            per_hour, gpu.model, count, interface=gpu.interface, memory_gib=memory
        )
        pflops = effective_pflops(gpu.model, count, interface=gpu.interface, memory_gib=memory)

        notes = [
            "Render published price list (fiat USD per GPU-hour, paid by burning RENDER bought up front); "
            "not a firm quote",
            f"priced at a 95 % bound for RENDER volatility over {days:.4g} day(s)"
            + (f" (capped at {MAX_EXPOSURE_DAYS} days)" if billed / 24 > MAX_EXPOSURE_DAYS else ""),
        ]
        if high is not None:
            notes.append(f"published range ${low}-${high} per GPU-hour; quoted at the top")
        if count > 1:
            notes.append(f"{count} GPUs assumed available to one job at {count}x the per-GPU price")
        notes.extend(risk.notes)
        if vcpus is None or memory_per_gpu is None:
            notes.append("Render does not publish vCPU or memory for this GPU (shown as 0)")
        notes.extend(document_notes)

        token_figures: dict[str, object] = {"token_symbol": RENDER_SYMBOL, "sigma_source": risk.sigma_source}
        if token.price is not None:
            token_figures |= {
                "token_usd": token.price.usd,
                "token_source": token.price.source,
                "token_observed_at": token.price.observed_at.isoformat(),
                "token_stale": token.price.stale,
                "render_amount": usd_list / token.price.usd if token.price.usd > 0 else None,
            }
        common = dict(
            provider="Render",
            source=self.name,
            pricing_model="token",
            gpu_model=gpu.model,
            gpu_count=count,
            gpu_memory_gib=memory,
            cpu=float(to_decimal(vcpus) * count) if vcpus is not None else 0.0,
            memory_gib=float(to_decimal(memory_per_gpu) * count) if memory_per_gpu is not None else 0.0,
            storage_gib=None,
            usd_per_hour=per_hour,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=pflops,
            observed_at=observed,
            ttl_s=RENDER_TTL_S,
            capacity_available=None if available is None else available >= count,
            deployable=False,
            estimate=True,
            notes=notes,
        )
        inputs = dict(
            model=name,
            usd_per_gpu_hour=low,
            usd_per_gpu_hour_max=high,
            usd_per_gpu_hour_used=per_gpu,
            gpu_count=count,
            available=available,
            hours=hours,
            billing_increment_s=increment,
            billed_hours=billed,
            usd_list=usd_list,
            days=days,
            sigma_daily=risk.sigma_daily,
            z=Z_95_ONE_SIDED,
            usd_total=total,
            usd_per_hour=per_hour,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=pflops,
            updated_at=updated_at.isoformat() if updated_at else None,
            **token_figures,
        )
        slug = _slug(name)
        if not regions:
            return [Offer(offer_id=f"render:{slug}:{count}x:any", inputs=exact_inputs(**inputs), **common)]
        return [
            Offer(
                offer_id=f"render:{slug}:{count}x:{raw}",
                region=necto_region(str(raw)),
                provider_region=str(raw),
                inputs=exact_inputs(**inputs, region=raw),
                **common,
            )
            for raw in sorted(str(r) for r in regions)
        ]


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError(f"updated_at {value!r} has no time zone")
    return parsed


__all__ = ["MAX_EXPOSURE_DAYS", "RenderSource"]
