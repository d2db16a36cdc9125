"""Akash offers: providers that could host the request, priced by a prior until bids exist.

Before an order is open there are no bids, so each provider that could host the request (online, has the
GPU model, enough free capacity when known) becomes an ``auction`` offer with ``estimate=True``:

- providers: chain REST ``GET {rest_url}/akash/provider/v1beta4/providers`` (pagination.next_key followed),
  joined by owner with Console ``GET {console_url}/v1/providers`` (isOnline, uptime7d, isAudited, gpuModels,
  ipRegion, locationRegion; ``stats`` of free resources when present — the detail route has it, the
  list route's schema does not);
- GPU price prior: Console ``GET /v1/gpu-prices``, per-GPU USD/hour from recent bids; the median (``med``)
  of the entry matching the provider's model, RAM and interface (else of all entries for the model);
- CPU-only prior: Console ``POST /v1/pricing`` (USD/month for cpu/memory/storage), else the static
  per-unit prior below.

Chain REST failures or garbage raise SourceError. Console is auxiliary: when it fails the offers still
come (status unknown, static prior) with a note naming the failure.

At deploy time, :func:`offers_from_bids` turns real bids (chain ``/akash/market/v1beta5/bids/list`` or
Console ``/v1/bids``) into firm offers (``estimate=False``, TTL = what is left of the bid window) so the
same ``rank`` chooses among them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, ConfigDict

from tools.pricing.gpus import gpu_spec
from tools.pricing.normalize import (
    DEFAULT_BLOCK_TIME_S,
    PricingError,
    billed_cost,
    effective_pflops,
    necto_region,
    to_decimal,
    usd_per_effective_pflop_hour,
    usd_per_hour_from_block_price,
)
from tools.pricing.offer import Offer, exact_inputs, utc_now
from tools.pricing.sources import DEFAULT_TIMEOUT_S, Clock, HttpJson, SourceError, require
from tools.request import ComputeRequest
from tools.text import display_text

PROVIDERS_PATH = "/akash/provider/v1beta4/providers"
BIDS_PATH = "/akash/market/v1beta5/bids/list"
AKASH_PRIOR_TTL_S = 600  # marketplace prices: ~10 min (pricing.md §3)
BID_WINDOW_S = 300
PROVIDERS_TTL_S = 60  # the provider directory (chain + Console) is reused this long  # bids live while the order is open, ~5 min (pricing.md §3)
MAX_PAGES = 200
GIB = Decimal(1024) ** 3
# Console's month: 30.437 days (akash.md §6), for turning its USD/month back into USD/hour.
CONSOLE_HOURS_PER_MONTH = Decimal("30.437") * 24

# CPU-only prior, USD per unit-month: the Akash provider pricing script's default targets (helm chart
# akash-provider, price_target_cpu / _memory / _hd_ephemeral), which most providers bid at or near.
CPU_USD_PER_CORE_MONTH = Decimal("1.60")
MEMORY_USD_PER_GIB_MONTH = Decimal("0.80")
STORAGE_USD_PER_GIB_MONTH = Decimal("0.02")

# Per-GPU USD/hour when Console has no price for a model: rough recent Akash market levels, used only as
# a labelled fallback (never observed data).
# fmt: off
GPU_FALLBACK_USD_PER_HOUR: dict[str, Decimal] = {
    "h200": Decimal("2.40"), "h100": Decimal("1.80"), "a100": Decimal("1.10"), "l40s": Decimal("0.70"),
    "l40": Decimal("0.60"), "l4": Decimal("0.30"), "a6000": Decimal("0.45"), "a5000": Decimal("0.30"),
    "a4000": Decimal("0.20"), "rtx4090": Decimal("0.40"), "rtx3090": Decimal("0.22"),
    "rtx3080": Decimal("0.15"), "rtx5090": Decimal("0.60"), "a40": Decimal("0.35"), "a10": Decimal("0.25"),
    "a30": Decimal("0.30"), "t4": Decimal("0.12"), "v100": Decimal("0.25"), "p100": Decimal("0.10"),
}
# fmt: on

_GPU_ATTRIBUTE = re.compile(
    r"^(?:capabilities/gpu/)?vendor/(?P<vendor>[^/]+)/model/(?P<model>[^/]+)"
    r"(?:/ram/(?P<ram>[^/]+))?(?:/interface/(?P<interface>[^/]+))?$"
)



class AkashGpu(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    ram: str | None = None  # "80Gi"
    interface: str | None = None  # "sxm4", "pcie"

    @property
    def memory_gib(self) -> float | None:
        found = re.match(r"^(\d+(?:\.\d+)?)", self.ram or "")
        return float(found.group(1)) if found else None


class AkashCapacity(BaseModel):
    """Free resources a provider reports (Console ``stats.*.available``)."""

    model_config = ConfigDict(frozen=True)

    cpu: float  # cores
    memory_gib: float
    storage_gib: float
    gpus: int


class AkashProvider(BaseModel):
    """A provider as the chain and Console describe it, joined by owner."""

    model_config = ConfigDict(frozen=True)

    owner: str
    host_uri: str = ""
    name: str | None = None
    attributes: dict[str, str] = {}
    region: str | None = None
    provider_region: str | None = None
    online: bool | None = None  # None: Console has no record
    uptime: float | None = None
    audited: bool | None = None
    gpus: tuple[AkashGpu, ...] = ()
    available: AkashCapacity | None = None

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        host = urlparse(self.host_uri).hostname if self.host_uri else None
        return host or f"{self.owner[:12]}...{self.owner[-4:]}"

    def gpu_variants(self, model: str) -> list[AkashGpu]:
        return [g for g in self.gpus if g.model == model]


def gpus_from_attributes(attributes: Iterable[tuple[str, str]]) -> tuple[AkashGpu, ...]:
    """GPU models from provider attributes (``capabilities/gpu/vendor/nvidia/model/a100/ram/80Gi`` = true)."""
    found: dict[tuple[str, str | None, str | None], AkashGpu] = {}
    for key, value in attributes:
        matched = _GPU_ATTRIBUTE.match(key)
        if not matched or str(value).lower() not in ("true", "1", "yes"):
            continue
        gpu = AkashGpu(
            model=matched["model"].lower(), ram=matched["ram"], interface=_lower(matched["interface"])
        )
        found[(gpu.model, gpu.ram, gpu.interface)] = gpu
    return _compact_gpus(found.values())


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


def _compact_gpus(gpus: Iterable[AkashGpu]) -> tuple[AkashGpu, ...]:
    """Drop a bare ``model`` entry when a more specific one (with ram or interface) exists; sort."""
    items = set(gpus)
    specific = {g.model for g in items if g.ram or g.interface}
    kept = [g for g in items if g.ram or g.interface or g.model not in specific]
    return tuple(sorted(kept, key=lambda g: (g.model, g.ram or "", g.interface or "")))


def _uptime(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    number = float(value)
    if number > 1:  # tolerate a percentage
        number /= 100
    return min(max(number, 0.0), 1.0)


def _capacity(stats: Any) -> AkashCapacity | None:
    """Console ``stats``: cpu in thousandths of a core, memory and storage in bytes (as in its /v1/pricing)."""
    if not isinstance(stats, dict):
        return None
    try:
        storage = stats["storage"]
        ephemeral = storage["ephemeral"]["available"] if isinstance(storage, dict) else storage["available"]
        return AkashCapacity(
            cpu=float(stats["cpu"]["available"]) / 1000,
            memory_gib=float(stats["memory"]["available"]) / float(GIB),
            storage_gib=float(ephemeral) / float(GIB),
            gpus=int(stats["gpu"]["available"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class GpuPrice(BaseModel):
    """One ``/v1/gpu-prices`` model entry (USD per GPU-hour from recent bids)."""

    model_config = ConfigDict(frozen=True)

    model: str
    ram: str | None
    interface: str | None
    med: Decimal
    min: Decimal
    max: Decimal
    available: int | None = None
    total: int | None = None


def parse_gpu_prices(body: Any) -> list[GpuPrice]:
    """Entries of Console's ``/v1/gpu-prices`` with a price (``price: null`` means no recent bids)."""
    if not isinstance(body, dict) or not isinstance(body.get("models"), list):
        raise PricingError("gpu-prices: no 'models' list")
    prices = []
    for entry in body["models"]:
        price = entry.get("price") if isinstance(entry, dict) else None
        if not isinstance(price, dict) or str(entry.get("vendor", "nvidia")).lower() != "nvidia":
            continue
        availability = entry.get("availability") or {}
        prices.append(
            GpuPrice(
                model=str(entry["model"]).lower(),
                ram=entry.get("ram"),
                interface=_lower(entry.get("interface")),
                med=to_decimal(price["med"], what="gpu price med"),
                min=to_decimal(price["min"], what="gpu price min"),
                max=to_decimal(price["max"], what="gpu price max"),
                available=availability.get("available"),
                total=availability.get("total"),
            )
        )
    return sorted(prices, key=lambda p: (p.model, p.ram or "", p.interface or ""))


def gpu_prior(prices: list[GpuPrice], model: str, variants: list[AkashGpu]) -> tuple[Decimal, str] | None:
    """Per-GPU USD/hour for ``model`` on a provider with ``variants``: the matching entry's median, else
    the lower median of every entry's median for the model. Returns (price, which entry)."""
    entries = [p for p in prices if p.model == model]
    if not entries:
        return None
    for variant in variants:
        for entry in entries:
            if (
                (variant.ram is None or entry.ram == variant.ram)
                and (variant.interface is None or entry.interface == variant.interface)
                and (variant.ram or variant.interface)
            ):
                return entry.med, f"{model}/{entry.ram}/{entry.interface} med"
    meds = sorted(e.med for e in entries)
    return meds[(len(meds) - 1) // 2], f"{model} median over {len(meds)} variants"


class AkashSource:
    """Akash providers that could host the request, priced by Console's bid statistics."""

    name = "akash"

    def __init__(
        self,
        rest_url: str,
        console_url: str | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = 1,
        block_time_s: Decimal = DEFAULT_BLOCK_TIME_S,
        page_limit: int = 200,
        clock: Clock = utc_now,
        providers_ttl_s: float = PROVIDERS_TTL_S,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.console_url = console_url.rstrip("/") if console_url else None
        self.block_time_s = block_time_s
        self.page_limit = page_limit
        self.providers_ttl_s = providers_ttl_s
        self._directory: tuple[datetime, list[AkashProvider], list[str]] | None = None
        self.clock = clock
        self._chain = HttpJson(
            self.name, client=client, transport=transport, timeout_s=timeout_s, retries=retries
        )
        self._console = HttpJson(
            "akash-console", client=client, transport=transport, timeout_s=timeout_s, retries=retries
        )

    # --- providers ---------------------------------------------------------------------------------
    async def chain_providers(self) -> list[dict[str, Any]]:
        """Every provider record from chain REST, following ``pagination.next_key``."""
        records: list[dict[str, Any]] = []
        key: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            params = {"pagination.limit": str(self.page_limit)}
            if key:
                params["pagination.key"] = key
            body = await self._chain.get(f"{self.rest_url}{PROVIDERS_PATH}", params=params)
            require(
                isinstance(body, dict) and isinstance(body.get("providers"), list),
                self.name,
                "no 'providers' list",
            )
            for record in body["providers"]:
                require(
                    isinstance(record, dict) and isinstance(record.get("owner"), str),
                    self.name,
                    "provider without owner",
                )
                records.append(record)
            pagination = body.get("pagination") or {}
            key = pagination.get("next_key") if isinstance(pagination, dict) else None
            if not key:
                return records
            require(key not in seen, self.name, "pagination.next_key repeats")
            seen.add(key)
        raise SourceError(self.name, f"more than {MAX_PAGES} pages of providers")

    async def console_providers(self) -> dict[str, dict[str, Any]]:
        """Console's ``/v1/providers`` by owner (empty without a console URL)."""
        if not self.console_url:
            return {}
        body = await self._console.get(f"{self.console_url}/v1/providers")
        require(isinstance(body, list), "akash-console", "/v1/providers is not a list")
        return {str(p["owner"]): p for p in body if isinstance(p, dict) and p.get("owner")}

    async def fetch_providers(self) -> tuple[list[AkashProvider], list[str]]:
        """Chain providers joined with Console data; the second item lists Console problems (notes).

        The directory is reused for ``providers_ttl_s`` (providers register rarely and Console refreshes
        uptime every few minutes); offers built from it carry the directory's own time as observed_at."""
        now = self.clock()
        if self._directory is not None and (now - self._directory[0]).total_seconds() < self.providers_ttl_s:
            return list(self._directory[1]), list(self._directory[2])
        providers, problems = await self._fetch_providers()
        self._directory = (now, providers, problems)
        return list(providers), list(problems)

    @property
    def directory_observed_at(self) -> datetime | None:
        return self._directory[0] if self._directory is not None else None

    async def _fetch_providers(self) -> tuple[list[AkashProvider], list[str]]:
        chain = await self.chain_providers()
        problems: list[str] = []
        try:
            console = await self.console_providers()
        except SourceError as exc:
            console = {}
            problems.append(f"Console providers unavailable ({exc.reason}); status and uptime unknown")
        try:
            providers = [self._provider(record, console.get(record["owner"])) for record in chain]
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(self.name, f"unexpected provider record: {exc}") from None
        return sorted(providers, key=lambda p: p.owner), problems

    @staticmethod
    def _provider(record: dict[str, Any], console: dict[str, Any] | None) -> AkashProvider:
        attributes = {str(a["key"]): str(a["value"]) for a in record.get("attributes") or []}
        gpus = list(gpus_from_attributes(attributes.items()))
        raw_region = attributes.get("location-region") or attributes.get("region")
        online = uptime = audited = name = None
        available = None
        if console:
            online = bool(console.get("isOnline"))
            uptime = _uptime(
                console.get("uptime7d") if console.get("uptime7d") is not None else console.get("uptime30d")
            )
            audited = bool(console.get("isAudited"))
            name = display_text(console.get("name"), 48) or None
            for gpu in console.get("gpuModels") or []:
                gpus.append(
                    AkashGpu(
                        model=str(gpu["model"]).lower(),
                        ram=gpu.get("ram"),
                        interface=_lower(gpu.get("interface")),
                    )
                )
            if not raw_region:
                raw_region = console.get("locationRegion")
            if not raw_region and console.get("ipCountryCode"):
                raw_region = "-".join(
                    str(p) for p in (console.get("ipCountryCode"), console.get("ipRegionCode")) if p
                )
            available = _capacity(console.get("stats"))
        region = necto_region(raw_region)
        if region is None and console and console.get("ipRegion"):
            region = necto_region(f"{console.get('ipRegion')}, {console.get('ipCountryCode') or ''}")
        return AkashProvider(
            owner=record["owner"],
            host_uri=str(record.get("host_uri") or ""),
            name=name,
            attributes=attributes,
            region=region,
            provider_region=raw_region,
            online=online,
            uptime=uptime,
            audited=audited,
            gpus=_compact_gpus(gpus),
            available=available,
        )

    # --- price priors ------------------------------------------------------------------------------
    async def gpu_prices(self) -> list[GpuPrice]:
        if not self.console_url:
            return []
        body = await self._console.get(f"{self.console_url}/v1/gpu-prices")
        try:
            return parse_gpu_prices(body)
        except (PricingError, KeyError, TypeError) as exc:
            raise SourceError("akash-console", f"gpu-prices: {exc}") from None

    async def cpu_prior(self, request: ComputeRequest) -> tuple[Decimal, dict[str, str], str]:
        """USD/hour for the request's cpu/memory/storage: Console ``/v1/pricing`` or the static prior."""
        if self.console_url:
            spec = {
                "cpu": int(request.cpu * 1000),
                "memory": int(Decimal(str(request.memory_gib)) * GIB),
                "storage": int(Decimal(str(request.storage_gib)) * GIB),
            }
            try:
                body = await self._console.post(f"{self.console_url}/v1/pricing", json=spec)
                monthly = to_decimal(body["akash"], what="akash USD/month")
                if monthly < 0:
                    raise PricingError("negative estimate")
                hourly = monthly / CONSOLE_HOURS_PER_MONTH
                return (
                    hourly,
                    exact_inputs(
                        console_akash_usd_per_month=monthly, console_hours_per_month=CONSOLE_HOURS_PER_MONTH
                    ),
                    "Console /v1/pricing estimate",
                )
            except (SourceError, PricingError, KeyError, TypeError):
                pass
        per_month = (
            CPU_USD_PER_CORE_MONTH * to_decimal(request.cpu)
            + MEMORY_USD_PER_GIB_MONTH * to_decimal(request.memory_gib)
            + STORAGE_USD_PER_GIB_MONTH * to_decimal(request.storage_gib)
        )
        return (
            per_month / 730,
            exact_inputs(
                prior_cpu_usd_per_core_month=CPU_USD_PER_CORE_MONTH,
                prior_memory_usd_per_gib_month=MEMORY_USD_PER_GIB_MONTH,
                prior_storage_usd_per_gib_month=STORAGE_USD_PER_GIB_MONTH,
            ),
            "static per-unit prior (provider pricing-script defaults)",
        )

    # --- offers ------------------------------------------------------------------------------------
    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        """One estimated offer per provider (and GPU model) that could host ``request``."""
        providers, problems = await self.fetch_providers()
        observed = min(self.clock(), self.directory_observed_at or self.clock())
        prices: list[GpuPrice] = []
        cpu_prior: tuple[Decimal, dict[str, str], str] | None = None
        if request.gpu_count:
            try:
                prices = await self.gpu_prices()
            except SourceError as exc:
                problems.append(f"Console gpu-prices unavailable ({exc.reason}); static fallback prior used")
        else:
            cpu_prior = await self.cpu_prior(request)
        offers = []
        for provider in providers:
            for offer in self._provider_offers(provider, request, prices, cpu_prior, observed, problems):
                offers.append(offer)
        return offers

    def _provider_offers(
        self,
        provider: AkashProvider,
        request: ComputeRequest,
        prices: list[GpuPrice],
        cpu_prior: tuple[Decimal, dict[str, str], str] | None,
        observed: datetime,
        problems: list[str],
    ) -> list[Offer]:
        if provider.online is False:
            return []
        cap = provider.available
        if cap is not None and (
            cap.cpu < request.cpu
            or cap.memory_gib < request.memory_gib
            or cap.storage_gib < request.storage_gib
            or cap.gpus < request.gpu_count
        ):
            return []
        notes = ["Akash reverse auction: the firm price comes from bids once the order is open", *problems]
        if provider.online is None:
            notes.append("no Console record: online status and uptime unknown")
        hours = to_decimal(request.hours)
        if request.gpu_count == 0:
            assert cpu_prior is not None
            usd_per_hour, prior_inputs, label = cpu_prior
            return [
                self._offer(
                    provider,
                    request,
                    f"akash:{provider.owner}",
                    None,
                    None,
                    usd_per_hour,
                    prior_inputs,
                    label,
                    notes,
                    observed,
                    hours,
                )
            ]
        models = [request.gpu_model] if request.gpu_model else sorted({g.model for g in provider.gpus})
        offers = []
        for model in models:
            variants = provider.gpu_variants(model)
            if not variants:
                continue
            prior = gpu_prior(prices, model, variants)
            if prior is None:
                fallback = GPU_FALLBACK_USD_PER_HOUR.get(model)
                if fallback is None:
                    continue
                per_gpu, label = fallback, f"static fallback prior for {model} (no recent Console price)"
            else:
                per_gpu, label = prior[0], f"Console gpu-prices {prior[1]}"
            usd_per_hour = per_gpu * request.gpu_count
            offer_id = f"akash:{provider.owner}" if request.gpu_model else f"akash:{provider.owner}:{model}"
            offers.append(
                self._offer(
                    provider,
                    request,
                    offer_id,
                    model,
                    variants[0],
                    usd_per_hour,
                    exact_inputs(usd_per_gpu_hour=per_gpu, gpu_count=request.gpu_count),
                    label,
                    notes,
                    observed,
                    hours,
                )
            )
        return offers

    def _offer(
        self,
        provider: AkashProvider,
        request: ComputeRequest,
        offer_id: str,
        model: str | None,
        variant: AkashGpu | None,
        usd_per_hour: Decimal,
        prior_inputs: dict[str, str],
        label: str,
        notes: list[str],
        observed: datetime,
        hours: Decimal,
    ) -> Offer:
        interface = variant.interface if variant else None
        memory = variant.memory_gib if variant else None
        total = billed_cost(usd_per_hour, hours, increment_s=self.block_time_s)
        per_pflop = usd_per_effective_pflop_hour(
            usd_per_hour, model, request.gpu_count, interface=interface, memory_gib=memory
        )
        spec = gpu_spec(model, interface=interface, memory_gib=memory)
        return Offer(
            provider=provider.display_name,
            provider_address=provider.owner,
            source=self.name,
            offer_id=offer_id,
            pricing_model="auction",
            region=provider.region,
            provider_region=provider.provider_region,
            gpu_model=model,
            gpu_count=request.gpu_count if model else 0,
            gpu_memory_gib=memory if memory is not None else (float(spec.memory_gb) if spec else None),
            cpu=request.cpu,
            memory_gib=request.memory_gib,
            storage_gib=request.storage_gib,
            usd_per_hour=usd_per_hour,
            usd_total=total,
            usd_per_effective_pflop_hour=per_pflop,
            effective_pflops=effective_pflops(
                model, request.gpu_count, interface=interface, memory_gib=memory
            ),
            observed_at=observed,
            ttl_s=AKASH_PRIOR_TTL_S,
            notes=[f"estimate: {label}", *notes],
            uptime=provider.uptime,
            audited=provider.audited,
            capacity_available=True if provider.available is not None else None,
            deployable=True,
            estimate=True,
            inputs={
                **prior_inputs,
                **exact_inputs(
                    usd_per_hour=usd_per_hour,
                    hours=hours,
                    block_time_s=self.block_time_s,
                    usd_total=total,
                    usd_per_effective_pflop_hour=per_pflop,
                ),
                "prior": label,
            },
        )

    async def bid_offers(
        self,
        request: ComputeRequest,
        *,
        owner: str,
        dseq: int | str,
        providers: Iterable[AkashProvider] | Mapping[str, AkashProvider] = (),
        akt_usd: Decimal | None = None,
        current_height: int | None = None,
    ) -> list[Offer]:
        """Firm offers from the open bids on ``owner``'s order ``dseq`` (chain REST bids/list)."""
        body = await self._chain.get(
            f"{self.rest_url}{BIDS_PATH}", params={"filters.owner": owner, "filters.dseq": str(dseq)}
        )
        try:
            return offers_from_bids(
                body,
                providers,
                request,
                self.block_time_s,
                self.clock(),
                akt_usd=akt_usd,
                current_height=current_height,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(self.name, f"unexpected bid: {exc}") from None


def provider_from_record(record: AkashProvider | dict[str, Any] | Any) -> AkashProvider | None:
    """An AkashProvider from itself, a chain REST provider record or a Console ``/v1/providers`` entry."""
    if isinstance(record, AkashProvider):
        return record
    if not isinstance(record, dict) or not isinstance(record.get("owner"), str):
        return None
    if "isOnline" in record or "hostUri" in record:  # Console shape
        chain = {"owner": record["owner"], "host_uri": record.get("hostUri") or "", "attributes": []}
        return AkashSource._provider(chain, record)
    return AkashSource._provider(record, None)


# --- bids -> firm offers ---------------------------------------------------------------------------


def _val(node: Any, field: str) -> Decimal:
    value = (node or {}).get(field) or {}
    return to_decimal(value.get("val", 0) if isinstance(value, dict) else value, what=field)


def _bid_resources(resources_offer: list[dict[str, Any]]) -> tuple[float, float, float, int, AkashGpu | None]:
    """Sum a bid's ``resources_offer``: (cores, memory GiB, storage GiB, GPUs, GPU model)."""
    cpu = memory = storage = Decimal(0)
    gpus = 0
    gpu: AkashGpu | None = None
    for item in resources_offer:
        count = int(item.get("count", 1) or 1)
        resources = item["resources"]
        cpu += _val(resources.get("cpu"), "units") / 1000 * count
        memory += _val(resources.get("memory"), "quantity") / GIB * count
        for volume in resources.get("storage") or []:
            storage += _val(volume, "quantity") / GIB * count
        gpu_node = resources.get("gpu") or {}
        units = int(_val(gpu_node, "units"))
        if units:
            gpus += units * count
            found = gpus_from_attributes(
                (a["key"], a.get("value", "true")) for a in gpu_node.get("attributes") or []
            )
            gpu = gpu or (found[0] if found else None)
    return float(cpu), float(memory), float(storage), gpus, gpu


def _bid_age_s(
    created_at: Any, *, now: datetime, current_height: int | None, block_time_s: Decimal
) -> float | None:
    text = str(created_at or "").strip()
    if text.isdigit():
        if current_height is None:
            return None
        return max(0.0, float((current_height - int(text)) * block_time_s))
    try:
        created = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        return None
    return max(0.0, (now - created).total_seconds())


def offers_from_bids(
    bids_json: Any,
    providers: Iterable[AkashProvider | dict[str, Any]] | Mapping[str, AkashProvider | dict[str, Any]],
    request: ComputeRequest,
    block_time: Decimal,
    now: datetime,
    *,
    akt_usd: Decimal | None = None,
    current_height: int | None = None,
    bid_window_s: int = BID_WINDOW_S,
) -> list[Offer]:
    """Open bids -> firm Akash offers (``estimate=False``), pure.

    Args:
        bids_json: chain REST ``bids/list`` body (``{"bids": [...]}``) or Console ``/v1/bids`` (``{"data": [...]}``).
        providers: known providers by owner: AkashProvider objects, or raw chain REST provider records
            (``{owner, host_uri, attributes, info}``) or Console ``/v1/providers`` entries; unknown bidders
            still count.
        request: the request the order was created for (hours, and sizes when a bid omits resources).
        block_time: seconds per block for the per-block -> per-hour conversion (settings.block_time_s).
        now: observation time of the bids.
        akt_usd: AKT/USD, required for bids in uakt (DenomPriceMissing otherwise).
        current_height: chain height, to age bids whose ``created_at`` is a height.
        bid_window_s: how long a bid stays usable after it is created.

    Returns:
        One offer per open bid, ``offer_id`` ``akash:<provider>:bid:<dseq>/<gseq>/<oseq>/<bseq>``.
    """
    if not isinstance(bids_json, dict):
        raise PricingError("bids: expected a JSON object")
    items = bids_json.get("bids", bids_json.get("data"))
    if not isinstance(items, list):
        raise PricingError("bids: no 'bids' list")
    values = providers.values() if isinstance(providers, Mapping) else providers
    known = {p.owner: p for p in (provider_from_record(v) for v in values) if p is not None}
    hours = to_decimal(request.hours)
    offers = []
    for item in items:
        try:
            offer = _bid_offer(
                item,
                known,
                request,
                block_time_s=to_decimal(block_time, what="block_time"),
                now=now,
                akt_usd=akt_usd,
                current_height=current_height,
                bid_window_s=bid_window_s,
                hours=hours,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PricingError(f"bids: unexpected bid ({type(exc).__name__}: {exc})") from None
        if offer is not None:
            offers.append(offer)
    return offers


def _bid_offer(
    item: dict[str, Any],
    known: Mapping[str, AkashProvider],
    request: ComputeRequest,
    *,
    block_time_s: Decimal,
    now: datetime,
    akt_usd: Decimal | None,
    current_height: int | None,
    bid_window_s: int,
    hours: Decimal,
) -> Offer | None:
    bid = item["bid"]
    state = str(bid.get("state", "")).lower().removeprefix("bid_")
    if state != "open":
        return None
    bid_id = bid["id"]
    address = str(bid_id["provider"])
    price = bid["price"]
    usd_per_hour = usd_per_hour_from_block_price(
        price["amount"], str(price["denom"]), block_time_s=block_time_s, akt_usd=akt_usd
    )
    resources = bid.get("resources_offer") or []
    if resources:
        cpu, memory, storage, gpus, gpu = _bid_resources(resources)
    else:
        cpu, memory, storage, gpus, gpu = (
            request.cpu,
            request.memory_gib,
            request.storage_gib,
            request.gpu_count,
            None,
        )
    model = gpu.model if gpu else (request.gpu_model if gpus else None)
    interface = gpu.interface if gpu else None
    gpu_memory = gpu.memory_gib if gpu else None
    age = _bid_age_s(bid.get("created_at"), now=now, current_height=current_height, block_time_s=block_time_s)
    ttl = bid_window_s if age is None else max(0, int(bid_window_s - age))
    total = billed_cost(usd_per_hour, hours, increment_s=block_time_s)
    per_pflop = usd_per_effective_pflop_hour(
        usd_per_hour, model, gpus, interface=interface, memory_gib=gpu_memory
    )
    provider = known.get(address) or AkashProvider(owner=address)
    order = f"{bid_id['dseq']}/{bid_id['gseq']}/{bid_id['oseq']}"
    return Offer(
        provider=provider.display_name,
        provider_address=address,
        source="akash",
        offer_id=f"akash:{address}:bid:{order}/{bid_id['bseq']}",
        pricing_model="auction",
        region=provider.region,
        provider_region=provider.provider_region,
        gpu_model=model,
        gpu_count=gpus,
        gpu_memory_gib=gpu_memory,
        cpu=cpu,
        memory_gib=memory,
        storage_gib=storage if resources else request.storage_gib,
        usd_per_hour=usd_per_hour,
        usd_total=total,
        usd_per_effective_pflop_hour=per_pflop,
        effective_pflops=effective_pflops(model, gpus, interface=interface, memory_gib=gpu_memory),
        observed_at=now,
        ttl_s=ttl,
        notes=[f"firm bid: {price['amount']} {price['denom']} per block, valid while the order is open"],
        uptime=provider.uptime,
        audited=provider.audited,
        capacity_available=True,
        deployable=True,
        estimate=False,
        inputs={
            **exact_inputs(
                price_per_block=price["amount"],
                denom=price["denom"],
                block_time_s=block_time_s,
                akt_usd=akt_usd if price["denom"] == "uakt" else None,
                usd_per_hour=usd_per_hour,
                hours=hours,
                usd_total=total,
                usd_per_effective_pflop_hour=per_pflop,
            ),
            "bid_id": f"{bid_id['owner']}/{order}/{address}/{bid_id['bseq']}",
        },
    )
