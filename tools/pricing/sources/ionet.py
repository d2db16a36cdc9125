"""io.net VMaaS prices: the hardware list, then a firm price per matching configuration (pricing.md §4).

Shapes follow io.net's published OpenAPI (https://io.net/docs/reference/vmaas/get-hardware-list and
.../get-deployment-price), both with an ``x-api-key`` header:

- ``GET {base}/enterprise/v1/io-cloud/vmaas/hardware`` -> ``{"data": {"hardware": [{id, deploy_id, name,
  num_cards, supplier, sold_out, price, vram_per_card, interconnect, nvlink, storage, vcpu, memory,
  location}]}}``. ``price`` is the whole VM's USD/hour; ``deploy_id`` (int or string) is the
  ``hardware_id`` of the price call; ``location`` is a country code ("US", "FI").
- ``GET {base}/enterprise/v1/io-cloud/vmaas/price?hardware_id=&location_ids=["US"]&currency=usdc|iocoin
  &duration_hours=&gpus_per_vm=&replica_count=1`` -> ``{"data": {replica_count, gpus_per_vm,
  available_replica_count: [int], discount, ionet_fee, ionet_fee_percent, currency_conversion_fee,
  currency_conversion_fee_percent, total_cost_usdc}}``.

What io.net's schema does not say, and what Necto assumes (re-check against a live account):

- ``total_cost_usdc`` is the compute cost in USD(C) terms for either currency, net of ``discount`` and
  *without* the two fees; Necto adds ``ionet_fee + currency_conversion_fee`` to it (pricing.md §2). Were the
  fees already inside, this overstates by the fees (~2.25 % for USDC), never understates.
- ``storage`` and ``memory`` are GB; ``available_replica_count`` lists free replicas per requested location.

Billing: prepaid by the hour (unused hours come back as credits; the first hour is non-refundable), so
``duration_hours = ceil(hours)`` (at least 1). Pricing model ``token``. For each configuration Necto quotes
the currencies asked for (both by default):

- ``usdc``: ~0 token risk (pricing.md §2): ``usd_total = total_cost_usdc + fees``.
- ``iocoin``: the prepaid balance is held in IO for the prepaid window, so
  ``usd_total = total_cost_usdc * (1 + z * sigma_daily * sqrt(duration_hours / 24)) + fees`` with sigma from
  the ``TokenPriceProvider`` (``IO``). A stale IO price is flagged in the notes; without any IO price the
  IO-coin offers are skipped and every returned offer says so (USDC offers still come).

``usd_per_hour`` is ``usd_total / duration_hours`` (all-in, per prepaid hour). Only configurations that can
match the request are priced (same GPU model and count, region when asked, the cheapest ``max_configs``
by list price), concurrently with at most ``max_concurrency`` price calls in flight. A failed price call
skips that configuration (the other offers note it); if every call fails the source fails. Sold-out
configurations are listed unpriced-by-quote (list price, ``estimate=True``, ``capacity_available=False``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import httpx

from tools.pricing.gpus import catalog_gpu
from tools.pricing.normalize import (
    Z_95_ONE_SIDED,
    PricingError,
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
from tools.request import ComputeRequest, region_matches
from tools.tls import default_ssl_context

IONET_API_URL = "https://api.io.solutions"
HARDWARE_PATH = "/enterprise/v1/io-cloud/vmaas/hardware"
PRICE_PATH = "/enterprise/v1/io-cloud/vmaas/price"
IONET_TTL_S = 600  # marketplace offers: ~10 min (pricing.md §3)
IONET_BILLING_INCREMENT_S = 3600  # prepaid by the hour
IO_SYMBOL = "IO"
DEFAULT_MAX_CONCURRENCY = 8
DEFAULT_MAX_CONFIGS = 20
# A price answer is reused for this long: a quote asks for up to 2 x max_configs prices, and asking io.net
# again within a minute for the same machine, duration and currency tells nothing new. Offers built from a
# cached answer carry the answer's own time as observed_at.
PRICE_CACHE_TTL_S = 60
PRICE_CACHE_MAX = 2000

Currency = Literal["usdc", "iocoin"]
CURRENCIES: tuple[Currency, ...] = ("usdc", "iocoin")


@dataclass(frozen=True)
class _Hardware:
    item_id: str
    deploy_id: str
    name: str
    num_cards: int
    supplier: str
    sold_out: bool
    list_usd_per_hour: Decimal
    vram_per_card: int | None
    interconnect: str | None
    storage_gb: int | None
    vcpu: int | None
    memory_gb: int | None
    location: str | None

    @property
    def key(self) -> str:
        return f"{self.deploy_id}:{self.num_cards}x:{self.location or 'any'}"


def _parse_hardware(item: Any) -> _Hardware:
    if not isinstance(item, dict):
        raise TypeError("hardware entry is not an object")

    def optional_int(name: str) -> int | None:
        value = item.get(name)
        return None if value is None else int(value)

    deploy_id = item["deploy_id"]
    if isinstance(deploy_id, bool) or not isinstance(deploy_id, int | str) or str(deploy_id) == "":
        raise ValueError(f"deploy_id {deploy_id!r} is not an integer or string")
    num_cards = int(item["num_cards"])
    if num_cards < 1:
        raise ValueError(f"num_cards {num_cards} < 1")
    location = item.get("location")
    return _Hardware(
        item_id=str(item["id"]),
        deploy_id=str(deploy_id),
        name=str(item["name"]),
        num_cards=num_cards,
        supplier=str(item.get("supplier") or ""),
        sold_out=bool(item.get("sold_out", False)),
        list_usd_per_hour=to_decimal(item["price"], what="price"),
        vram_per_card=optional_int("vram_per_card"),
        interconnect=str(item["interconnect"]) if item.get("interconnect") else None,
        storage_gb=optional_int("storage"),
        vcpu=optional_int("vcpu"),
        memory_gb=optional_int("memory"),
        location=str(location) if location else None,
    )


@dataclass(frozen=True)
class _Price:
    """One ``/vmaas/price`` answer, as exact Decimals."""

    total_cost_usdc: Decimal
    discount: Decimal
    ionet_fee: Decimal
    ionet_fee_percent: Decimal
    currency_conversion_fee: Decimal
    currency_conversion_fee_percent: Decimal
    available_replica_count: tuple[int, ...]

    @property
    def fees(self) -> Decimal:
        return self.ionet_fee + self.currency_conversion_fee


def _parse_price(body: Any) -> _Price:
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ValueError("no 'data' object")
    data = body["data"]
    available = data.get("available_replica_count")
    if not isinstance(available, list):
        raise ValueError("available_replica_count is not a list")
    figures = {
        name: to_decimal(data.get(name), what=name)
        for name in (
            "total_cost_usdc",
            "discount",
            "ionet_fee",
            "ionet_fee_percent",
            "currency_conversion_fee",
            "currency_conversion_fee_percent",
        )
    }
    if any(value < 0 for value in figures.values()):
        raise ValueError("negative price or fee")
    return _Price(available_replica_count=tuple(int(n) for n in available), **figures)


class IonetSource:
    """Live io.net VMaaS offers, quoted in USDC and/or IO coin."""

    name = "ionet"

    def __init__(
        self,
        base_url: str = IONET_API_URL,
        api_key: str = "",
        *,
        tokens: TokenPriceProvider | None = None,
        currencies: Sequence[Currency] = CURRENCIES,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        max_configs: int = DEFAULT_MAX_CONFIGS,
        clock: Clock = utc_now,
    ) -> None:
        unknown = [c for c in currencies if c not in CURRENCIES]
        if unknown or not currencies:
            raise ValueError(f"currencies must be a non-empty subset of {CURRENCIES}, got {list(currencies)}")
        if max_concurrency < 1 or max_configs < 1:
            raise ValueError("max_concurrency and max_configs must be at least 1")
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.price_ttl_s = PRICE_CACHE_TTL_S
        self._price_cache: dict[tuple[tuple[str, str], ...], tuple[datetime, _Price]] = {}
        self.currencies: tuple[Currency, ...] = tuple(c for c in CURRENCIES if c in currencies)
        self.max_concurrency = max_concurrency
        self.max_configs = max_configs
        self.clock = clock
        self._client = client
        self._transport = transport
        self._timeout_s = timeout_s
        self._retries = retries
        self._headers = {"x-api-key": api_key}

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[HttpJson]:
        """One HTTP client for the whole fetch (the list call and every price call share it)."""
        if self._client is not None:
            yield self._json(self._client)
            return
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout_s, verify=default_ssl_context()
        ) as client:
            yield self._json(client)

    def _json(self, client: httpx.AsyncClient) -> HttpJson:
        return HttpJson(
            self.name, client=client, timeout_s=self._timeout_s, retries=self._retries, headers=self._headers
        )

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """Priced offers for the io.net configurations that can match ``request`` (GPU requests only)."""
        if request.gpu_count == 0:
            return []  # io.net VMaaS rents GPU machines only
        hours = to_decimal(request.hours)
        duration = billed_hours(hours, increment_s=IONET_BILLING_INCREMENT_S)
        async with self._http() as http:
            listing, token = await asyncio.gather(
                http.get(f"{self.base_url}{HARDWARE_PATH}"),
                self._token_lookup(),
            )
            observed = self.clock()
            hardware = self._hardware(listing)
            matching = sorted(
                (h for h in hardware if self._can_match(h, request)),
                key=lambda h: (h.list_usd_per_hour, h.key, h.item_id),
            )
            # One quote per (hardware, GPU count, location): the price call cannot tell duplicates apart,
            # so the cheapest listed one stands for them.
            candidates: list[_Hardware] = []
            for h in matching:
                if all(h.key != seen.key for seen in candidates):
                    candidates.append(h)
            notes: list[str] = []
            if len(candidates) > self.max_configs:
                notes.append(
                    f"{len(candidates) - self.max_configs} more matching io.net configurations not priced "
                    f"(only the {self.max_configs} cheapest by list price are quoted)"
                )
                candidates = candidates[: self.max_configs]
            currencies = list(self.currencies)
            if "iocoin" in currencies and token.price is None:
                currencies.remove("iocoin")
                notes.append(f"IO-coin quotes skipped: no IO/USD price ({token.reason}); USDC quotes only")
            available = [h for h in candidates if not h.sold_out]
            jobs = [(h, c) for h in available for c in currencies]
            answers = await self._price_all(http, jobs, duration)
            results = [answer for answer, _ in answers]
            priced_at = [at for _, at in answers]

        failures = [(h, c, r) for (h, c), r in zip(jobs, results, strict=True) if isinstance(r, str)]
        if jobs and len(failures) == len(jobs):
            raise SourceError(self.name, f"every price call failed; first: {failures[0][2]}")
        for h, c, reason in failures:
            notes.append(f"io.net {h.name} x{h.num_cards} in {h.location} ({c}) not quoted: {reason}")

        offers: list[Offer] = []
        for (h, currency), result, at in zip(jobs, results, priced_at, strict=True):
            if isinstance(result, _Price):
                # A price served from the cache is as old as its answer, not as this fetch.
                offers.append(self._offer(h, currency, result, hours, duration, token, min(observed, at), notes))
        for h in candidates:
            if h.sold_out:
                offers.append(self._sold_out_offer(h, hours, duration, observed, notes))
        return sorted(offers, key=lambda o: o.offer_id)

    async def _token_lookup(self) -> TokenLookup:
        if "iocoin" not in self.currencies:
            return TokenLookup(IO_SYMBOL, None, "IO coin not requested")
        return await lookup_token(self.tokens, IO_SYMBOL)

    def _hardware(self, listing: Any) -> list[_Hardware]:
        require(
            isinstance(listing, dict)
            and isinstance(listing.get("data"), dict)
            and isinstance(listing["data"].get("hardware"), list),
            self.name,
            "no 'data.hardware' list",
        )
        parsed = []
        for index, item in enumerate(listing["data"]["hardware"]):
            try:
                parsed.append(_parse_hardware(item))
            except (KeyError, TypeError, ValueError, PricingError) as exc:
                raise SourceError(self.name, f"unexpected hardware entry #{index}: {exc}") from None
        return parsed

    def _can_match(self, hardware: _Hardware, request: ComputeRequest) -> bool:
        if hardware.num_cards != request.gpu_count:
            return False
        if request.gpu_model and self._gpu(hardware)[0] != request.gpu_model:
            return False
        return region_matches(request.region, necto_region(hardware.location))

    @staticmethod
    def _gpu(hardware: _Hardware) -> tuple[str | None, str | None, float | None]:
        hint = " ".join(
            part
            for part in (
                hardware.interconnect,
                f"{hardware.vram_per_card} GB" if hardware.vram_per_card else "",
            )
            if part
        )
        gpu = catalog_gpu(hardware.name, hint=hint)
        if gpu is None:
            return None, None, None
        memory = float(hardware.vram_per_card) if hardware.vram_per_card else gpu.memory_gib
        return gpu.model, gpu.interface, memory

    async def _price_all(
        self, http: HttpJson, jobs: list[tuple[_Hardware, Currency]], duration: Decimal
    ) -> list[tuple[_Price | str, datetime]]:
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(hardware: _Hardware, currency: Currency) -> tuple[_Price | str, datetime]:
            params = {
                "hardware_id": hardware.deploy_id,
                "location_ids": json.dumps([hardware.location] if hardware.location else []),
                "currency": currency,
                "duration_hours": str(int(duration)),
                "gpus_per_vm": str(hardware.num_cards),
                "replica_count": "1",
            }
            key = tuple(sorted(params.items()))
            cached = self._price_cache.get(key)
            now = self.clock()
            if cached is not None and (now - cached[0]).total_seconds() < self.price_ttl_s:
                return cached[1], cached[0]
            async with gate:
                try:
                    body = await http.get(f"{self.base_url}{PRICE_PATH}", params=params)
                except SourceError as exc:
                    return exc.reason, now
            try:
                price = _parse_price(body)
            except (KeyError, TypeError, ValueError, PricingError) as exc:
                return f"unexpected price response: {exc}", now
            self._price_cache[key] = (now, price)
            return price, now

        answers = await asyncio.gather(*(one(h, c) for h, c in jobs))
        if len(self._price_cache) > PRICE_CACHE_MAX:
            self._price_cache.clear()
        return list(answers)

    def _common(self, hardware: _Hardware, observed: datetime) -> dict[str, Any]:
        model, interface, memory = self._gpu(hardware)
        return dict(
            provider="io.net",
            source=self.name,
            pricing_model="token",
            region=necto_region(hardware.location),
            provider_region=hardware.location,
            gpu_model=model,
            gpu_count=hardware.num_cards,
            gpu_memory_gib=memory,
            cpu=float(hardware.vcpu or 0),
            memory_gib=float(hardware.memory_gb or 0),
            storage_gib=float(hardware.storage_gb) if hardware.storage_gb is not None else None,
            effective_pflops=effective_pflops(
                model, hardware.num_cards, interface=interface, memory_gib=memory
            ),
            observed_at=observed,
            ttl_s=IONET_TTL_S,
            deployable=False,
        )

    def _spec_notes(self, hardware: _Hardware) -> list[str]:
        notes = []
        if hardware.vcpu is None or hardware.memory_gb is None:
            notes.append("io.net does not publish this configuration's vCPU or memory (shown as 0)")
        return notes

    def _offer(
        self,
        hardware: _Hardware,
        currency: Currency,
        price: _Price,
        hours: Decimal,
        duration: Decimal,
        token: TokenLookup,
        observed: datetime,
        source_notes: list[str],
    ) -> Offer:
        days = duration / 24
        notes = [
            f"prepaid {duration} h (billed by the hour; unused hours refunded as credits, first hour "
            "non-refundable)",
        ]
        token_figures: dict[str, object] = {}
        if currency == "usdc":
            sigma = Decimal(0)
            notes.append("paid in USDC: ~0 token risk; io.net and conversion fees included")
        else:
            risk = exposure(token)
            sigma = risk.sigma_daily
            notes.append(
                f"paid in IO coin: held {days:.4g} day(s) prepaid, priced at a 95 % bound for IO volatility; "
                "io.net fee included"
            )
            notes.extend(risk.notes)
            token_figures = {"token_symbol": IO_SYMBOL, "sigma_source": risk.sigma_source}
            if token.price is not None:  # always, in fact: IO-coin quotes are dropped without a price
                io_usd = token.price.usd
                token_figures |= {
                    "token_usd": io_usd,
                    "token_source": token.price.source,
                    "token_observed_at": token.price.observed_at.isoformat(),
                    "token_stale": token.price.stale,
                    "io_amount": (price.total_cost_usdc + price.fees) / io_usd if io_usd > 0 else None,
                }
        total = token_risk_adjusted_usd(
            price.total_cost_usdc, sigma_daily=sigma, days=days, z=Z_95_ONE_SIDED, fees_usd=price.fees
        )
        per_hour = total / duration
        common = self._common(hardware, observed)
        model, interface, memory = self._gpu(hardware)
        per_pflop = usd_per_effective_pflop_hour(
            per_hour, model, hardware.num_cards, interface=interface, memory_gib=memory
        )
        free = sum(price.available_replica_count)
        return Offer(
            offer_id=f"ionet:{hardware.key}:{currency}",
            usd_per_hour=per_hour,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            capacity_available=free >= 1,
            estimate=False,
            notes=[*notes, *self._spec_notes(hardware), *source_notes],
            inputs=exact_inputs(
                hardware_item_id=hardware.item_id,
                hardware_id=hardware.deploy_id,
                location=hardware.location,
                currency=currency,
                hours=hours,
                duration_hours=duration,
                days=days,
                gpus_per_vm=hardware.num_cards,
                replica_count=1,
                list_usd_per_hour=hardware.list_usd_per_hour,
                total_cost_usdc=price.total_cost_usdc,
                discount=price.discount,
                ionet_fee=price.ionet_fee,
                ionet_fee_percent=price.ionet_fee_percent,
                currency_conversion_fee=price.currency_conversion_fee,
                currency_conversion_fee_percent=price.currency_conversion_fee_percent,
                fees_usd=price.fees,
                available_replica_count=",".join(str(n) for n in price.available_replica_count),
                sigma_daily=sigma,
                z=Z_95_ONE_SIDED,
                usd_total=total,
                usd_per_hour=per_hour,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=common["effective_pflops"],
                **token_figures,
            ),
            **common,
        )

    def _sold_out_offer(
        self,
        hardware: _Hardware,
        hours: Decimal,
        duration: Decimal,
        observed: datetime,
        source_notes: list[str],
    ) -> Offer:
        total = hardware.list_usd_per_hour * duration
        common = self._common(hardware, observed)
        model, interface, memory = self._gpu(hardware)
        per_pflop = usd_per_effective_pflop_hour(
            hardware.list_usd_per_hour, model, hardware.num_cards, interface=interface, memory_gib=memory
        )
        return Offer(
            offer_id=f"ionet:{hardware.key}:list",
            usd_per_hour=hardware.list_usd_per_hour,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            capacity_available=False,
            estimate=True,
            notes=[
                "sold out right now: list price only (no quote, fees and token risk not included)",
                *self._spec_notes(hardware),
                *source_notes,
            ],
            inputs=exact_inputs(
                hardware_item_id=hardware.item_id,
                hardware_id=hardware.deploy_id,
                location=hardware.location,
                hours=hours,
                duration_hours=duration,
                list_usd_per_hour=hardware.list_usd_per_hour,
                usd_total=total,
                usd_per_hour=hardware.list_usd_per_hour,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=common["effective_pflops"],
            ),
            **common,
        )


__all__ = ["CURRENCIES", "IONET_API_URL", "IonetSource"]
