"""Routing decisions: record, replay and verify; tampered snapshots, decisions and on-chain records are caught."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tools.pricing.offer import Offer, exact_inputs
from tools.pricing.quote import Quote, gather_quote
from tools.pricing.rank import POLICY_VERSION, OfferFilters
from tools.pricing.sources import SourceError
from tools.pricing.tokens import TokenPrice
from tools.request import ComputeRequest
from tools.routing import (
    DecisionRecord,
    LeaseFacts,
    NotCanonical,
    OnChainFacts,
    OnChainRecord,
    RoutingError,
    RoutingSnapshot,
    SignatureCheck,
    canonical_json,
    record_decision,
    replay,
    request_hash,
    sha256_hex,
    verify,
)
from tools.routing.canonical import canonical_data
from tools.routing.eip712 import sign_decision

D = Decimal
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REQUEST = ComputeRequest(gpu_model="a100", gpu_count=1, hours=10, region="na", max_usd_per_hour=D("3.50"))
FILTERS = OfferFilters(max_usd_total=D("30"), min_uptime=0.9)
ROUTER_KEY = "0x" + "4c" * 32
CHAIN_ID = 99999


def make_offer(offer_id: str, usd_per_hour: str, **fields) -> Offer:
    source = fields.pop("source", offer_id.split(":")[0])
    per_hour = D(usd_per_hour)
    total = per_hour * 10
    base = dict(
        provider=offer_id.split(":")[-1],
        source=source,
        offer_id=offer_id,
        pricing_model="fixed",
        region="us-east",
        gpu_model="a100",
        gpu_count=1,
        gpu_memory_gib=80.0,
        cpu=8,
        memory_gib=64,
        storage_gib=None,
        usd_per_hour=per_hour,
        usd_total=total,
        observed_at=NOW - timedelta(minutes=3),
        ttl_s=600,
        inputs=exact_inputs(usd_per_hour=per_hour, usd_total=total, hours=10),
    )
    base.update(fields)
    return Offer(**base)


def akash_bid(owner: str, usd_per_hour: str, price_per_block: str, **fields) -> Offer:
    per_hour = D(usd_per_hour)
    return make_offer(
        f"akash:{owner}",
        usd_per_hour,
        pricing_model="auction",
        provider_address=owner,
        deployable=True,
        capacity_available=True,
        ttl_s=300,
        observed_at=NOW - timedelta(seconds=40),
        inputs=exact_inputs(
            price_per_block=D(price_per_block),
            denom="uact",
            block_time_s=D("6.117"),
            usd_per_hour=per_hour,
            usd_total=per_hour * 10,
            hours=10,
        ),
        **fields,
    )


AKASH_OFFERS = [
    akash_bid("akash1alpha", "1.10", "1872.4", uptime=0.995, audited=True),
    akash_bid("akash1beta", "1.05", "1786.3", uptime=0.97, audited=False),
    akash_bid("akash1gamma", "0.90", "1531.1", uptime=0.99, audited=True),  # blocked below
    akash_bid("akash1delta", "3.20", "5443.8", uptime=0.99, audited=True),  # over the 30 USD total filter
]
CLOUD_OFFERS = [
    make_offer("lambda:gpu_1x_a100:us-east-1", "1.29", uptime=0.999, audited=True, capacity_available=True),
    make_offer(
        "lambda:gpu_1x_a100:us-west-1", "1.29", uptime=0.999, capacity_available=False, region="us-west"
    ),
]
SKYPILOT_OFFERS = [
    make_offer(
        "skypilot:runpod:A100-80GB:spot",
        "0.89",
        source="skypilot:runpod",
        pricing_model="spot",
        estimate=True,
        observed_at=NOW - timedelta(hours=5),
        ttl_s=6 * 3600,
    ),
]
IONET_OFFERS = [
    make_offer(
        "ionet:a100:us",
        "1.0123456789",
        pricing_model="token",
        region="us-central",
        uptime=0.93,
        notes=["IO $0.41 (coingecko, stale)", "préstamo ✓"],
        inputs=exact_inputs(io_usd=D("0.41"), usd_per_hour=D("1.0123456789")),
    ),
]


class StaticSource:
    """A real PriceSource that answers from a list."""

    def __init__(self, name: str, offers: list[Offer]) -> None:
        self.name = name
        self._offers = offers

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        return list(self._offers)


class DownSource:
    name = "aws"

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        raise SourceError("aws", "HTTP 503: service unavailable")


def sources() -> list:
    return [
        StaticSource("akash", AKASH_OFFERS),
        StaticSource("lambda", CLOUD_OFFERS),
        StaticSource("skypilot", SKYPILOT_OFFERS),
        StaticSource("ionet", IONET_OFFERS),
        DownSource(),
    ]


TOKEN_PRICES = [
    TokenPrice("AKT", D("1.23"), NOW - timedelta(seconds=20), 60, "akash-oracle", D("0.041")),
    TokenPrice("IO", D("0.41"), NOW - timedelta(minutes=5), 60, "coingecko", stale=True),
]
BLOCKED = {"akash:akash1gamma": "blocked after a failed launch"}


def quote_of(source_list: list | None = None, *, request: ComputeRequest = REQUEST) -> Quote:
    return asyncio.run(
        gather_quote(request, source_list or sources(), now=NOW, blocked=dict(BLOCKED), filters=FILTERS)
    )


@pytest.fixture(scope="module")
def quote() -> Quote:
    return quote_of()


@pytest.fixture(scope="module")
def record(quote: Quote) -> DecisionRecord:
    return record_decision(quote, token_prices=TOKEN_PRICES, block_time_s=D("6.117"))


def lease_of(record: DecisionRecord) -> LeaseFacts:
    chosen = json.loads(record.outcome_json)["chosen"]
    offer = next(o for o in (*AKASH_OFFERS,) if o.offer_id == chosen)
    return LeaseFacts(
        dseq=4242, provider=offer.provider_address or "", price_uact_per_block=offer.inputs["price_per_block"]
    )


def on_chain_of(record: DecisionRecord, **changes) -> OnChainFacts:
    lease = lease_of(record)
    fields = dict(
        decision_hash=bytes.fromhex(record.decision_hash),
        request_hash=bytes.fromhex(record.request_sha256),
        dseq=lease.dseq,
        provider=lease.provider,
        price_uact_per_block=D(str(lease.price_uact_per_block)),
    )
    fields.update(changes)
    return OnChainFacts(**fields)


def edit_snapshot(record: DecisionRecord, edit) -> DecisionRecord:
    data = json.loads(record.snapshot_json)
    edit(data)
    return record.model_copy(update={"snapshot_json": canonical_json(data).decode()})


def edit_outcome(record: DecisionRecord, edit) -> DecisionRecord:
    data = json.loads(record.outcome_json)
    edit(data)
    return record.model_copy(update={"outcome_json": canonical_json(data).decode()})


def failed(report, check: str) -> list[str]:
    return [f.detail for f in report.findings if f.check == check and not f.ok]


# --- recording -----------------------------------------------------------------------------------------


def test_quote_exercises_every_path(quote: Quote) -> None:
    ranked = {r.offer.offer_id for r in quote.offers}
    excluded = dict(quote.ranking.excluded)
    assert "akash:akash1gamma" in excluded and excluded["akash:akash1gamma"].startswith("blocked:")
    assert "total cap" in excluded["akash:akash1delta"]
    assert "sold out" in excluded["lambda:gpu_1x_a100:us-west-1"]
    assert {"akash:akash1alpha", "lambda:gpu_1x_a100:us-east-1", "skypilot:runpod:A100-80GB:spot"} <= ranked
    assert [s.source for s in quote.skipped] == ["aws"]


def test_record_hashes_and_preimages(record: DecisionRecord) -> None:
    assert record.snapshot_sha256 == hashlib.sha256(record.snapshot_json.encode()).hexdigest()
    assert record.outcome_sha256 == hashlib.sha256(record.outcome_json.encode()).hexdigest()
    preimage = bytes.fromhex(record.snapshot_sha256) + bytes.fromhex(record.outcome_sha256)
    assert len(preimage) == 64
    assert record.decision_hash == hashlib.sha256(preimage).hexdigest()
    assert (
        record.request_sha256 == hashlib.sha256(canonical_json(REQUEST)).hexdigest() == request_hash(REQUEST)
    )
    assert record.policy_version == POLICY_VERSION
    # both documents are canonical: re-canonicalizing the parsed JSON gives the same bytes
    assert canonical_json(json.loads(record.snapshot_json)).decode() == record.snapshot_json
    assert canonical_json(json.loads(record.outcome_json)).decode() == record.outcome_json


def test_snapshot_holds_every_input(record: DecisionRecord) -> None:
    snapshot = json.loads(record.snapshot_json)
    assert snapshot["policy_version"] == POLICY_VERSION
    assert snapshot["now"] == "2026-03-01T12:00:00Z"
    assert snapshot["objective"] == "balanced"
    assert snapshot["request"]["max_usd_per_hour"] == "3.50"  # money as the exact string
    assert snapshot["filters"]["max_usd_total"] == "30" and snapshot["filters"]["min_uptime"] == 0.9
    assert snapshot["blocked"] == BLOCKED
    assert snapshot["skipped"] == [{"source": "aws", "reason": "HTTP 503: service unavailable"}]
    assert snapshot["block_time_s"] == "6.117"
    assert snapshot["token_prices"]["AKT"] == {
        "usd": "1.23",
        "source": "akash-oracle",
        "observed_at": "2026-03-01T11:59:40Z",
        "ttl_s": 60,
        "stale": False,
        "sigma_daily": "0.041",
    }
    assert snapshot["token_prices"]["IO"]["stale"] is True
    ids = [o["offer_id"] for o in snapshot["offers"]]
    assert ids == sorted(ids) and len(ids) == 8  # every candidate, the excluded ones too
    ionet = next(o for o in snapshot["offers"] if o["source"] == "ionet")
    assert ionet["usd_per_hour"] == "1.0123456789" and ionet["usd_total"] == "10.1234567890"
    assert ionet["observed_at"] == "2026-03-01T11:57:00Z" and ionet["ttl_s"] == 600
    assert ionet["inputs"]["io_usd"] == "0.41" and "préstamo ✓" in ionet["notes"]
    assert "préstamo ✓".encode() in record.snapshot_json.encode()  # UTF-8, not \\u escapes


def test_outcome_holds_the_decision(record: DecisionRecord, quote: Quote) -> None:
    outcome = json.loads(record.outcome_json)
    assert [r["offer_id"] for r in outcome["ranked"]] == [r.offer.offer_id for r in quote.offers]
    assert outcome["ranked"][0]["score"] == str(quote.offers[0].score)
    assert outcome["ranked"][0]["terms"] == quote.offers[0].terms
    assert {e["offer_id"] for e in outcome["excluded"]} == {e.offer_id for e in quote.ranking.excluded}
    assert outcome["chosen"] == quote.ranking.best_deployable.offer.offer_id
    assert outcome["chosen_by"] == "policy"
    assert outcome["explanation"] == quote.ranking.explain()
    assert len(outcome["offer_digests"]) == 8 and "offers" not in outcome["snapshot_digests"]


def test_record_does_not_depend_on_source_order(record: DecisionRecord) -> None:
    again = record_decision(
        quote_of(list(reversed(sources()))), token_prices=list(reversed(TOKEN_PRICES)), block_time_s="6.117"
    )
    assert again == record


def test_replay_is_the_stored_outcome(record: DecisionRecord) -> None:
    assert canonical_json(replay(record.snapshot())).decode() == record.outcome_json


def test_user_pick_and_failover_records_verify(quote: Quote) -> None:
    runner_up = quote.offers[1].offer.offer_id
    picked = record_decision(quote, chosen_offer_id=runner_up)
    assert json.loads(picked.outcome_json)["chosen_by"] == "user"
    assert json.loads(picked.outcome_json)["chosen"] == runner_up
    assert verify(picked).ok
    best = quote.ranking.best_deployable.offer.offer_id
    failover = record_decision(quote.block(best, "provider sent no bid"))
    assert json.loads(failover.snapshot_json)["blocked"][best] == "provider sent no bid"
    assert json.loads(failover.outcome_json)["chosen"] != best
    assert verify(failover).ok


def test_choosing_an_unranked_offer_is_refused(quote: Quote) -> None:
    with pytest.raises(RoutingError, match="not among the ranked offers"):
        record_decision(quote, chosen_offer_id="akash:akash1gamma")


def test_a_quote_without_its_candidates_is_refused(quote: Quote) -> None:
    rebuilt = Quote.model_validate(quote.model_dump())  # the private candidate list does not survive
    with pytest.raises(RoutingError, match="candidate offers"):
        record_decision(rebuilt)


# --- verify: untouched ----------------------------------------------------------------------------------


def test_untouched_record_verifies(record: DecisionRecord) -> None:
    report = verify(
        record,
        on_chain=on_chain_of(record),
        tracked=True,
        lease=lease_of(record),
        signature=SignatureCheck(
            signature=sign_decision(
                ROUTER_KEY,
                job_id="job-1",
                decision_hash=record.decision_hash,
                request_hash=record.request_sha256,
                policy_version=record.policy_version,
                chain_id=CHAIN_ID,
            ),
            expected_signer=_address(ROUTER_KEY),
            job_id="job-1",
            chain_id=CHAIN_ID,
        ),
    )
    assert report.ok, report.render()
    checks = {f.check for f in report.findings}
    assert {
        "snapshot hash",
        "outcome hash",
        "decision hash",
        "request hash",
        "policy version",
        "replay",
        "on-chain decision hash",
        "on-chain request hash",
        "on-chain dseq",
        "on-chain provider",
        "on-chain price",
        "signature",
    } <= checks
    assert report.not_checked == []
    assert report.render().startswith(f"Routing decision {record.decision_hash[:12]}...: verified")


def _address(key: str) -> str:
    from eth_account import Account

    return Account.from_key(key).address


# --- verify: a tampered snapshot -----------------------------------------------------------------------


def test_tampered_usd_total_is_named(record: DecisionRecord) -> None:
    target = "lambda:gpu_1x_a100:us-east-1"

    def cheaper(data):
        offer = next(o for o in data["offers"] if o["offer_id"] == target)
        offer["usd_total"] = "1.29"

    report = verify(edit_snapshot(record, cheaper))
    assert not report.ok
    assert failed(report, "snapshot hash")[0].endswith(
        "the snapshot was changed after the decision (the replay findings below say what)"
    )
    replay_lines = failed(report, "replay")
    assert any(
        line.startswith(f"offer {target} in the snapshot is not the one decided on") for line in replay_lines
    )
    assert any("usd_total 1.29" in line for line in replay_lines)
    assert f"offer {target} usd_total: stored 12.90, replay 1.29" in replay_lines
    assert f"ranking differs at #1: stored ionet:a100:us, replay {target}" in replay_lines
    assert f"best offer: stored ionet:a100:us, replay {target}" in replay_lines
    # decision hash is over the record's own digests, which were not touched
    assert not failed(report, "decision hash")
    text = report.render()
    assert (
        "FAIL snapshot hash" in text
        and f"FAIL replay: offer {target} usd_total: stored 12.90, replay 1.29" in text
    )


def test_tampered_observed_at_is_named(record: DecisionRecord) -> None:
    target = "akash:akash1beta"

    def fresher(data):
        offer = next(o for o in data["offers"] if o["offer_id"] == target)
        offer["observed_at"] = "2026-03-01T11:59:59Z"

    report = verify(edit_snapshot(record, fresher))
    replay_lines = failed(report, "replay")
    assert failed(report, "snapshot hash")
    named = [line for line in replay_lines if line.startswith(f"offer {target} in the snapshot")]
    assert named and "observed_at 2026-03-01T11:59:59Z" in named[0]
    # balanced scoring has a staleness term: the replay shows it moved
    assert (
        f"offer {target} staleness: stored 0.1333333333333333333333333333, replay 0.003333333333333333333333333333"
        in (replay_lines)
    )


def test_tampered_snapshot_with_consistent_hashes_is_still_caught(record: DecisionRecord) -> None:
    """Whoever re-hashes a doctored snapshot still fails the replay and the chain."""

    def drop_block(data):
        data["blocked"] = {}

    doctored = edit_snapshot(record, drop_block)
    snapshot_sha = sha256_hex(doctored.snapshot_json.encode())
    doctored = doctored.model_copy(
        update={
            "snapshot_sha256": snapshot_sha,
            "decision_hash": hashlib.sha256(
                bytes.fromhex(snapshot_sha) + bytes.fromhex(record.outcome_sha256)
            ).hexdigest(),
        }
    )
    report = verify(doctored, on_chain=on_chain_of(record), lease=lease_of(record))
    assert not failed(report, "snapshot hash") and not failed(report, "decision hash")
    replay_lines = failed(report, "replay")
    assert any(
        line.startswith("snapshot field 'blocked' is not the one the decision was made on")
        for line in replay_lines
    )
    assert any(
        "offer akash:akash1gamma was excluded (blocked: blocked after a failed launch)" in line
        for line in replay_lines
    )
    assert failed(report, "on-chain decision hash") == [
        f"the chain has 0x{record.decision_hash}, the record says 0x{doctored.decision_hash}"
    ]


def test_unparseable_snapshot_is_a_finding(record: DecisionRecord) -> None:
    broken = record.model_copy(
        update={"snapshot_json": record.snapshot_json.replace('"offers":', '"offerz":')}
    )
    report = verify(broken)
    assert not report.ok
    assert failed(report, "snapshot")[0].startswith("the stored snapshot does not parse:")
    assert "replay (the snapshot or the outcome does not parse)" in report.not_checked


def test_non_canonical_snapshot_is_a_finding(record: DecisionRecord) -> None:
    pretty = json.dumps(json.loads(record.snapshot_json), indent=1, ensure_ascii=False)
    report = verify(record.model_copy(update={"snapshot_json": pretty}))
    assert "the stored snapshot is not in canonical form (it was re-serialized or edited by hand)" in failed(
        report, "snapshot"
    )
    assert not failed(report, "replay")  # same content: the replay agrees


# --- verify: a tampered decision -----------------------------------------------------------------------


def test_swapped_choice_is_caught(record: DecisionRecord, quote: Quote) -> None:
    original = json.loads(record.outcome_json)["chosen"]
    other = "akash:akash1beta" if original != "akash:akash1beta" else "akash:akash1alpha"

    def swap(data):
        data["chosen"] = other

    report = verify(edit_outcome(record, swap))
    assert failed(report, "outcome hash")[0].endswith("the outcome was changed after the decision")
    assert f"chosen offer: stored {other}, replay {original}" in failed(report, "replay")


def test_reordered_ranking_is_caught(record: DecisionRecord) -> None:
    outcome = json.loads(record.outcome_json)
    first, second = outcome["ranked"][0]["offer_id"], outcome["ranked"][1]["offer_id"]

    def reorder(data):
        data["ranked"][0], data["ranked"][1] = data["ranked"][1], data["ranked"][0]
        data["ranked"][0]["rank"], data["ranked"][1]["rank"] = 1, 2

    report = verify(edit_outcome(record, reorder))
    assert failed(report, "outcome hash")
    assert f"ranking differs at #1: stored {second}, replay {first}" in failed(report, "replay")


def test_rehashed_decision_fails_the_decision_hash(record: DecisionRecord) -> None:
    def swap(data):
        data["explanation"] = "Trust me."

    doctored = edit_outcome(record, swap)
    doctored = doctored.model_copy(update={"outcome_sha256": sha256_hex(doctored.outcome_json.encode())})
    report = verify(doctored)
    assert not failed(report, "outcome hash")
    assert failed(report, "decision hash")[0].startswith(f"the record says {record.decision_hash[:12]}...")
    assert "explanation differs" in failed(report, "replay")


# --- verify: the on-chain record -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "check", "detail"),
    [
        ({"decision_hash": b"\x11" * 32}, "on-chain decision hash", "the chain has 0x" + "11" * 32),
        ({"request_hash": b"\x22" * 32}, "on-chain request hash", "the chain has 0x" + "22" * 32),
        ({"dseq": 4243}, "on-chain dseq", "the chain has dseq 4243, the ledger's lease is dseq 4242"),
        (
            {"provider": "akash1mallory"},
            "on-chain provider",
            "the chain has akash1mallory, the ledger's lease has ",
        ),
        (
            {"price_uact_per_block": D("9999")},
            "on-chain price",
            "the chain has 9999 uact/block, the ledger's lease has ",
        ),
    ],
)
def test_tampered_on_chain_record_is_named(record: DecisionRecord, change, check, detail) -> None:
    report = verify(record, on_chain=on_chain_of(record, **change), lease=lease_of(record))
    assert not report.ok
    assert [f.check for f in report.failures] == [check]
    assert report.failures[0].detail.startswith(detail)
    assert f"FAIL {check}: {detail}" in report.render()


def test_on_chain_record_is_a_protocol(record: DecisionRecord) -> None:
    assert isinstance(on_chain_of(record), OnChainRecord)


def test_on_chain_without_a_lease_checks_the_chosen_offer(record: DecisionRecord) -> None:
    chosen = next(o for o in AKASH_OFFERS if o.offer_id == json.loads(record.outcome_json)["chosen"])
    report = verify(record, on_chain=on_chain_of(record))
    assert report.ok, report.render()
    assert "on-chain dseq (no ledger lease given)" in report.not_checked
    moved = verify(record, on_chain=on_chain_of(record, provider="akash1other", price_uact_per_block=D("1")))
    assert failed(moved, "on-chain provider") == [
        f"the chain has akash1other, the chosen offer {chosen.offer_id} has {chosen.provider_address}"
    ]
    assert failed(moved, "on-chain price") == [
        f"the chain has 1 uact/block, the chosen offer {chosen.offer_id} has {chosen.inputs['price_per_block']}"
    ]


def test_tracked_job_without_on_chain_record_fails(record: DecisionRecord) -> None:
    report = verify(record, tracked=True)
    assert failed(report, "on-chain record") == ["the job is tracked but has no on-chain record"]
    assert verify(record).ok  # untracked: nothing to compare with
    assert "on-chain record (untracked job)" in verify(record).not_checked


def test_on_chain_hashes_may_be_hex_text(record: DecisionRecord) -> None:
    """tools.router's OnChainJob gives hashes as 0x hex; upper case or no prefix compares the same."""
    as_text = on_chain_of(
        record, decision_hash="0x" + record.decision_hash.upper(), request_hash=record.request_sha256
    )
    assert verify(record, on_chain=as_text, lease=lease_of(record)).ok
    wrong = on_chain_of(record, decision_hash="0x" + "ab" * 32)
    assert failed(verify(record, on_chain=wrong), "on-chain decision hash") == [
        f"the chain has 0x{'ab' * 32}, the record says 0x{record.decision_hash}"
    ]


# --- verify: the policy version ------------------------------------------------------------------------


def test_policy_version_mismatch_is_reported(record: DecisionRecord) -> None:
    report = verify(record, current_policy_version="rank-999")
    assert not report.ok
    assert failed(report, "policy version") == [
        f"the decision was made under {POLICY_VERSION}, this code ranks under rank-999: the replay uses "
        "rank-999, so its differences below may come from the policy change rather than from tampering"
    ]
    assert [f for f in report.findings if f.check == "replay" and f.ok]  # still replayed
    assert f"recorded under {POLICY_VERSION}; this code is rank-999" in report.render()


def test_old_policy_record_shows_the_replay_diff(quote: Quote) -> None:
    old = record_decision(quote, policy_version="rank-0")
    assert json.loads(old.snapshot_json)["policy_version"] == "rank-0"
    report = verify(old)
    assert (
        f"the decision was made under rank-0, this code ranks under {POLICY_VERSION}"
        in failed(report, "policy version")[0]
    )
    # A decision whose stored ranking the current policy would not produce: both the version and the diff show.
    doctored = edit_outcome(old, lambda data: data["ranked"][0]["terms"].update(usd_total="0"))
    report = verify(doctored)
    assert failed(report, "policy version") and failed(report, "outcome hash")
    assert any(" usd_total: stored 0, replay " in line for line in failed(report, "replay"))


def test_record_and_snapshot_policy_versions_must_agree(record: DecisionRecord) -> None:
    report = verify(record.model_copy(update={"policy_version": "rank-7"}))
    assert f"the record says rank-7, its snapshot says {POLICY_VERSION}" in failed(report, "policy version")


# --- the router's signature ----------------------------------------------------------------------------


def test_signature_by_another_key_is_caught(record: DecisionRecord) -> None:
    mallory = "0x" + "5d" * 32
    signature = sign_decision(
        mallory,
        job_id="job-1",
        decision_hash=record.decision_hash,
        request_hash=record.request_sha256,
        policy_version=record.policy_version,
        chain_id=CHAIN_ID,
    )
    check = SignatureCheck(
        signature=signature, expected_signer=_address(ROUTER_KEY), job_id="job-1", chain_id=CHAIN_ID
    )
    report = verify(record, signature=check)
    assert failed(report, "signature")[0].startswith(f"signed by {_address(mallory)}, not by the router key")
    garbage = SignatureCheck(
        signature="0x1234", expected_signer=_address(ROUTER_KEY), job_id="job-1", chain_id=1
    )
    assert failed(verify(record, signature=garbage), "signature")[0].startswith(
        "the signature does not recover:"
    )


def test_signature_over_the_untampered_decision_fails_a_doctored_one(record: DecisionRecord) -> None:
    signature = sign_decision(
        ROUTER_KEY,
        job_id="job-1",
        decision_hash=record.decision_hash,
        request_hash=record.request_sha256,
        policy_version=record.policy_version,
        chain_id=CHAIN_ID,
    )
    doctored = record.model_copy(update={"decision_hash": "ab" * 32})
    check = SignatureCheck(
        signature=signature, expected_signer=_address(ROUTER_KEY), job_id="job-1", chain_id=CHAIN_ID
    )
    report = verify(doctored, signature=check)
    assert failed(report, "signature") and failed(report, "decision hash")


# --- snapshot model round trip -------------------------------------------------------------------------


def test_snapshot_round_trips_exactly(record: DecisionRecord) -> None:
    snapshot = RoutingSnapshot.from_json(record.snapshot_json)
    assert canonical_json(snapshot).decode() == record.snapshot_json
    ionet = next(o for o in snapshot.offers if o.source == "ionet")
    assert ionet.usd_total == D("10.1234567890") and str(ionet.usd_total) == "10.1234567890"
    assert canonical_data(snapshot.request)["max_usd_per_hour"] == "3.50"


def test_request_hash_is_exact_and_order_independent() -> None:
    a = ComputeRequest.model_validate({"gpu_model": "a100", "hours": 10, "max_usd_per_hour": "3.50"})
    b = ComputeRequest.model_validate({"max_usd_per_hour": "3.50", "hours": 10.0, "gpu_model": "A100"})
    assert request_hash(a) == request_hash(b)
    assert request_hash(a) != request_hash(a.model_copy(update={"max_usd_per_hour": D("3.51")}))


# --- canonical JSON ------------------------------------------------------------------------------------


def test_canonical_json_rfc8785_vector() -> None:
    """RFC 8785 §3.2.2's example: numbers in ECMAScript form, minimal string escapes, sorted keys."""
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        r' "string": "\u20ac$\u000F\u000aA'
        "'"
        r'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    ).encode()
    assert canonical_json(json.loads(source)) == expected


def test_canonical_json_sorts_keys_by_utf16() -> None:
    """RFC 8785 §3.2.3's sorting example: UTF-16 code units, so the emoji sorts before U+FB33."""
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    data = json.loads(canonical_json({key: key for key in keys}))
    assert list(data) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_canonical_json_ignores_key_order() -> None:
    a = {"b": 1, "a": {"y": [1, 2], "x": None}, "c": "z"}
    b = {"c": "z", "a": {"x": None, "y": [1, 2]}, "b": 1}
    assert canonical_json(a) == canonical_json(b) == b'{"a":{"x":null,"y":[1,2]},"b":1,"c":"z"}'


def test_canonical_json_keeps_decimals_exact() -> None:
    assert canonical_json({"usd": D("0.10")}) == b'{"usd":"0.10"}'
    assert canonical_json({"usd": D("0.1")}) == b'{"usd":"0.1"}'  # the figure as given, not a float
    assert canonical_json([D("1E+2"), D("123456789012345678901234567890.123456789")]) == (
        b'["1E+2","123456789012345678901234567890.123456789"]'
    )
    assert canonical_json([0.1 + 0.2, 8.0, 1e21]) == b"[0.30000000000000004,8,1e+21]"
    for bad in (D("NaN"), D("Infinity"), float("nan"), float("inf")):
        with pytest.raises(NotCanonical):
            canonical_json({"x": bad})


def test_canonical_json_unicode_and_datetimes() -> None:
    assert canonical_json({"name": "Zürich ☁ \u2028 \x07"}) == '{"name":"Zürich ☁ \u2028 \\u0007"}'.encode()
    assert canonical_json(datetime(2026, 3, 1, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=1)))) == (
        b'"2026-03-01T12:00:00.000005Z"'
    )
    with pytest.raises(NotCanonical, match="naive datetime"):
        canonical_json(datetime(2026, 3, 1))
    with pytest.raises(NotCanonical):
        canonical_json({1: "non-string key"})
    with pytest.raises(NotCanonical):
        canonical_json(2**60)
    with pytest.raises(NotCanonical):
        canonical_json(object())
