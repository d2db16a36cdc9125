"""Rank offers for a request: hard filters, then a documented score (pricing.md §3).

``rank`` is pure and deterministic: the same offers, request, ``now`` and ``blocked`` give byte-for-byte the
same ``Ranking`` JSON whatever the input order (inputs are put in canonical order first, and every sort
key ends with ``offer_id`` and the offer's own JSON).

Hard filters (an offer failing any is kept in ``excluded`` with every reason, joined by "; "):
blocked by the caller; GPU model and exact GPU count (a CPU-only request excludes GPU machines); vCPU,
memory and storage at least the request's (unknown storage passes); region via ``region_matches``;
``usd_per_hour`` at most ``max_usd_per_hour``; ``capacity_available`` not False; a firm quote (not an
estimate) past its TTL.

Scores, lower is better (``U`` = usd_total, ``down`` = 1 - uptime, with ``DEFAULT_UPTIME`` when the
source reports none; ``unmeasured`` (no uptime reported), ``unaudited``, ``spot``, ``estimate`` are 0/1;
``stale`` = min(age / ttl, 3)):

- cheapest: ``U``; ties by ``down``.
- fastest: ``1 / effective_pflops`` (wall hours per effective PFLOP-hour of work: the fastest machine
  first; vCPUs stand in for CPU-only requests); ties by USD per effective PFLOP-hour (or ``U``).
  Offers of unknown performance come after all known ones.
- reliable: ``U * (1 + 20 down + 0.5 unmeasured + 1.0 unaudited + 1.0 spot + 0.1 estimate)``; ties by
  ``down``. A measured 99.5 % beats an unmeasured default unless it costs ~40 % more.
- balanced: ``U * (1 + down + 0.05 unmeasured + 0.10 unaudited + 0.10 spot + 0.05 estimate + 0.05 stale)``;
  ties by ``U``.

The balanced score is pricing.md §3's "risk-adjusted cost + tail risk + reliability + staleness", with the
spot and estimate terms as the tail risk (spot ``U`` already holds the expected interruption overhead).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, PrivateAttr

from tools.pricing.normalize import to_decimal
from tools.pricing.offer import Money, Offer, format_usd
from tools.request import ComputeRequest, Objective, region_matches

# Uptime assumed when a source reports none: an established cloud's on-demand machine vs an Akash
# provider nobody has measured.
DEFAULT_UPTIME: dict[str, Decimal] = {
    "fixed": Decimal("0.99"),
    "spot": Decimal("0.99"),  # interruptions are priced separately (spot term, expected cost)
    "auction": Decimal("0.90"),
    "token": Decimal("0.95"),
}
MAX_STALENESS = Decimal(3)

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


class Exclusion(NamedTuple):
    offer_id: str
    reason: str


class RankedOffer(BaseModel):
    model_config = ConfigDict(frozen=True)

    rank: int
    offer: Offer
    score: Money
    terms: dict[str, str]  # the score's ingredients, exact strings
    why: str


class Ranking(BaseModel):
    """Offers in rank order, the excluded ones with reasons, and what was blocked."""

    model_config = ConfigDict(frozen=True)

    objective: Objective
    request: ComputeRequest
    now: AwareDatetime
    offers: list[RankedOffer]
    excluded: list[Exclusion]
    blocked: dict[str, str]
    _candidates: tuple[Offer, ...] = PrivateAttr(default=())

    @property
    def best(self) -> RankedOffer | None:
        return self.offers[0] if self.offers else None

    @property
    def best_deployable(self) -> RankedOffer | None:
        return next((r for r in self.offers if r.offer.deployable), None)

    def block(self, offer_id: str, reason: str = "blocked after a failed launch") -> Ranking:
        """Rank again without ``offer_id`` (SkyPilot-style failover, pricing.md §3)."""
        return rank(self._candidates, self.request, now=self.now, blocked={**self.blocked, offer_id: reason})

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
                + "). Relax the request: another GPU model or count, a wider region or a higher price cap."
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


def _canonical(offer: Offer) -> tuple[str, str]:
    return (offer.offer_id, offer.model_dump_json())


def exclusion_reasons(offer: Offer, request: ComputeRequest, *, now: datetime) -> list[str]:
    """Every hard filter ``offer`` fails for ``request`` (empty: it qualifies)."""
    reasons: list[str] = []
    if request.gpu_count == 0 and offer.gpu_count > 0:
        reasons.append(f"has {offer.gpu_count} GPU(s); the request is CPU-only")
    if request.gpu_count > 0:
        if request.gpu_model and offer.gpu_model != request.gpu_model:
            reasons.append(f"GPU {offer.gpu_model or 'none'}, request needs {request.gpu_model}")
        if offer.gpu_count != request.gpu_count:
            reasons.append(f"{offer.gpu_count} GPU(s), request needs {request.gpu_count}")
    if offer.cpu < request.cpu:
        reasons.append(f"{offer.cpu:g} vCPU < {request.cpu:g} requested")
    if offer.memory_gib < request.memory_gib:
        reasons.append(f"{offer.memory_gib:g} GiB memory < {request.memory_gib:g} GiB requested")
    if offer.storage_gib is not None and offer.storage_gib < request.storage_gib:
        reasons.append(f"{offer.storage_gib:g} GiB storage < {request.storage_gib:g} GiB requested")
    if not region_matches(request.region, offer.region):
        where = offer.region or "unknown"
        if offer.provider_region and offer.provider_region != offer.region:
            where += f" ({offer.provider_region})"
        reasons.append(f"region {where} is outside {request.region}")
    if request.max_usd_per_hour is not None and offer.usd_per_hour > request.max_usd_per_hour:
        reasons.append(
            f"{format_usd(offer.usd_per_hour)}/h is above the {format_usd(request.max_usd_per_hour)}/h cap"
        )
    if offer.capacity_available is False:
        reasons.append("sold out (no capacity available)")
    if not offer.estimate and offer.is_expired(now):
        reasons.append("firm quote expired")
    return reasons


def _uptime(offer: Offer) -> Decimal:
    if offer.uptime is not None:
        return to_decimal(offer.uptime)
    return DEFAULT_UPTIME[offer.pricing_model]


def _staleness(offer: Offer, now: datetime) -> Decimal:
    if offer.ttl_s <= 0:
        return MAX_STALENESS
    age = to_decimal(round(offer.age_s(now), 3))
    return min(age / offer.ttl_s, MAX_STALENESS)


def _score(offer: Offer, objective: str, now: datetime) -> tuple[int, Decimal, Decimal, dict[str, str]]:
    """(group, score, tie-break, terms) for one qualifying offer."""
    total = offer.usd_total
    down = 1 - _uptime(offer)
    terms = {"usd_total": str(total), "downtime": str(down)}
    if objective == "cheapest":
        return 0, total, down, terms
    if objective == "fastest":
        if offer.gpu_count > 0:
            if offer.effective_pflops is None or offer.effective_pflops <= 0:
                return 1, total, down, {**terms, "effective_pflops": "unknown"}
            speed = offer.effective_pflops
            tie = (
                offer.usd_per_effective_pflop_hour
                if offer.usd_per_effective_pflop_hour is not None
                else total
            )
        else:
            speed = to_decimal(offer.cpu)
            tie = total
            if speed <= 0:
                return 1, total, down, terms
        score = 1 / speed
        return 0, score, tie, {**terms, "speed": str(speed), "hours_per_unit": str(score)}
    weights = WEIGHTS[objective]
    penalties = {
        "downtime": down,
        "unmeasured": Decimal(1 if offer.uptime is None else 0),
        "unaudited": Decimal(1 if offer.audited is False else 0),
        "spot": Decimal(1 if offer.pricing_model == "spot" else 0),
        "estimate": Decimal(1 if offer.estimate else 0),
        "staleness": _staleness(offer, now),
    }
    factor = 1 + sum((weights[name] * value for name, value in penalties.items()), Decimal(0))
    terms.update({name: str(value) for name, value in penalties.items() if weights[name]})
    terms["factor"] = str(factor)
    tie = down if objective == "reliable" else total
    return 0, total * factor, tie, terms


def _why(offer: Offer, objective: str, request: ComputeRequest, score: Decimal) -> str:
    hours = f"{request.hours:g} h"
    cost = f"{format_usd(offer.usd_total)} for {hours} ({format_usd(offer.usd_per_hour)}/h)"
    uptime = f"uptime {offer.uptime:.1%}" if offer.uptime is not None else "uptime not reported"
    if objective == "cheapest":
        head = cost
    elif objective == "fastest":
        if offer.effective_pflops is not None and offer.gpu_count:
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


def rank(
    offers: Sequence[Offer],
    request: ComputeRequest,
    *,
    now: datetime,
    blocked: Mapping[str, str] | Iterable[str] | None = None,
) -> Ranking:
    """Filter and order ``offers`` for ``request`` by its objective. Pure and deterministic.

    Args:
        offers: candidate offers from any sources (duplicates and any order are fine).
        request: the buyer's request; ``request.objective`` picks the score.
        now: the clock for staleness and expiry (aware).
        blocked: offer ids to exclude (a mapping gives the reason), e.g. after a failed launch.

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
    candidates = tuple(sorted(offers, key=_canonical))
    objective = request.objective
    scored: list[tuple[tuple, Offer, Decimal, dict[str, str]]] = []
    excluded: list[Exclusion] = []
    for offer in candidates:
        reasons = exclusion_reasons(offer, request, now=now)
        if offer.offer_id in blocked_map:
            reasons.insert(0, f"blocked: {blocked_map[offer.offer_id]}")
        if reasons:
            excluded.append(Exclusion(offer.offer_id, "; ".join(reasons)))
            continue
        group, score, tie, terms = _score(offer, objective, now)
        scored.append(((group, score, tie, *_canonical(offer)), offer, score, terms))
    scored.sort(key=lambda item: item[0])
    ranked = [
        RankedOffer(
            rank=i + 1, offer=offer, score=score, terms=terms, why=_why(offer, objective, request, score)
        )
        for i, (_, offer, score, terms) in enumerate(scored)
    ]
    excluded.sort()
    ranking = Ranking(
        objective=objective,
        request=request,
        now=now,
        offers=ranked,
        excluded=excluded,
        blocked=dict(sorted(blocked_map.items())),
    )
    ranking._candidates = candidates
    return ranking
