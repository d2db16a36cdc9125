"""Rank offers for a request: hard filters, then a documented score (pricing.md §3).

``rank`` is pure and deterministic: the same offers, request, ``now``, ``blocked`` and ``filters`` give
byte-for-byte the same ``Ranking`` JSON whatever the input order. Qualifying offers are sorted by
``(group, score, tie-break, offer_id)`` and, only where all four are equal (the same offer id listed twice),
by the offer's own JSON; excluded offers are sorted by ``(offer_id, reason)``.

Hard filters (an offer failing any is kept in ``excluded`` with every reason, joined by "; "), from the
request first:
blocked by the caller (a blocked id also blocks the ids it prefixes up to a ``:``, so blocking a provider's
``akash:<owner>`` blocks its model variants and bids); GPU model and exact GPU count (a CPU-only request excludes GPU machines); vCPU,
memory and storage at least the request's (unknown storage passes); region via ``region_matches``;
``usd_per_hour`` at most ``max_usd_per_hour``; ``capacity_available`` not False (unless
``filters.require_capacity`` is off); a firm quote (not an estimate) past its TTL.

Then the optional ``OfferFilters`` (``rank(..., filters=OfferFilters(...))``; None or the defaults add
nothing), in this order:

- ``gpu_class``: allowed classes among ``datacenter``, ``workstation``, ``consumer`` (``gpus.GPU_CLASSES``);
  a CPU-only offer or a GPU of unknown class fails.
- ``min_vram_gib``: memory per GPU, from the offer's ``gpu_memory_gib``; when the offer does not say, the GPU
  table's memory for its model (all variants that match the offer's ``effective_pflops`` must qualify, else
  "VRAM unknown: ..."); a model missing from the table fails with "VRAM unknown: ...".
- ``min_uptime`` (0..1): a measured uptime below it fails. ``allow_unmeasured`` (default True): when False,
  an offer with no reported uptime fails whether or not ``min_uptime`` is set.
- ``audited_only``: only ``audited is True`` passes.
- ``require_capacity`` (default True): ``capacity_available`` False fails ("sold out"); False keeps
  sold-out offers in the ranking (an unknown capacity always passes).
- ``sources``: allow-list of source names; ``"skypilot"`` also admits ``"skypilot:runpod"`` and the like.
- ``pricing_models``: allow-list among ``fixed``, ``spot``, ``auction``, ``token``.
- ``max_usd_total``: ``usd_total`` (the request's hours, billing rules applied) at most this.

Scores, lower is better (``U`` = usd_total, ``down`` = 1 - uptime, with ``DEFAULT_UPTIME`` when the
source reports none; ``unmeasured`` (no uptime reported), ``unaudited``, ``spot``, ``estimate`` are 0/1;
``stale`` = min(age / ttl, 3)):

- cheapest: ``U``; ties by ``down``.
- fastest: ``1 / effective_pflops`` (wall hours per effective PFLOP-hour of work: the fastest machine
  first; vCPUs stand in for CPU-only offers); ties by USD per effective PFLOP-hour (or ``U``).
  For LLM serving (request ``workload`` ``vllm`` or ``ollama``) a GPU offer is scored by memory bandwidth
  instead, since decoding is memory-bound (pricing.md §2): ``1 / (gpu_count * bandwidth_tb_s)`` (seconds
  per TB read, term ``s_per_tb``), ties by ``usd_per_tb_s_hour``. Offers of unknown performance
  (or bandwidth) come after all known ones, by ``U``.
- reliable: ``U * (1 + 20 down + 0.5 unmeasured + 1.0 unaudited + 1.0 spot + 0.1 estimate)``; ties by
  ``down``. A measured 99.5 % beats an unmeasured default unless it costs ~40 % more.
- balanced: ``U * (1 + down + 0.05 unmeasured + 0.10 unaudited + 0.10 spot + 0.05 estimate + 0.05 stale)``;
  ties by ``U``.

The balanced score is pricing.md §3's "risk-adjusted cost + tail risk + reliability + staleness", with the
spot and estimate terms as the tail risk (spot ``U`` already holds the expected interruption overhead).

``RankedOffer.terms`` holds each score's ingredients as exact decimal strings: always ``usd_total`` and
``downtime``; for ``vllm``/``ollama`` requests also ``usd_per_tb_s_hour`` (``usd_per_hour / gpu_count /
bandwidth_tb_s``, pricing.md §5 bandwidth) for every GPU offer of known bandwidth, whatever the objective;
fastest adds ``speed`` and ``hours_per_unit`` (or ``bandwidth_tb_s`` and ``s_per_tb``); reliable and
balanced add their penalties and ``factor``. The bandwidth comes from the GPU table
(``gpus.GPU_TABLE``): the variant matching the offer's ``gpu_memory_gib`` and ``effective_pflops``, else the
model's first variant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, field_validator

from tools.pricing.gpus import GPU_TABLE, GpuClass, GpuSpec, gpu_class
from tools.pricing.normalize import to_decimal
from tools.pricing.offer import Money, Offer, PricingModel, format_usd
from tools.request import ComputeRequest, Objective, region_matches

# The ranking policy's version, stored with every routing decision (tools.routing) so a replay can tell a
# tampered decision from one made under other rules: bump when scoring or filters change meaning.
POLICY_VERSION = "rank-1"

# Uptime assumed when a source reports none: an established cloud's on-demand machine vs an Akash
# provider nobody has measured.
DEFAULT_UPTIME: dict[str, Decimal] = {
    "fixed": Decimal("0.99"),
    "spot": Decimal("0.99"),  # interruptions are priced separately (spot term, expected cost)
    "auction": Decimal("0.90"),
    "token": Decimal("0.95"),
}
MAX_STALENESS = Decimal(3)

# Workloads whose speed is memory bandwidth, not FLOPS: LLM decoding reads every weight per token.
MEMORY_BOUND_WORKLOADS: frozenset[str] = frozenset({"vllm", "ollama"})

# Penalty weights, as fractions of usd_total per unit of each term (see the module docstring).
WEIGHTS: dict[str, dict[str, Decimal]] = {
    "reliable": {
        "downtime": Decimal(20),
        "unmeasured": Decimal("0.5"),
        "unaudited": Decimal("1.0"),
        "spot": Decimal("1.0"),
        "estimate": Decimal("0.1"),
        "staleness": Decimal(0),
    },
    "balanced": {
        "downtime": Decimal(1),
        "unmeasured": Decimal("0.05"),
        "unaudited": Decimal("0.10"),
        "spot": Decimal("0.10"),
        "estimate": Decimal("0.05"),
        "staleness": Decimal("0.05"),
    },
}
_ZERO = Decimal(0)
_ONE = Decimal(1)
_FLAG_NAMES = ("unmeasured", "unaudited", "spot", "estimate")
_FLAG_STRINGS = {False: str(_ZERO), True: str(_ONE)}


class Exclusion(NamedTuple):
    offer_id: str
    reason: str


class OfferFilters(BaseModel):
    """Hard filters beyond the request (pricing.md §3), documented in this module's docstring.

    The defaults filter nothing beyond what ``rank`` always did (``require_capacity=True`` keeps excluding
    sold-out offers). Allow-lists take one name or several and are stored sorted, so equal filters give
    equal JSON; an empty allow-list is refused (leave the field unset to allow everything).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_class: tuple[GpuClass, ...] | None = None
    min_vram_gib: float | None = Field(default=None, gt=0)
    min_uptime: float | None = Field(default=None, ge=0, le=1)
    allow_unmeasured: bool = True
    audited_only: bool = False
    require_capacity: bool = True
    sources: tuple[str, ...] | None = None
    pricing_models: tuple[PricingModel, ...] | None = None
    max_usd_total: Money | None = Field(default=None, gt=0)

    @field_validator("gpu_class", "sources", "pricing_models", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = (value,)
        if isinstance(value, list | tuple | set | frozenset):
            return tuple(name.strip().lower() if isinstance(name, str) else name for name in value)
        return value

    @field_validator("gpu_class", "sources", "pricing_models")
    @classmethod
    def _sorted_allow_list(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        names = sorted(set(value) - {""})
        if not names:
            raise ValueError("an empty allow-list excludes everything; leave it unset to allow all")
        return tuple(names)


NO_FILTERS = OfferFilters()


def describe_filters(filters: OfferFilters | None) -> str:
    """The filters as a short phrase for cards and replies: ``"audited providers only, uptime >= 99%"``."""
    if filters is None:
        return ""
    parts: list[str] = []
    if filters.gpu_class:
        parts.append(f"{' or '.join(filters.gpu_class)} GPUs")
    if filters.min_vram_gib is not None:
        parts.append(f">= {filters.min_vram_gib:g} GiB VRAM per GPU")
    if filters.min_uptime is not None:
        parts.append(f"uptime >= {filters.min_uptime:.1%}".replace(".0%", "%"))
    if not filters.allow_unmeasured:
        parts.append("measured uptime only")
    if filters.audited_only:
        parts.append("audited providers only")
    if not filters.require_capacity:
        parts.append("sold-out offers kept")
    if filters.sources:
        parts.append(f"sources: {', '.join(filters.sources)}")
    if filters.pricing_models:
        parts.append(f"pricing: {', '.join(filters.pricing_models)}")
    if filters.max_usd_total is not None:
        parts.append(f"total <= {format_usd(filters.max_usd_total)}")
    return ", ".join(parts)


class RankedOffer(BaseModel):
    model_config = ConfigDict(frozen=True)

    rank: int
    offer: Offer
    score: Money
    terms: dict[str, str]  # the score's ingredients, exact strings
    why: str


class Ranking(BaseModel):
    """Offers in rank order, the excluded ones with reasons, what was blocked and the extra filters."""

    model_config = ConfigDict(frozen=True)

    objective: Objective
    request: ComputeRequest
    now: AwareDatetime
    offers: list[RankedOffer]
    excluded: list[Exclusion]
    blocked: dict[str, str]
    # Left out of the JSON when no extra filter applied, so such rankings read exactly as before.
    filters: OfferFilters | None = Field(default=None, exclude_if=lambda value: value is None)
    _candidates: tuple[Offer, ...] = PrivateAttr(default=())

    @property
    def best(self) -> RankedOffer | None:
        return self.offers[0] if self.offers else None

    @property
    def best_deployable(self) -> RankedOffer | None:
        return next((r for r in self.offers if r.offer.deployable), None)

    @property
    def candidates(self) -> tuple[Offer, ...]:
        """Every offer ``rank`` was given (the excluded ones too): what a replay of this ranking needs."""
        return self._candidates

    def block(self, offer_id: str, reason: str = "blocked after a failed launch") -> Ranking:
        """Rank again without ``offer_id`` (SkyPilot-style failover, pricing.md §3), same filters."""
        return rank(
            self._candidates,
            self.request,
            now=self.now,
            blocked={**self.blocked, offer_id: reason},
            filters=self.filters,
        )

    def explain(self) -> str:
        """One or two sentences on why the best offer won (or why nothing matched)."""
        best = self.best
        if best is None:
            if not self.excluded:
                return "No offers were found for this request. Try again later or widen the region."
            reasons = sorted({e.reason.split("; ")[0] for e in self.excluded})
            return (
                f"No offer matches: all {len(self.excluded)} were excluded ("
                + "; ".join(reasons[:3])
                + ("; ..." if len(reasons) > 3 else "")
                + "). Relax the request: another GPU model or count, a wider region or a higher price cap"
                + (", or loosen the filters." if self.filters is not None else ".")
            )
        o = best.offer
        what = f"{o.gpu_count}x {o.gpu_model}" if o.gpu_count else f"{o.cpu:g} vCPU"
        text = (
            f"{o.provider} ({what}, {o.region or 'region unknown'}) ranks first for '{self.objective}' "
            f"out of {len(self.offers)} matching offers ({len(self.excluded)} excluded): {best.why}."
        )
        if len(self.offers) > 1:
            runner = self.offers[1].offer
            diff = runner.usd_total - o.usd_total
            if diff == 0:
                text += f" Runner-up {runner.provider} costs the same over {self.request.hours:g} h."
            else:
                word = "more" if diff > 0 else "less"
                text += (
                    f" Runner-up {runner.provider} costs {format_usd(abs(diff))} {word} "
                    f"over {self.request.hours:g} h."
                )
        if not o.deployable:
            dep = self.best_deployable
            text += (
                f" Necto deploys only to Akash; the best deployable offer is {dep.offer.provider} at "
                f"{format_usd(dep.offer.usd_per_hour)}/h."
                if dep
                else " Necto deploys only to Akash, and no Akash offer matches."
            )
        return text


def _percent(fraction: float) -> str:
    """``0.999`` -> ``99.9%`` with no float noise and no lost digits (``repr`` is the shortest exact form)."""
    return format(Decimal(repr(fraction)).scaleb(2).normalize(), "f") + "%"


def _table_variants(offer: Offer) -> tuple[GpuSpec, ...]:
    """The GPU table rows that can be this offer's card: by memory when known, then by effective PFLOPS."""
    variants = GPU_TABLE.get(offer.gpu_model.lower(), ()) if offer.gpu_model else ()
    if len(variants) > 1 and offer.gpu_memory_gib is not None:
        variants = tuple(s for s in variants if abs(s.memory_gb - offer.gpu_memory_gib) < 8) or variants
    if len(variants) > 1 and offer.effective_pflops is not None and offer.gpu_count > 0:
        pflops = offer.effective_pflops
        count = offer.gpu_count
        variants = tuple(s for s in variants if s.effective_pflops * count == pflops) or variants
    return variants


def _staleness(offer: Offer, now: datetime) -> Decimal:
    """min(age / ttl, 3), with the age in seconds rounded to the millisecond (3 when ttl is 0)."""
    if offer.ttl_s <= 0:
        return MAX_STALENESS
    return min(to_decimal(round(offer.age_s(now), 3)) / offer.ttl_s, MAX_STALENESS)


class _HardFilters:
    """The request's hard filters and ``OfferFilters`` for one ``rank`` call, with per-call caches."""

    def __init__(self, request: ComputeRequest, filters: OfferFilters | None, now: datetime) -> None:
        self.request = request
        self.filters = filters
        self.now = now
        self.require_capacity = filters.require_capacity if filters is not None else True
        # check(offer): every hard filter the offer fails, in the documented order (empty: it qualifies)
        self.check = self._compile()

    def _compile(self) -> Callable[[Offer], list[str]]:
        """The request's filters as one closure over its fields (rank() calls it once per offer).

        Messages that depend on a single offer field are cached per value: catalogs repeat GPU models,
        counts and regions across thousands of offers.
        """
        request, now, filters = self.request, self.now, self.filters
        cpu_only = request.gpu_count == 0
        want_model, want_count = request.gpu_model, request.gpu_count
        want_cpu, want_memory, want_storage = request.cpu, request.memory_gib, request.storage_gib
        cap = request.max_usd_per_hour
        require_capacity = self.require_capacity
        model_messages: dict[str | None, str] = {}
        count_messages: dict[int, str] = {}
        region_ok: dict[str | None, bool] = {}
        ttls: dict[int, timedelta] = {}
        extra = self._compile_filters(filters) if filters is not None else None

        def check(offer: Offer) -> list[str]:
            reasons: list[str] = []
            count = offer.gpu_count
            if cpu_only:
                if count > 0:
                    reasons.append(f"has {count} GPU(s); the request is CPU-only")
            else:
                model = offer.gpu_model
                if want_model and model != want_model:
                    message = model_messages.get(model)
                    if message is None:
                        message = model_messages[model] = f"GPU {model or 'none'}, request needs {want_model}"
                    reasons.append(message)
                if count != want_count:
                    message = count_messages.get(count)
                    if message is None:
                        message = count_messages[count] = f"{count} GPU(s), request needs {want_count}"
                    reasons.append(message)
            if offer.cpu < want_cpu:
                reasons.append(f"{offer.cpu:g} vCPU < {want_cpu:g} requested")
            if offer.memory_gib < want_memory:
                reasons.append(f"{offer.memory_gib:g} GiB memory < {want_memory:g} GiB requested")
            storage = offer.storage_gib
            if storage is not None and storage < want_storage:
                reasons.append(f"{storage:g} GiB storage < {want_storage:g} GiB requested")
            region = offer.region
            matches = region_ok.get(region)
            if matches is None:
                matches = region_ok[region] = region_matches(request.region, region)
            if not matches:
                where = region or "unknown"
                if offer.provider_region and offer.provider_region != region:
                    where += f" ({offer.provider_region})"
                reasons.append(f"region {where} is outside {request.region}")
            if cap is not None and offer.usd_per_hour > cap:
                reasons.append(f"{format_usd(offer.usd_per_hour)}/h is above the {format_usd(cap)}/h cap")
            if require_capacity and offer.capacity_available is False:
                reasons.append("sold out (no capacity available)")
            if not offer.estimate:
                ttl = ttls.get(offer.ttl_s)
                if ttl is None:
                    ttl = ttls[offer.ttl_s] = timedelta(seconds=offer.ttl_s)
                # now > observed_at + ttl (Offer.is_expired), in exact microseconds
                if now - offer.observed_at > ttl:
                    reasons.append("firm quote expired")
            if extra is not None:
                extra(offer, reasons)
            return reasons

        return check

    def _compile_filters(self, filters: OfferFilters) -> Callable[[Offer, list[str]], None]:
        """``OfferFilters`` as one closure appending each failed filter's reason; cached per value as above."""
        hours = f"{self.request.hours:g} h"
        classes = " or ".join(filters.gpu_class or ())
        floor = filters.min_vram_gib
        min_uptime = filters.min_uptime
        floor_text = _percent(min_uptime) if min_uptime is not None else ""
        allow_unmeasured, audited_only = filters.allow_unmeasured, filters.audited_only
        sources = ", ".join(filters.sources or ())
        pricing_models = ", ".join(filters.pricing_models or ())
        max_total = filters.max_usd_total
        class_messages: dict[str | None, str] = {}
        vram_messages: dict[tuple, str] = {}
        source_messages: dict[str, str] = {}

        def class_message(model: str | None) -> str:
            found = gpu_class(model)
            if model is None:
                return f"no GPU; a {classes} GPU is required"
            if found is None:
                return f"GPU class of {model} unknown; a {classes} GPU is required"
            if found not in (filters.gpu_class or ()):
                return f"{model} is a {found} GPU, not {classes}"
            return ""

        def vram_message(offer: Offer, model: str | None) -> str:
            assert floor is not None
            if model is None:
                return f"no GPU; {floor:g} GiB VRAM per GPU is required"
            if offer.gpu_memory_gib is not None:
                if offer.gpu_memory_gib < floor:
                    return f"{offer.gpu_memory_gib:g} GiB VRAM per GPU < {floor:g} GiB required"
                return ""
            memories = sorted({s.memory_gb for s in _table_variants(offer)})
            if not memories:
                return f"VRAM unknown: {model} is not in the GPU table"
            if memories[-1] < floor:
                return f"{memories[-1]} GB VRAM per GPU ({model}, GPU table) < {floor:g} GiB required"
            if memories[0] < floor:
                variants = " or ".join(f"{m} GB" for m in memories)
                return f"VRAM unknown: {model} comes with {variants}, {floor:g} GiB required"
            return ""

        def source_message(source: str) -> str:
            name = source.lower()
            if any(name == allowed or name.startswith(allowed + ":") for allowed in filters.sources or ()):
                return ""
            return f"source {source} is not one of {sources}"

        def check(offer: Offer, reasons: list[str]) -> None:
            model = offer.gpu_model if offer.gpu_count > 0 else None
            if classes:
                message = class_messages.get(model)
                if message is None:
                    message = class_messages[model] = class_message(model)
                if message:
                    reasons.append(message)
            if floor is not None:
                key = (model, offer.gpu_count, offer.gpu_memory_gib, offer.effective_pflops)
                message = vram_messages.get(key)
                if message is None:
                    message = vram_messages[key] = vram_message(offer, model)
                if message:
                    reasons.append(message)
            uptime = offer.uptime
            if uptime is None:
                if not allow_unmeasured:
                    reasons.append("uptime not measured (unmeasured offers are filtered out)")
            elif min_uptime is not None and uptime < min_uptime:
                reasons.append(f"uptime {_percent(uptime)} is below the {floor_text} floor")
            if audited_only and offer.audited is not True:
                reasons.append("provider not audited" if offer.audited is False else "audit status unknown")
            if sources:
                message = source_messages.get(offer.source)
                if message is None:
                    message = source_messages[offer.source] = source_message(offer.source)
                if message:
                    reasons.append(message)
            if pricing_models and offer.pricing_model not in (filters.pricing_models or ()):
                reasons.append(f"{offer.pricing_model} pricing is not one of {pricing_models}")
            if max_total is not None and offer.usd_total > max_total:
                reasons.append(
                    f"{format_usd(offer.usd_total)} for {hours} is above the {format_usd(max_total)} total cap"
                )

        return check


def exclusion_reasons(
    offer: Offer, request: ComputeRequest, *, now: datetime, filters: OfferFilters | None = None
) -> list[str]:
    """Every hard filter ``offer`` fails for ``request`` and ``filters`` (empty: it qualifies)."""
    return _HardFilters(request, filters, now).check(offer)


class _Bandwidth(NamedTuple):
    spec: GpuSpec
    tb_s: Decimal  # gpu_count * the card's bandwidth
    usd_per_tb_s_hour: Decimal


class _Scorer:
    """Scores and explanations for one objective, request and clock (see the module docstring)."""

    def __init__(self, request: ComputeRequest, now: datetime) -> None:
        self.request = request
        self.objective = request.objective
        self.now = now
        self.memory_bound = request.workload in MEMORY_BOUND_WORKLOADS
        weights = WEIGHTS.get(self.objective, {})
        self.weights = weights
        # weight * 0 and weight * 1 of each 0/1 penalty: the exact Decimals the products give
        self.flag_terms = tuple(
            {False: weights[name] * _ZERO, True: weights[name] * _ONE} for name in _FLAG_NAMES if weights
        )
        self.flag_shown = tuple(bool(weights[name]) for name in _FLAG_NAMES if weights)
        self._specs: dict[tuple, GpuSpec | None] = {}
        self._staleness: dict[tuple[datetime, int], Decimal] = {}
        self._hours = f"{request.hours:g} h"

    def bandwidth(self, offer: Offer) -> _Bandwidth | None:
        """Memory bandwidth of a GPU offer, None for CPU-only offers and cards missing from the table."""
        count = offer.gpu_count
        if count <= 0 or not offer.gpu_model:
            return None
        key = (offer.gpu_model, count, offer.gpu_memory_gib, offer.effective_pflops)
        if key in self._specs:
            spec = self._specs[key]
        else:
            variants = _table_variants(offer)
            spec = self._specs[key] = variants[0] if variants else None
        if spec is None:
            return None
        # normalize.usd_per_tb_s_hour's formula, on the variant picked above
        return _Bandwidth(spec, spec.bandwidth_tb_s * count, offer.usd_per_hour / count / spec.bandwidth_tb_s)

    def score(self, offer: Offer) -> tuple[int, Decimal, Decimal, dict[str, str]]:
        """(group, score, tie-break, terms) for one qualifying offer."""
        total = offer.usd_total
        uptime = offer.uptime
        # Decimal(repr(float)) is normalize.to_decimal for a validated float: 0.1 stays Decimal("0.1")
        down = _ONE - (Decimal(repr(uptime)) if uptime is not None else DEFAULT_UPTIME[offer.pricing_model])
        terms = {"usd_total": str(total), "downtime": str(down)}
        objective = self.objective
        bandwidth = self.bandwidth(offer) if self.memory_bound else None
        if bandwidth is not None:
            terms["usd_per_tb_s_hour"] = str(bandwidth.usd_per_tb_s_hour)
        if objective == "cheapest":
            return 0, total, down, terms
        if objective == "fastest":
            if offer.gpu_count > 0:
                if self.memory_bound:
                    if bandwidth is None:
                        terms["bandwidth_tb_s"] = "unknown"
                        return 1, total, down, terms
                    seconds_per_tb = 1 / bandwidth.tb_s
                    terms["bandwidth_tb_s"] = str(bandwidth.tb_s)
                    terms["s_per_tb"] = str(seconds_per_tb)
                    return 0, seconds_per_tb, bandwidth.usd_per_tb_s_hour, terms
                pflops = offer.effective_pflops
                if pflops is None or pflops <= 0:
                    terms["effective_pflops"] = "unknown"
                    return 1, total, down, terms
                speed = pflops
                per_pflop = offer.usd_per_effective_pflop_hour
                tie = per_pflop if per_pflop is not None else total
            else:
                speed = to_decimal(offer.cpu)
                tie = total
                if speed <= 0:
                    return 1, total, down, terms
            score = 1 / speed
            terms["speed"] = str(speed)
            terms["hours_per_unit"] = str(score)
            return 0, score, tie, terms
        weights = self.weights
        # Sources stamp every offer of one fetch with the same observed_at and TTL: compute once per pair.
        stale_key = (offer.observed_at, offer.ttl_s)
        stale = self._staleness.get(stale_key)
        if stale is None:
            stale = self._staleness[stale_key] = _staleness(offer, self.now)
        flags = (uptime is None, offer.audited is False, offer.pricing_model == "spot", offer.estimate)
        unmeasured, unaudited, spot, estimate = self.flag_terms
        # The documented sum, term by term in its order: Decimal keeps every digit, and the exponents of
        # the zero terms show in the exact strings.
        factor = _ONE + (
            _ZERO
            + weights["downtime"] * down
            + unmeasured[flags[0]]
            + unaudited[flags[1]]
            + spot[flags[2]]
            + estimate[flags[3]]
            + weights["staleness"] * stale
        )
        for name, flag, shown in zip(_FLAG_NAMES, flags, self.flag_shown, strict=True):
            if shown:
                terms[name] = _FLAG_STRINGS[flag]
        if weights["staleness"]:
            terms["staleness"] = str(stale)
        terms["factor"] = str(factor)
        return 0, total * factor, (down if objective == "reliable" else total), terms

    def why(self, offer: Offer, score: Decimal) -> str:
        objective = self.objective
        cost = f"{format_usd(offer.usd_total)} for {self._hours} ({format_usd(offer.usd_per_hour)}/h)"
        uptime = f"uptime {offer.uptime:.1%}" if offer.uptime is not None else "uptime not reported"
        if objective == "cheapest":
            head = cost
        elif objective == "fastest":
            bandwidth = self.bandwidth(offer) if self.memory_bound else None
            if self.memory_bound and offer.gpu_count:
                head = (
                    f"{bandwidth.tb_s} TB/s memory bandwidth ({offer.gpu_count}x {bandwidth.spec.label}) at "
                    f"{format_usd(bandwidth.usd_per_tb_s_hour)} per TB/s-hour"
                    if bandwidth is not None
                    else f"memory bandwidth of {offer.gpu_model} unknown, {cost}"
                )
            elif offer.effective_pflops is not None and offer.gpu_count:
                head = (
                    f"{offer.effective_pflops.quantize(Decimal('0.001'))} effective PFLOPS at "
                    f"{format_usd(offer.usd_per_effective_pflop_hour)}/PFLOP-h"
                )
            elif offer.gpu_count:
                head = f"performance of {offer.gpu_model} unknown, {cost}"
            else:
                head = f"{offer.cpu:g} vCPU, {cost}"
        elif objective == "reliable":
            audit = {True: "audited", False: "unaudited", None: "audit n/a"}[offer.audited]
            head = f"{uptime}, {audit}, {cost}"
        else:
            head = f"{cost}, risk-adjusted {format_usd(score)}; {uptime}"
        flags = []
        if offer.estimate:
            flags.append("estimate")
        if offer.pricing_model == "spot":
            flags.append("spot, may be interrupted")
        if offer.audited is False and objective != "reliable":
            flags.append("unaudited")
        if not offer.deployable:
            flags.append("compare only")
        return head + (f" [{', '.join(flags)}]" if flags else "")


_NOW = TypeAdapter(AwareDatetime)
# (group, score, tie-break, offer_id, index into the qualifying offers): all atoms, so the cyclic GC
# stops tracking these tuples at its first pass (a sort key holding the Offer would stay tracked).
_RankKey = tuple[int, Decimal, Decimal, str, int]
_RANKED_FIELDS = set(RankedOffer.model_fields)
_new_tuple = tuple.__new__  # Exclusion(a, b) without the namedtuple's Python-level __new__
_set_slot = object.__setattr__


def _ranked_offer(
    position: int, offer: Offer, score: Decimal, terms: dict[str, str], why: str
) -> RankedOffer:
    """``RankedOffer.model_construct`` unrolled for the hot loop; every value is already valid.

    Re-validating (``RankedOffer(...)``) was a quarter of rank()'s time over 100,000 offers, and
    ``model_construct``'s generic field loop most of the rest; tests check the result equals a validated
    RankedOffer. All instances share one fields-set (never mutated): fewer objects for the cyclic GC.
    """
    ranked = RankedOffer.__new__(RankedOffer)
    _set_slot(
        ranked, "__dict__", {"rank": position, "offer": offer, "score": score, "terms": terms, "why": why}
    )
    _set_slot(ranked, "__pydantic_fields_set__", _RANKED_FIELDS)
    _set_slot(ranked, "__pydantic_extra__", None)
    _set_slot(ranked, "__pydantic_private__", None)
    return ranked


def _rank_order(keys: list[_RankKey], qualifying: list[Offer]) -> list[int]:
    """Indices into ``qualifying`` in rank order: by the key, then by the offer's JSON.

    The trailing index only separates keys equal in ``(group, score, tie, offer_id)``, which happens only
    when an offer id is listed twice; such runs are re-sorted by the offer's JSON, so the order is that of
    sorting by ``(group, score, tie, offer_id, offer JSON)`` whatever the input order, and the JSON is
    rarely computed.
    """
    keys.sort()
    order = [key[4] for key in keys]
    start, count = 0, len(keys)
    while start < count:
        first = keys[start]
        end = start + 1
        while end < count:
            other = keys[end]
            if other[3] != first[3] or other[1] != first[1] or other[2] != first[2] or other[0] != first[0]:
                break
            end += 1
        if end - start > 1:
            order[start:end] = sorted(order[start:end], key=lambda i: qualifying[i].model_dump_json())
        start = end
    return order


def _block_reason(offer_id: str, blocked: Mapping[str, str]) -> str | None:
    """A block on ``offer_id`` itself or on one of its ``:``-prefixes: blocking ``akash:<owner>`` (a provider)
    also blocks ``akash:<owner>:h100`` and ``akash:<owner>:bid:...``."""
    if offer_id in blocked:
        return blocked[offer_id]
    parts = offer_id.split(":")
    for end in range(len(parts) - 1, 0, -1):
        reason = blocked.get(":".join(parts[:end]))
        if reason is not None:
            return reason
    return None


def rank(
    offers: Sequence[Offer],
    request: ComputeRequest,
    *,
    now: datetime,
    blocked: Mapping[str, str] | Iterable[str] | None = None,
    filters: OfferFilters | None = None,
) -> Ranking:
    """Filter and order ``offers`` for ``request`` by its objective. Pure and deterministic.

    Args:
        offers: candidate offers from any sources (duplicates and any order are fine).
        request: the buyer's request; ``request.objective`` picks the score.
        now: the clock for staleness and expiry (aware).
        blocked: offer ids to exclude (a mapping gives the reason), e.g. after a failed launch.
        filters: extra hard filters (GPU class, VRAM, uptime, audit, capacity, sources, pricing models,
            total cost); None applies only the request's own.

    Returns:
        A Ranking; ``best`` is the first offer, ``explain()`` says why.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if blocked is None:
        blocked_map: dict[str, str] = {}
    elif isinstance(blocked, Mapping):
        blocked_map = {str(k): str(v) for k, v in blocked.items()}
    else:
        blocked_map = {str(k): "blocked" for k in blocked}
    if filters == NO_FILTERS:
        filters = None
    candidates = tuple(offers)
    check = _HardFilters(request, filters, now).check
    scorer = _Scorer(request, now)
    keys: list[_RankKey] = []
    qualifying: list[Offer] = []
    scores: list[Decimal] = []
    terms_of: list[dict[str, str]] = []
    excluded: list[Exclusion] = []
    for offer in candidates:
        reasons = check(offer)
        if blocked_map:
            block = _block_reason(offer.offer_id, blocked_map)
            if block is not None:
                reasons.insert(0, f"blocked: {block}")
        if reasons:
            excluded.append(_new_tuple(Exclusion, (offer.offer_id, "; ".join(reasons))))
            continue
        group, score, tie, terms = scorer.score(offer)
        keys.append((group, score, tie, offer.offer_id, len(qualifying)))
        qualifying.append(offer)
        scores.append(score)
        terms_of.append(terms)
    ranked = [
        _ranked_offer(position, qualifying[i], scores[i], terms_of[i], scorer.why(qualifying[i], scores[i]))
        for position, i in enumerate(_rank_order(keys, qualifying), start=1)
    ]
    excluded.sort()
    ranking = Ranking.model_construct(
        objective=request.objective,
        request=request,
        now=_NOW.validate_python(now),
        offers=ranked,
        excluded=excluded,
        blocked=dict(sorted(blocked_map.items())),
        filters=filters,
    )
    ranking._candidates = candidates
    return ranking
