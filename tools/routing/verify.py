"""Verify a stored routing decision: hashes, an offline replay, the on-chain record, the router's signature.

``verify(record, ...)`` never raises for a bad record; it returns a ``VerifyReport`` whose findings say what
was checked and, for each mismatch, exactly what differs. Checks, in order:

- ``snapshot hash``: sha256 of the stored snapshot JSON equals ``record.snapshot_sha256``.
- ``outcome hash``: the same for the outcome.
- ``decision hash``: ``record.decision_hash`` equals sha256(snapshot_sha256 || outcome_sha256) over the
  record's two digests (tools.routing.decision).
- ``snapshot`` / ``outcome``: each parses (and the snapshot is in canonical form).
- ``request hash``: ``record.request_sha256`` equals ``request_hash`` of the snapshot's request.
- ``policy version``: the snapshot's version equals the record's, and the current code's
  (``tools.pricing.rank.POLICY_VERSION``). A different current version is reported explicitly; the replay
  still runs under the current code and its differences are listed, since they may come from the policy
  change rather than from tampering.
- ``replay``: the outcome the current code gives for the snapshot equals the stored one. Each difference is
  one finding: a snapshot field or an offer whose digest changed since the decision, the first position
  where the ranking differs, each score or score term that differs per offer, offers ranked on one side and
  excluded on the other, exclusion reasons, the best / best deployable / chosen offer, the explanation.
- ``on-chain ...`` (tracked jobs, ``on_chain`` given): the contract's decision hash and request hash equal
  the record's; its dseq, provider and price equal the ledger's lease (``lease``) or, without one, the
  chosen offer's provider address and per-block uact price from the snapshot.
- ``signature`` (``signature`` given): the EIP-712 signature over (job id, decision hash, request hash,
  policy version) recovers to the expected router address (tools.routing.eip712).

``report.render()`` is the human text; ``report.ok`` is True only when every finding is ok.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from tools.pricing.offer import Offer
from tools.pricing.rank import POLICY_VERSION
from tools.routing.canonical import canonical_json, sha256_hex
from tools.routing.decision import (
    DecisionRecord,
    RoutingOutcome,
    RoutingSnapshot,
    decision_hash,
    parse_record_parts,
    replay,
    request_hash,
)
from tools.routing.eip712 import ZERO_ADDRESS, recover_signer


@runtime_checkable
class OnChainRecord(Protocol):
    """What ComputeRouter.getJob returns for a job, as plain data (the web3 client builds it).

    Hashes are 32 bytes or their hex (``0x`` optional); ``price_uact_per_block`` is the contract's
    ``priceUactPerBlockE18 / 1e18`` as an exact Decimal; ``provider`` the provider's akash1... address.
    ``tools.router``'s ``OnChainJob`` has this shape.
    """

    @property
    def decision_hash(self) -> bytes | str: ...

    @property
    def request_hash(self) -> bytes | str: ...

    @property
    def dseq(self) -> int: ...

    @property
    def provider(self) -> str: ...

    @property
    def price_uact_per_block(self) -> Decimal: ...


@dataclass(frozen=True)
class OnChainFacts:
    """A plain ``OnChainRecord``."""

    decision_hash: bytes | str
    request_hash: bytes | str
    dseq: int
    provider: str
    price_uact_per_block: Decimal


@dataclass(frozen=True)
class LeaseFacts:
    """What the ledger says the job became (``tools.ledger.models.Job``): dseq, provider, accepted price."""

    dseq: int
    provider: str
    price_uact_per_block: Decimal | str


@dataclass(frozen=True)
class SignatureCheck:
    """An EIP-712 router signature to check, with what it was made over besides the record."""

    signature: str
    expected_signer: str
    job_id: str | bytes
    chain_id: int
    verifying_contract: str = ZERO_ADDRESS


class Finding(BaseModel):
    """One check: ``expected`` is what the record (or the decision) says, ``actual`` what was found."""

    model_config = ConfigDict(frozen=True)

    check: str
    ok: bool
    expected: str | None = None
    actual: str | None = None
    detail: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.check}: {self.detail}"


class VerifyReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    ok: bool
    decision_hash: str
    policy_version: str  # the record's
    current_policy_version: str
    findings: list[Finding]
    not_checked: list[str]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def render(self) -> str:
        """The report as text: a verdict line, then one line per finding, then what was not checked."""
        failed = len(self.failures)
        verdict = "verified" if self.ok else f"{failed} of {len(self.findings)} checks FAILED"
        lines = [
            f"Routing decision {_short(self.decision_hash)}: {verdict} "
            f"(recorded under {self.policy_version}; this code is {self.current_policy_version})"
        ]
        lines += ["  " + finding.line() for finding in self.findings]
        if self.not_checked:
            lines.append("  not checked: " + "; ".join(self.not_checked))
        return "\n".join(lines)


def _short(digest: str | None) -> str:
    if not digest:
        return "-"
    return digest[:12] + "..." if len(digest) > 16 else digest


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _price(value: object) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def verify(
    record: DecisionRecord,
    *,
    on_chain: OnChainRecord | None = None,
    tracked: bool = False,
    lease: LeaseFacts | None = None,
    signature: SignatureCheck | None = None,
    current_policy_version: str = POLICY_VERSION,
) -> VerifyReport:
    """Check a stored routing decision (see the module docstring for every check).

    Args:
        record: the decision as stored with the job.
        on_chain: the job's ComputeRouter record, when it was found on chain.
        tracked: the job is tracked, so a missing ``on_chain`` record is itself a failure.
        lease: the ledger's dseq, provider and price for the job (checked against the chain).
        signature: an EIP-712 router signature to check.
        current_policy_version: the ranking policy of this code (tests pass another).

    Returns:
        A VerifyReport; ``render()`` says exactly what differs.
    """
    findings: list[Finding] = []
    not_checked: list[str] = []

    # (a) (b) the stored bytes against their recorded hashes
    for part, text, recorded in (
        ("snapshot", record.snapshot_json, record.snapshot_sha256),
        ("outcome", record.outcome_json, record.outcome_sha256),
    ):
        actual = sha256_hex(text.encode("utf-8"))
        if actual == recorded:
            findings.append(
                Finding(
                    check=f"{part} hash",
                    ok=True,
                    expected=recorded,
                    actual=actual,
                    detail=f"sha256 {_short(actual)}",
                )
            )
        else:
            findings.append(
                Finding(
                    check=f"{part} hash",
                    ok=False,
                    expected=recorded,
                    actual=actual,
                    detail=f"the stored {part} hashes to {_short(actual)}, the record says {_short(recorded)}: "
                    f"the {part} was changed after the decision"
                    + (" (the replay findings below say what)" if part == "snapshot" else ""),
                )
            )

    # (d) the decision hash over the record's two digests
    try:
        recomputed = decision_hash(record.snapshot_sha256, record.outcome_sha256)
    except ValueError as exc:
        recomputed = f"(cannot compute: {exc})"
    findings.append(
        Finding(
            check="decision hash",
            ok=recomputed == record.decision_hash,
            expected=record.decision_hash,
            actual=recomputed,
            detail=(
                f"sha256(snapshot || outcome) = {_short(recomputed)}"
                if recomputed == record.decision_hash
                else f"the record says {_short(record.decision_hash)}, sha256(snapshot_sha256 || outcome_sha256) "
                f"is {_short(recomputed)}: the decision hash or a recorded digest was changed"
            ),
        )
    )

    snapshot, outcome = parse_record_parts(record)
    if isinstance(snapshot, str):
        findings.append(
            Finding(check="snapshot", ok=False, detail=f"the stored snapshot does not parse: {snapshot}")
        )
        snapshot = None
    elif canonical_json(snapshot) != record.snapshot_json.encode("utf-8"):
        findings.append(
            Finding(
                check="snapshot",
                ok=False,
                detail="the stored snapshot is not in canonical form (it was re-serialized or edited by hand)",
            )
        )
    if isinstance(outcome, str):
        findings.append(
            Finding(check="outcome", ok=False, detail=f"the stored outcome does not parse: {outcome}")
        )
        outcome = None

    # the request hash
    if snapshot is not None:
        actual_request = request_hash(snapshot.request)
        findings.append(
            Finding(
                check="request hash",
                ok=actual_request == record.request_sha256,
                expected=record.request_sha256,
                actual=actual_request,
                detail=f"sha256 {_short(actual_request)}"
                if actual_request == record.request_sha256
                else f"the snapshot's request hashes to {_short(actual_request)}, the record says "
                f"{_short(record.request_sha256)}",
            )
        )

    # policy versions
    if snapshot is not None and snapshot.policy_version != record.policy_version:
        findings.append(
            Finding(
                check="policy version",
                ok=False,
                expected=record.policy_version,
                actual=snapshot.policy_version,
                detail=f"the record says {record.policy_version}, its snapshot says {snapshot.policy_version}",
            )
        )
    stored_policy = snapshot.policy_version if snapshot is not None else record.policy_version
    if stored_policy == current_policy_version:
        findings.append(
            Finding(
                check="policy version",
                ok=True,
                expected=stored_policy,
                actual=current_policy_version,
                detail=f"{stored_policy}, as this code",
            )
        )
    else:
        findings.append(
            Finding(
                check="policy version",
                ok=False,
                expected=stored_policy,
                actual=current_policy_version,
                detail=f"the decision was made under {stored_policy}, this code ranks under "
                f"{current_policy_version}: the replay uses {current_policy_version}, so its differences "
                "below may come from the policy change rather than from tampering",
            )
        )

    # (c) the replay
    if snapshot is not None and outcome is not None:
        user_pick = outcome.chosen if outcome.chosen_by == "user" else None
        try:
            replayed = replay(snapshot, chosen_offer_id=user_pick)
        except Exception as exc:  # a snapshot the current code cannot rank is a finding, not a crash
            findings.append(
                Finding(
                    check="replay",
                    ok=False,
                    detail=f"the snapshot does not replay: {type(exc).__name__}: {exc}",
                )
            )
        else:
            differences = outcome_differences(outcome, replayed, snapshot)
            if differences:
                findings += differences
            else:
                findings.append(
                    Finding(
                        check="replay",
                        ok=True,
                        detail=f"the ranking of {len(snapshot.offers)} offers replays identically "
                        f"under {current_policy_version}",
                    )
                )
    else:
        not_checked.append("replay (the snapshot or the outcome does not parse)")

    # (e) the on-chain record
    if on_chain is None:
        if tracked:
            findings.append(
                Finding(
                    check="on-chain record", ok=False, detail="the job is tracked but has no on-chain record"
                )
            )
        else:
            not_checked.append("on-chain record (untracked job)")
    else:
        findings += _on_chain_findings(record, snapshot, outcome, on_chain, lease, not_checked)

    # (f) the router's signature
    if signature is None:
        not_checked.append("router signature (none given)")
    else:
        findings.append(_signature_finding(record, snapshot, signature))

    return VerifyReport(
        ok=all(f.ok for f in findings),
        decision_hash=record.decision_hash,
        policy_version=record.policy_version,
        current_policy_version=current_policy_version,
        findings=findings,
        not_checked=not_checked,
    )


def outcome_differences(
    stored: RoutingOutcome, replayed: RoutingOutcome, snapshot: RoutingSnapshot
) -> list[Finding]:
    """One failing ``replay`` finding per difference between the stored and the replayed outcome."""
    found: list[Finding] = []

    def differ(detail: str, expected: object = None, actual: object = None) -> None:
        found.append(
            Finding(
                check="replay",
                ok=False,
                expected=None if expected is None else str(expected),
                actual=None if actual is None else str(actual),
                detail=detail,
            )
        )

    # inputs: which snapshot field or offer is not the one the decision was made on
    for name in sorted(set(stored.snapshot_digests) | set(replayed.snapshot_digests)):
        before, now = stored.snapshot_digests.get(name), replayed.snapshot_digests.get(name)
        if before != now:
            differ(
                f"snapshot field '{name}' is not the one the decision was made on "
                f"(digest {_short(before)} -> {_short(now)})",
                before,
                now,
            )
    stored_offers: dict[str, list[str]] = defaultdict(list)
    replay_offers: dict[str, list[str]] = defaultdict(list)
    for digest in stored.offer_digests:
        stored_offers[digest.offer_id].append(digest.sha256)
    for digest in replayed.offer_digests:
        replay_offers[digest.offer_id].append(digest.sha256)
    offers_by_id: dict[str, list[Offer]] = defaultdict(list)
    for offer in snapshot.offers:
        offers_by_id[offer.offer_id].append(offer)
    for offer_id in sorted(set(stored_offers) | set(replay_offers)):
        before_list, now_list = stored_offers.get(offer_id, []), replay_offers.get(offer_id, [])
        if before_list == now_list:
            continue
        if not before_list:
            differ(
                f"offer {offer_id} is in the snapshot but was not among the offers decided on", None, offer_id
            )
        elif not now_list:
            differ(f"offer {offer_id} was decided on but is missing from the snapshot", offer_id, None)
        else:
            shown = ", ".join(_offer_summary(o) for o in offers_by_id.get(offer_id, []))
            differ(
                f"offer {offer_id} in the snapshot is not the one decided on "
                f"(digest {_short(','.join(before_list))} -> {_short(','.join(now_list))}); snapshot now says {shown}",
                ",".join(before_list),
                ",".join(now_list),
            )

    # the ranking order
    stored_ids = [entry.offer_id for entry in stored.ranked]
    replay_ids = [entry.offer_id for entry in replayed.ranked]
    if stored_ids != replay_ids:
        position = next(
            (i for i, (a, b) in enumerate(zip(stored_ids, replay_ids, strict=False)) if a != b),
            min(len(stored_ids), len(replay_ids)),
        )
        at_stored = stored_ids[position] if position < len(stored_ids) else "(nothing)"
        at_replay = replay_ids[position] if position < len(replay_ids) else "(nothing)"
        differ(
            f"ranking differs at #{position + 1}: stored {at_stored}, replay {at_replay}",
            at_stored,
            at_replay,
        )
        if len(stored_ids) != len(replay_ids):
            differ(
                f"the stored outcome ranks {len(stored_ids)} offers, the replay {len(replay_ids)}",
                len(stored_ids),
                len(replay_ids),
            )

    # per offer: scores and terms, ranked vs excluded, exclusion reasons
    replay_ranked = {entry.offer_id: entry for entry in reversed(replayed.ranked)}
    replay_excluded = {entry.offer_id: entry for entry in reversed(replayed.excluded)}
    stored_ranked = {entry.offer_id: entry for entry in reversed(stored.ranked)}
    stored_excluded = {entry.offer_id: entry for entry in reversed(stored.excluded)}
    for entry in stored.ranked:
        other = replay_ranked.get(entry.offer_id)
        if other is None:
            excluded = replay_excluded.get(entry.offer_id)
            if excluded is not None:
                differ(
                    f"offer {entry.offer_id} was ranked #{entry.rank}, the replay excludes it: {excluded.reason}",
                    f"#{entry.rank}",
                    excluded.reason,
                )
            else:
                differ(
                    f"offer {entry.offer_id} was ranked #{entry.rank}, the replay does not have it",
                    entry.rank,
                    None,
                )
            continue
        if entry.score != other.score or str(entry.score) != str(other.score):
            differ(
                f"offer {entry.offer_id} score: stored {entry.score}, replay {other.score}",
                entry.score,
                other.score,
            )
        for term in sorted(set(entry.terms) | set(other.terms)):
            before, now = entry.terms.get(term), other.terms.get(term)
            if before != now:
                differ(
                    f"offer {entry.offer_id} {term}: stored {before if before is not None else '(none)'}, "
                    f"replay {now if now is not None else '(none)'}",
                    before,
                    now,
                )
    for entry in replayed.ranked:
        if entry.offer_id in stored_ranked:
            continue
        excluded = stored_excluded.get(entry.offer_id)
        if excluded is not None:
            differ(
                f"offer {entry.offer_id} was excluded ({excluded.reason}), the replay ranks it #{entry.rank}",
                excluded.reason,
                f"#{entry.rank}",
            )
        else:
            differ(
                f"offer {entry.offer_id} is ranked #{entry.rank} by the replay but was not in the decision",
                None,
                entry.rank,
            )
    for entry in stored.excluded:
        other_excluded = replay_excluded.get(entry.offer_id)
        if other_excluded is not None and other_excluded.reason != entry.reason:
            differ(
                f"offer {entry.offer_id} exclusion: stored '{entry.reason}', replay '{other_excluded.reason}'",
                entry.reason,
                other_excluded.reason,
            )
        elif other_excluded is None and entry.offer_id not in replay_ranked:
            differ(
                f"offer {entry.offer_id} was excluded ({entry.reason}), the replay does not have it",
                entry.reason,
                None,
            )
    for entry in replayed.excluded:
        if entry.offer_id not in stored_excluded and entry.offer_id not in stored_ranked:
            differ(
                f"offer {entry.offer_id} is excluded by the replay ({entry.reason}) but was not in the decision",
                None,
                entry.reason,
            )

    # the conclusions
    for label, before, now in (
        ("objective", stored.objective, replayed.objective),
        ("best offer", stored.best, replayed.best),
        ("best deployable offer", stored.best_deployable, replayed.best_deployable),
        ("chosen offer", stored.chosen, replayed.chosen),
        ("chosen by", stored.chosen_by, replayed.chosen_by),
    ):
        if before != now:
            differ(f"{label}: stored {before or '(none)'}, replay {now or '(none)'}", before, now)
    if stored.explanation != replayed.explanation:
        differ("explanation differs", stored.explanation, replayed.explanation)
    if not found and canonical_json(stored) != canonical_json(replayed):
        differ("the stored and replayed outcomes differ (in a field not compared above)")
    return found


def _offer_summary(offer: Offer) -> str:
    return (
        f"usd_total {offer.usd_total}, usd_per_hour {offer.usd_per_hour}, "
        f"observed_at {offer.observed_at.isoformat().replace('+00:00', 'Z')}, ttl_s {offer.ttl_s}"
    )


def _chosen_offer(snapshot: RoutingSnapshot | None, outcome: RoutingOutcome | None) -> Offer | None:
    if snapshot is None or outcome is None or outcome.chosen is None:
        return None
    return next((o for o in snapshot.offers if o.offer_id == outcome.chosen), None)


def _on_chain_findings(
    record: DecisionRecord,
    snapshot: RoutingSnapshot | None,
    outcome: RoutingOutcome | None,
    on_chain: OnChainRecord,
    lease: LeaseFacts | None,
    not_checked: list[str],
) -> list[Finding]:
    found: list[Finding] = []

    def compare_hash(check: str, recorded: str, chain_value: bytes | str) -> None:
        expected = "0x" + recorded.lower()
        if isinstance(chain_value, bytes | bytearray):
            actual = _hex(chain_value)
        else:
            text = str(chain_value).lower()
            actual = text if text.startswith("0x") else "0x" + text
        ok = actual == expected
        found.append(
            Finding(
                check=check,
                ok=ok,
                expected=expected,
                actual=actual,
                detail=f"{_short(actual)} as recorded"
                if ok
                else f"the chain has {actual}, the record says {expected}",
            )
        )

    compare_hash("on-chain decision hash", record.decision_hash, on_chain.decision_hash)
    recorded_request = request_hash(snapshot.request) if snapshot is not None else record.request_sha256
    compare_hash("on-chain request hash", recorded_request, on_chain.request_hash)

    if lease is not None:
        found.append(
            Finding(
                check="on-chain dseq",
                ok=int(on_chain.dseq) == int(lease.dseq),
                expected=str(lease.dseq),
                actual=str(on_chain.dseq),
                detail=f"{on_chain.dseq}"
                if int(on_chain.dseq) == int(lease.dseq)
                else f"the chain has dseq {on_chain.dseq}, the ledger's lease is dseq {lease.dseq}",
            )
        )
    else:
        not_checked.append("on-chain dseq (no ledger lease given)")

    chosen = _chosen_offer(snapshot, outcome)
    if lease is not None:
        provider, source = lease.provider, "the ledger's lease"
    elif chosen is not None and chosen.provider_address:
        provider, source = chosen.provider_address, f"the chosen offer {chosen.offer_id}"
    else:
        provider, source = None, ""
    if provider is not None:
        ok = on_chain.provider == provider
        found.append(
            Finding(
                check="on-chain provider",
                ok=ok,
                expected=provider,
                actual=on_chain.provider,
                detail=on_chain.provider
                if ok
                else f"the chain has {on_chain.provider}, {source} has {provider}",
            )
        )
    else:
        not_checked.append("on-chain provider (no lease given and the chosen offer has no provider address)")

    expected_price: Decimal | None = None
    if lease is not None:
        expected_price, source = _price(lease.price_uact_per_block), "the ledger's lease"
    elif chosen is not None and chosen.inputs.get("denom") == "uact" and "price_per_block" in chosen.inputs:
        expected_price, source = (
            _price(chosen.inputs["price_per_block"]),
            f"the chosen offer {chosen.offer_id}",
        )
    if expected_price is not None:
        chain_price = on_chain.price_uact_per_block
        actual_price = _price(chain_price)
        ok = actual_price is not None and actual_price == expected_price
        found.append(
            Finding(
                check="on-chain price",
                ok=ok,
                expected=str(expected_price),
                actual=str(chain_price),
                detail=f"{chain_price} uact/block"
                if ok
                else f"the chain has {chain_price} uact/block, {source} has {expected_price}",
            )
        )
    else:
        not_checked.append("on-chain price (no lease given and the chosen offer has no uact per-block price)")
    return found


def _signature_finding(
    record: DecisionRecord, snapshot: RoutingSnapshot | None, check: SignatureCheck
) -> Finding:
    recorded_request = request_hash(snapshot.request) if snapshot is not None else record.request_sha256
    try:
        signer = recover_signer(
            check.signature,
            job_id=check.job_id,
            decision_hash=record.decision_hash,
            request_hash=recorded_request,
            policy_version=record.policy_version,
            chain_id=check.chain_id,
            verifying_contract=check.verifying_contract,
        )
    except ValueError as exc:
        return Finding(
            check="signature",
            ok=False,
            expected=check.expected_signer,
            detail=f"the signature does not recover: {exc}",
        )
    ok = signer.lower() == check.expected_signer.lower()
    return Finding(
        check="signature",
        ok=ok,
        expected=check.expected_signer,
        actual=signer,
        detail=f"signed by the router key {signer}"
        if ok
        else f"signed by {signer}, not by the router key {check.expected_signer} "
        "(another key, or a different decision, request, policy version, job id or domain)",
    )


__all__ = [
    "Finding",
    "LeaseFacts",
    "OnChainFacts",
    "OnChainRecord",
    "SignatureCheck",
    "VerifyReport",
    "outcome_differences",
    "verify",
]
