"""Routing decisions as verifiable records: the full input snapshot, the outcome, and their hashes.

A ``DecisionRecord`` holds two canonical JSON documents (RFC 8785, ``tools.routing.canonical``; money as exact
decimal strings) and three hashes:

- ``snapshot_json`` (``RoutingSnapshot``): everything the ranking read: the request, the extra filters, the
  blocked map, the objective, the ranking clock ``now``, every candidate offer in full (source,
  ``observed_at``, ``ttl_s``, ``inputs``...; sorted by offer id then content, so the fetch order does not
  matter), the skipped sources, the token prices used, the block time and ``POLICY_VERSION``.
- ``outcome_json`` (``RoutingOutcome``): the ranked offer ids with their exact scores and score terms, the
  excluded ids with reasons, the best and best deployable offers, the chosen offer (the policy's deployable
  best, or the one the user picked), the explanation, and a digest of each snapshot field and of each
  offer, so a replay can name exactly which input changed.
- ``snapshot_sha256 = sha256(snapshot_json as UTF-8)``, ``outcome_sha256 = sha256(outcome_json as UTF-8)``
  (lower-case hex), and ``decision_hash = sha256(bytes.fromhex(snapshot_sha256) ||
  bytes.fromhex(outcome_sha256))``: SHA-256 over the two raw 32-byte digests concatenated, 64 bytes, no
  separator or prefix; Solidity's ``sha256(abi.encodePacked(snapshotHash, outcomeHash))``. This is the
  value a tracked job puts on chain (``ComputeRouter.decisionHash``).
- ``request_sha256 = request_hash(request) = sha256(canonical_json(request))`` (``requestHash`` on chain).

``replay(snapshot)`` re-runs ``tools.pricing.rank.rank`` on the snapshot alone (no network, no clock) and
builds the outcome the current code gives; ``tools.routing.verify`` compares it with the stored one.
Scores are Decimal arithmetic in the default context (28 digits), as when the decision was made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from tools.pricing.offer import Offer
from tools.pricing.quote import Quote, SkippedSource
from tools.pricing.rank import POLICY_VERSION, OfferFilters, Ranking, rank
from tools.pricing.tokens import TokenPrice
from tools.request import ComputeRequest, Objective
from tools.routing.canonical import canonical_data, canonical_json, canonical_sha256, sha256_hex
from tools.routing.errors import RoutingError

SNAPSHOT_FORMAT = "necto-routing-snapshot/1"
OUTCOME_FORMAT = "necto-routing-outcome/1"

ChosenBy = Literal["policy", "user"]


class TokenPriceUsed(BaseModel):
    """A token's USD price as the offers were converted with it (``tools.pricing.tokens.TokenPrice``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: Decimal
    source: str
    observed_at: AwareDatetime
    ttl_s: int
    stale: bool = False
    sigma_daily: Decimal | None = None

    @classmethod
    def of(cls, price: TokenPrice) -> TokenPriceUsed:
        return cls(
            usd=price.usd,
            source=price.source,
            observed_at=price.observed_at,
            ttl_s=price.ttl_s,
            stale=price.stale,
            sigma_daily=price.sigma_daily,
        )


class RoutingSnapshot(BaseModel):
    """Every input of one ranking: enough to replay it offline, byte for byte."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["necto-routing-snapshot/1"] = SNAPSHOT_FORMAT
    policy_version: str
    request: ComputeRequest
    objective: Objective
    filters: OfferFilters | None
    blocked: dict[str, str]
    now: AwareDatetime  # the ranking clock (staleness, expiry)
    offers: list[Offer]
    skipped: list[SkippedSource]
    token_prices: dict[str, TokenPriceUsed]
    block_time_s: Decimal | None = None

    def canonical_json(self) -> bytes:
        return canonical_json(self)

    def digests(self) -> tuple[dict[str, str], list[OfferDigest]]:
        """SHA-256 of each field's canonical JSON (offers excepted), and of each offer, sorted."""
        data = canonical_data(self)
        assert isinstance(data, dict)
        fields = {name: canonical_sha256(value) for name, value in data.items() if name != "offers"}
        offers = sorted(
            (OfferDigest(offer_id=offer.offer_id, sha256=canonical_sha256(offer)) for offer in self.offers),
            key=lambda d: (d.offer_id, d.sha256),
        )
        return fields, offers

    @classmethod
    def from_json(cls, text: str | bytes) -> RoutingSnapshot:
        return cls.model_validate_json(text)


class OfferDigest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: str
    sha256: str


class RankedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int
    offer_id: str
    score: Decimal
    terms: dict[str, str]


class ExcludedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: str
    reason: str


class RoutingOutcome(BaseModel):
    """What the ranking decided, and digests of what it decided on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["necto-routing-outcome/1"] = OUTCOME_FORMAT
    objective: Objective
    ranked: list[RankedEntry]
    excluded: list[ExcludedEntry]
    best: str | None
    best_deployable: str | None
    chosen: str | None  # the offer the job goes to (None: nothing deployable matched)
    chosen_by: ChosenBy  # "policy": the best deployable offer; "user": the user's pick among the ranked
    explanation: str
    snapshot_digests: dict[str, str]  # snapshot field -> sha256 of its canonical JSON (offers excepted)
    offer_digests: list[OfferDigest]  # sha256 of each offer's canonical JSON, sorted by (offer_id, sha256)

    def canonical_json(self) -> bytes:
        return canonical_json(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> RoutingOutcome:
        return cls.model_validate_json(text)


class DecisionRecord(BaseModel):
    """One routing decision, stored: the two canonical documents and their hashes (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_version: str
    snapshot_json: str
    snapshot_sha256: str
    outcome_json: str
    outcome_sha256: str
    request_sha256: str
    decision_hash: str  # lower-case hex, no 0x; see decision_hash()

    def snapshot(self) -> RoutingSnapshot:
        return RoutingSnapshot.from_json(self.snapshot_json)

    def outcome(self) -> RoutingOutcome:
        return RoutingOutcome.from_json(self.outcome_json)

    @property
    def decision_hash_bytes(self) -> bytes:
        return bytes.fromhex(self.decision_hash)


def request_hash(request: ComputeRequest) -> str:
    """``sha256(canonical_json(request))`` in hex: the request's identity on chain (``requestHash``)."""
    return canonical_sha256(request)


def decision_hash(snapshot_sha256: str, outcome_sha256: str) -> str:
    """``sha256(snapshot digest || outcome digest)`` over the raw 32-byte digests (64 bytes), in hex."""
    snapshot_digest, outcome_digest = bytes.fromhex(snapshot_sha256), bytes.fromhex(outcome_sha256)
    if len(snapshot_digest) != 32 or len(outcome_digest) != 32:
        raise ValueError("decision_hash takes two SHA-256 digests (64 hex characters each)")
    return sha256_hex(snapshot_digest + outcome_digest)


def outcome_of(
    ranking: Ranking,
    snapshot: RoutingSnapshot,
    *,
    chosen_offer_id: str | None = None,
) -> RoutingOutcome:
    """The outcome of ``ranking`` (made from ``snapshot``); ``chosen_offer_id`` None: the policy's choice.

    A user's pick that the ranking does not rank gives ``chosen=None`` (a replay must not invent a choice).
    """
    ranked_ids = [r.offer.offer_id for r in ranking.offers]
    if chosen_offer_id is None:
        deployable = ranking.best_deployable
        chosen, chosen_by = (deployable.offer.offer_id if deployable else None), "policy"
    else:
        chosen, chosen_by = (chosen_offer_id if chosen_offer_id in ranked_ids else None), "user"
    best = ranking.best
    deployable = ranking.best_deployable
    field_digests, offer_digests = snapshot.digests()
    return RoutingOutcome(
        objective=ranking.objective,
        ranked=[
            RankedEntry(rank=r.rank, offer_id=r.offer.offer_id, score=r.score, terms=dict(r.terms))
            for r in ranking.offers
        ],
        excluded=[ExcludedEntry(offer_id=e.offer_id, reason=e.reason) for e in ranking.excluded],
        best=best.offer.offer_id if best else None,
        best_deployable=deployable.offer.offer_id if deployable else None,
        chosen=chosen,
        chosen_by=chosen_by,  # type: ignore[arg-type]
        explanation=ranking.explain(),
        snapshot_digests=field_digests,
        offer_digests=offer_digests,
    )


def rank_snapshot(snapshot: RoutingSnapshot) -> Ranking:
    """``rank`` over the snapshot's offers with its request, clock, blocked map and filters."""
    return rank(
        snapshot.offers,
        snapshot.request,
        now=snapshot.now,
        blocked=snapshot.blocked,
        filters=snapshot.filters,
    )


def replay(snapshot: RoutingSnapshot, *, chosen_offer_id: str | None = None) -> RoutingOutcome:
    """The outcome the current code gives for ``snapshot``: pure and offline.

    Args:
        snapshot: the stored inputs of a decision.
        chosen_offer_id: the user's pick when the stored outcome says ``chosen_by == "user"``; None
            replays the policy's choice (the best deployable offer).

    Returns:
        A RoutingOutcome to compare with the stored one (``tools.routing.verify``).
    """
    return outcome_of(rank_snapshot(snapshot), snapshot, chosen_offer_id=chosen_offer_id)


def _token_prices(prices: Mapping[str, TokenPrice] | Iterable[TokenPrice]) -> dict[str, TokenPriceUsed]:
    items = prices.values() if isinstance(prices, Mapping) else prices
    return {price.symbol.upper(): TokenPriceUsed.of(price) for price in sorted(items, key=lambda p: p.symbol)}


def snapshot_of(
    quote: Quote,
    *,
    token_prices: Mapping[str, TokenPrice] | Iterable[TokenPrice] = (),
    block_time_s: Decimal | int | str | None = None,
    policy_version: str = POLICY_VERSION,
) -> RoutingSnapshot:
    """The snapshot of ``quote``'s ranking: its candidate offers (sorted), request, clock, blocks, filters."""
    ranking = quote.ranking
    candidates = ranking.candidates  # what rank() saw, the excluded offers included
    if not candidates and (ranking.offers or ranking.excluded):
        raise RoutingError(
            "This quote's ranking has lost its candidate offers (it was not built by rank() in this process).",
            hint="Record the decision from the Quote that gather_quote returned, before serializing it.",
        )
    offers = sorted(candidates, key=lambda offer: (offer.offer_id, canonical_sha256(offer)))
    return RoutingSnapshot(
        policy_version=policy_version,
        request=ranking.request,
        objective=ranking.objective,
        filters=ranking.filters,
        blocked=dict(ranking.blocked),
        now=ranking.now,
        offers=offers,
        skipped=sorted(quote.skipped, key=lambda s: (s.source, s.reason)),
        token_prices=_token_prices(token_prices),
        block_time_s=Decimal(str(block_time_s)) if block_time_s is not None else None,
    )


def record_of(snapshot: RoutingSnapshot, outcome: RoutingOutcome) -> DecisionRecord:
    """Serialize and hash a snapshot and its outcome (no checks: ``record_decision`` is the safe entry)."""
    snapshot_bytes, outcome_bytes = canonical_json(snapshot), canonical_json(outcome)
    snapshot_sha, outcome_sha = sha256_hex(snapshot_bytes), sha256_hex(outcome_bytes)
    return DecisionRecord(
        policy_version=snapshot.policy_version,
        snapshot_json=snapshot_bytes.decode("utf-8"),
        snapshot_sha256=snapshot_sha,
        outcome_json=outcome_bytes.decode("utf-8"),
        outcome_sha256=outcome_sha,
        request_sha256=request_hash(snapshot.request),
        decision_hash=decision_hash(snapshot_sha, outcome_sha),
    )


def record_decision(
    quote: Quote,
    *,
    chosen_offer_id: str | None = None,
    token_prices: Mapping[str, TokenPrice] | Iterable[TokenPrice] = (),
    block_time_s: Decimal | int | str | None = None,
    policy_version: str = POLICY_VERSION,
) -> DecisionRecord:
    """Record the routing decision behind ``quote``: snapshot, outcome, hashes (module docstring).

    Use right after ranking, before deploying, and store the record with the job.

    Args:
        quote: the quote as ``gather_quote`` (or ``Quote.block``) returned it.
        chosen_offer_id: the offer the user picked; None: the best deployable offer.
        token_prices: the token prices the sources converted with (by symbol, or a list).
        block_time_s: seconds per block used to price per-block bids.
        policy_version: the ranking policy's version (default: the current code's).

    Returns:
        A DecisionRecord whose outcome is checked to replay from its snapshot.

    Raises:
        RoutingError: the chosen offer is not ranked, or the ranking does not replay from the snapshot.
    """
    ranking = quote.ranking
    if chosen_offer_id is not None and chosen_offer_id not in {r.offer.offer_id for r in ranking.offers}:
        raise RoutingError(
            f"Offer {chosen_offer_id} is not among the ranked offers of this quote.",
            hint="Pick one of the ranked offers (excluded and blocked offers cannot be chosen).",
        )
    snapshot = snapshot_of(
        quote, token_prices=token_prices, block_time_s=block_time_s, policy_version=policy_version
    )
    outcome = outcome_of(ranking, snapshot, chosen_offer_id=chosen_offer_id)
    # A record that does not replay could never be verified: refuse it now rather than at audit time.
    replayed = replay(snapshot, chosen_offer_id=chosen_offer_id)
    if canonical_json(replayed) != canonical_json(outcome):
        raise RoutingError(
            "This ranking does not replay from its own snapshot (were the quote's offers or clock changed?).",
            hint="Record the decision from an unmodified Quote.",
        )
    return record_of(snapshot, outcome)


def parse_record_parts(record: DecisionRecord) -> tuple[RoutingSnapshot | str, RoutingOutcome | str]:
    """The parsed snapshot and outcome, or for each the reason it does not parse."""
    parsed: list[Any] = []
    for parse, text in (
        (RoutingSnapshot.from_json, record.snapshot_json),
        (RoutingOutcome.from_json, record.outcome_json),
    ):
        try:
            parsed.append(parse(text))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "document"
            parsed.append(f"{where}: {first['msg']} ({exc.error_count()} error(s))")
        except ValueError as exc:
            parsed.append(str(exc))
    return parsed[0], parsed[1]


__all__ = [
    "OUTCOME_FORMAT",
    "SNAPSHOT_FORMAT",
    "ChosenBy",
    "DecisionRecord",
    "ExcludedEntry",
    "OfferDigest",
    "RankedEntry",
    "RoutingOutcome",
    "RoutingSnapshot",
    "TokenPriceUsed",
    "canonical_json",
    "decision_hash",
    "outcome_of",
    "rank_snapshot",
    "record_decision",
    "record_of",
    "replay",
    "request_hash",
    "sha256_hex",
    "snapshot_of",
]
