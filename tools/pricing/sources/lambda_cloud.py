"""Lambda Cloud on-demand prices: ``GET {base_url}/api/v1/instance-types`` with a Bearer key (pricing.md §4).

Shape: ``{"data": {<name>: {"instance_type": {name, description, gpu_description, price_cents_per_hour,
specs: {vcpus, memory_gib, storage_gib, gpus}}, "regions_with_capacity_available": [{name, description}]}}}``.
One offer per (instance type, region with capacity); a type with no region is sold out and becomes a single
offer with ``capacity_available=False`` so the user sees what exists. Lambda bills per minute, no egress fee.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tools.pricing.gpus import catalog_gpu
from tools.pricing.normalize import (
    PricingError,
    billed_cost,
    effective_pflops,
    necto_region,
    to_decimal,
    usd_per_effective_pflop_hour,
)
from tools.pricing.offer import Offer, exact_inputs, utc_now
from tools.pricing.sources import DEFAULT_TIMEOUT_S, Clock, HttpJson, SourceError, require
from tools.request import ComputeRequest

LAMBDA_API_URL = "https://cloud.lambda.ai"
LAMBDA_BILLING_INCREMENT_S = 60
LAMBDA_TTL_S = 600  # live on-demand price and capacity; marketplace-style TTL (pricing.md §3)
_TYPE_NAME = re.compile(r"^gpu_(\d+)x_([a-z0-9]+?)(?:_(sxm\d?|pcie|\d+gb?))*$")


class LambdaSource:
    """Live Lambda Cloud offers."""

    name = "lambda"

    def __init__(
        self,
        base_url: str = LAMBDA_API_URL,
        api_key: str = "",
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
        clock: Clock = utc_now,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._http = HttpJson(
            self.name,
            client=client,
            transport=transport,
            timeout_s=timeout_s,
            retries=retries,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """Offers for every Lambda instance type (the ranking applies the request's filters)."""
        body = await self._http.get(f"{self.base_url}/api/v1/instance-types")
        observed = self.clock()
        require(isinstance(body, dict) and isinstance(body.get("data"), dict), self.name, "no 'data' object")
        offers: list[Offer] = []
        for key in sorted(body["data"]):
            try:
                offers.extend(self._offers(body["data"][key], request, observed))
            except (KeyError, TypeError, ValueError, PricingError) as exc:
                raise SourceError(self.name, f"unexpected instance type {key!r}: {exc}") from None
        return offers

    def _offers(self, entry: dict[str, Any], request: ComputeRequest, observed: Any) -> list[Offer]:
        itype = entry["instance_type"]
        name = str(itype["name"])
        specs = itype["specs"]
        gpus = int(specs.get("gpus") or 0)
        usd_per_hour = to_decimal(itype["price_cents_per_hour"], what="price_cents_per_hour") / 100
        gpu = None
        if gpus:
            description = str(itype.get("gpu_description") or "")
            matched = _TYPE_NAME.match(name)
            base = matched.group(2) if matched else description.split(" ")[0]
            gpu = catalog_gpu(base, hint=f"{name} {description}")
        model = gpu.model if gpu else None
        interface = gpu.interface if gpu else None
        memory = gpu.memory_gib if gpu else None
        hours = to_decimal(request.hours)
        total = billed_cost(usd_per_hour, hours, increment_s=LAMBDA_BILLING_INCREMENT_S)
        per_pflop = usd_per_effective_pflop_hour(
            usd_per_hour, model, gpus, interface=interface, memory_gib=memory
        )
        pflops = effective_pflops(model, gpus, interface=interface, memory_gib=memory)
        regions = entry.get("regions_with_capacity_available") or []
        require(isinstance(regions, list), self.name, "regions_with_capacity_available is not a list")
        common = dict(
            provider="Lambda",
            source=self.name,
            pricing_model="fixed",
            gpu_model=model,
            gpu_count=gpus,
            gpu_memory_gib=memory,
            cpu=float(specs["vcpus"]),
            memory_gib=float(specs["memory_gib"]),
            storage_gib=float(specs["storage_gib"]) if specs.get("storage_gib") is not None else None,
            usd_per_hour=usd_per_hour,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=pflops,
            observed_at=observed,
            ttl_s=LAMBDA_TTL_S,
            deployable=False,
            estimate=False,
            inputs=exact_inputs(
                instance_type=name,
                price_cents_per_hour=itype["price_cents_per_hour"],
                usd_per_hour=usd_per_hour,
                hours=hours,
                billing_increment_s=LAMBDA_BILLING_INCREMENT_S,
                usd_total=total,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=pflops,
            ),
        )
        note = "on-demand list price, billed per minute, no egress fee"
        if not regions:
            return [
                Offer(
                    offer_id=f"lambda:{name}",
                    capacity_available=False,
                    notes=[note, "sold out in every region right now"],
                    **common,
                )
            ]
        offers = []
        for region in sorted(regions, key=lambda r: str(r["name"])):
            raw = str(region["name"])
            offers.append(
                Offer(
                    offer_id=f"lambda:{name}:{raw}",
                    region=necto_region(raw),
                    provider_region=raw,
                    capacity_available=True,
                    notes=[note],
                    **common,
                )
            )
        return offers
