"""Gather offers from every source at once and rank them: the quote a user sees.

One bad source never breaks a quote: a source that raises, times out or returns something other than a
list of Offers is skipped and listed in ``quote.skipped`` as ``{"source", "reason"}``.

``Quote.to_json()`` shape::

    {"request": {...ComputeRequest...},
     "objective": "balanced", "observed_at": "<now, ISO UTC>",
     "offers": [{"rank", "score", "why", "provider", "provider_address", "source", "offer_id",
                 "pricing_model", "region", "provider_region", "gpu_model", "gpu_count", "gpu_memory_gib",
                 "cpu", "memory_gib", "storage_gib", "usd_per_hour", "usd_total",
                 "usd_per_effective_pflop_hour", "effective_pflops", "observed_at", "ttl_s", "notes",
                 "uptime", "audited", "capacity_available", "deployable", "estimate", "inputs"}, ...],
     "excluded": [{"offer_id", "reason"}, ...],
     "skipped": [{"source", "reason"}, ...],
     "best": "<offer_id>" | null, "best_deployable": "<offer_id>" | null, "explanation": "...",
     "filters": {...OfferFilters...}}   # only when extra hard filters were given

Money is a JSON number; its exact decimal string is in each offer's ``inputs``.

Extra hard filters beyond the request (GPU class, VRAM, uptime floor, audited only, capacity, sources,
pricing models, total cost: ``tools.pricing.rank.OfferFilters``) go in ``gather_quote(..., filters=...)``;
they stay with the quote, so ``Quote.block`` re-ranks under the same filters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from tools.pricing.offer import Offer, format_usd, utc_now
from tools.pricing.rank import OfferFilters, RankedOffer, Ranking, rank
from tools.pricing.sources import PriceSource, SourceError
from tools.request import ComputeRequest

DEFAULT_SOURCE_TIMEOUT_S = 15.0


class SkippedSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    source: str
    reason: str


class Quote(BaseModel):
    model_config = ConfigDict(frozen=True)

    request: ComputeRequest
    ranking: Ranking
    skipped: list[SkippedSource]

    @property
    def offers(self) -> list[RankedOffer]:
        return self.ranking.offers

    def to_json(self) -> dict[str, Any]:
        """The quote as JSON-ready data (see the module docstring for the shape)."""
        offers = []
        for ranked in self.ranking.offers:
            entry = {"rank": ranked.rank, "score": float(ranked.score), "why": ranked.why}
            entry.update(ranked.offer.model_dump(mode="json"))
            offers.append(entry)
        best = self.ranking.best
        deployable = self.ranking.best_deployable
        data: dict[str, Any] = {
            "request": self.request.model_dump(mode="json"),
            "objective": self.ranking.objective,
            "observed_at": self.ranking.now.isoformat(),
            "offers": offers,
            "excluded": [{"offer_id": e.offer_id, "reason": e.reason} for e in self.ranking.excluded],
            "skipped": [s.model_dump() for s in self.skipped],
            "best": best.offer.offer_id if best else None,
            "best_deployable": deployable.offer.offer_id if deployable else None,
            "explanation": self.ranking.explain(),
        }
        if self.ranking.filters is not None:
            data["filters"] = self.ranking.filters.model_dump(mode="json")
        return data

    def block(self, offer_id: str, reason: str = "blocked after a failed launch") -> Quote:
        """The same quote re-ranked without ``offer_id``."""
        return Quote(request=self.request, ranking=self.ranking.block(offer_id, reason), skipped=self.skipped)


def source_name(source: object) -> str:
    return str(getattr(source, "name", None) or type(source).__name__)


async def _fetch_one(source: PriceSource, request: ComputeRequest, timeout_s: float) -> list[Offer]:
    offers = await asyncio.wait_for(source.fetch(request), timeout=timeout_s)
    if not isinstance(offers, list) or not all(isinstance(o, Offer) for o in offers):
        raise SourceError(source_name(source), "returned something that is not a list of offers")
    return offers


async def gather_quote(
    request: ComputeRequest,
    sources: Sequence[PriceSource],
    *,
    now: datetime | None = None,
    timeout_s: float = DEFAULT_SOURCE_TIMEOUT_S,
    blocked: dict[str, str] | None = None,
    filters: OfferFilters | None = None,
) -> Quote:
    """Compare offers for ``request`` across ``sources`` (fetched concurrently) and rank them.

    Args:
        request: what the buyer asked for.
        sources: price sources; each gets ``timeout_s`` seconds.
        now: the ranking clock (default: the current UTC time, taken after fetching).
        timeout_s: per-source time limit.
        blocked: offer ids to exclude, with reasons.
        filters: extra hard filters (``OfferFilters``); None: only the request's own.

    Returns:
        A Quote: ranked offers, the excluded ones with reasons, and the skipped sources.
    """
    results = await asyncio.gather(
        *(_fetch_one(source, request, timeout_s) for source in sources), return_exceptions=True
    )
    offers: list[Offer] = []
    skipped: list[SkippedSource] = []
    for source, result in zip(sources, results, strict=True):
        name = source_name(source)
        if isinstance(result, TimeoutError):
            skipped.append(SkippedSource(source=name, reason=f"timed out after {timeout_s:g}s"))
        elif isinstance(result, SourceError):
            skipped.append(SkippedSource(source=name, reason=result.reason))
        elif isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # CancelledError, KeyboardInterrupt: not a source problem
            skipped.append(
                SkippedSource(source=name, reason=f"failed: {type(result).__name__}: {result}"[:300])
            )
        else:
            offers.extend(result)
    skipped.sort(key=lambda s: (s.source, s.reason))
    ranking = rank(offers, request, now=now or utc_now(), blocked=blocked, filters=filters)
    return Quote(request=request, ranking=ranking, skipped=skipped)


COLUMNS = (
    "rank",
    "provider",
    "source",
    "model",
    "GPUs",
    "vCPU",
    "mem",
    "region",
    "$/h",
    "total",
    "$/PFLOP-h",
    "uptime",
    "age",
    "notes",
)


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)}s"
    if seconds < 90 * 60:
        return f"{int(seconds // 60)}m"
    if seconds < 36 * 3600:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


def comparison_table(quote: Quote, limit: int = 10) -> list[dict[str, str]]:
    """The top ``limit`` offers as rows of display strings keyed by ``COLUMNS``."""
    rows = []
    now = quote.ranking.now
    for ranked in quote.ranking.offers[:limit]:
        o = ranked.offer
        flags = []
        if o.estimate:
            flags.append("estimate")
        if o.pricing_model == "spot":
            flags.append("spot")
        if o.pricing_model == "auction":
            flags.append("auction")
        if o.audited is False:
            flags.append("unaudited")
        if o.deployable:
            flags.append("deployable")
        rows.append(
            {
                "rank": str(ranked.rank),
                "provider": o.provider,
                "source": o.source,
                "model": o.gpu_model or "cpu",
                "GPUs": str(o.gpu_count),
                "vCPU": f"{o.cpu:g}",
                "mem": f"{o.memory_gib:g} GiB",
                "region": o.region or (f"? ({o.provider_region})" if o.provider_region else "?"),
                "$/h": format_usd(o.usd_per_hour),
                "total": format_usd(o.usd_total),
                "$/PFLOP-h": format_usd(o.usd_per_effective_pflop_hour),
                "uptime": f"{o.uptime:.1%}" if o.uptime is not None else "-",
                "age": _age(o.age_s(now)),
                "notes": ", ".join(flags),
            }
        )
    return rows


def comparison_markdown(quote: Quote, limit: int = 10) -> str:
    """``comparison_table`` as a GitHub-flavoured markdown table, plus skipped sources and the explanation."""
    rows = comparison_table(quote, limit)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row[c].replace("|", "/") for c in COLUMNS) + " |")
    if not rows:
        lines.append("| " + " | ".join(["-"] * len(COLUMNS)) + " |")
    lines.append("")
    lines.append(quote.ranking.explain())
    if quote.skipped:
        lines.append("")
        lines.append("Skipped: " + "; ".join(f"{s.source} ({s.reason})" for s in quote.skipped))
    return "\n".join(lines)
