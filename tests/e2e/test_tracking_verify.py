"""Tracked vs untracked jobs end to end, and `verify_job` catching every kind of tampering.

Real parts only: the devnet over HTTP (Akash txs, bids, leases), its local EVM at ``<rest_url>/evm/`` with the
ComputeRouter contract deployed by Necto's router account, the SQLite ledger. Tampering is done the way an
attacker with write access to the ledger database would: straight through SQL (``ledger.session()``),
bypassing the ledger API, which refuses to change a decided record.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlmodel import select
from web3 import Web3

from tools.deploy.plan import canonical_json as plan_canonical_json
from tools.deploy.plan import plan_hash, unb64
from tools.errors import NectoError, RouterError
from tools.ledger.models import AuditEntry, Job, Plan, RoutingDecision
from tools.router import ComputeRouterClient, RouterStatus
from tools.routing.canonical import canonical_json
from tools.routing.decision import DecisionRecord, RoutingSnapshot, decision_hash, record_of, replay
from tools.routing.verify import verify

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

OWNER = "tess"


# --- helpers ---------------------------------------------------------------------------------------------


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def failures(result: dict[str, Any], check: str | None = None) -> list[str]:
    """The details of the failing findings (of one check, or all as 'check: detail')."""
    return [
        f["detail"] if check else f"{f['check']}: {f['detail']}"
        for f in result["findings"]
        if not f["ok"] and (check is None or f["check"] == check)
    ]


def failed_checks(result: dict[str, Any]) -> set[str]:
    return {f["check"] for f in result["findings"] if not f["ok"]}


def ok_checks(result: dict[str, Any]) -> set[str]:
    return {f["check"] for f in result["findings"] if f["ok"]}


async def deploy(service, *, tracked: bool | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Plan and run a static site; returns (plan, execution result)."""
    args: dict[str, Any] = {"workload": "static"}
    if tracked is not None:
        args["tracked"] = tracked
    plan = await service.create_deploy_plan(args, port=None, offer_id=None, owner=OWNER)
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)
    assert result["status"] == "ok" and result["state"] == "running", result
    return plan, result


async def close(service, job_id: str) -> dict[str, Any]:
    plan = await service.create_close_plan(job_id, owner=OWNER)
    closed = await service.execute_close_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=OWNER)
    assert closed["state"] == "closed"
    return closed


def evm(devnet) -> Web3:
    return Web3(Web3.HTTPProvider(f"{devnet.rest_url}/evm/"))


def stranger_client(service, devnet) -> ComputeRouterClient:
    """Someone else's account, funded by the devnet EVM faucet, talking to Necto's ComputeRouter."""
    stranger = Account.create()
    answer = httpx.post(f"{devnet.rest_url}/evm/necto-devnet/evm-faucet", json={"address": stranger.address}, timeout=10)
    assert answer.status_code == 200, answer.text
    return ComputeRouterClient.from_address(
        evm(devnet), service.tracker.client().address, stranger, expected_chain_id=service.tracker.chain_id, poll_s=0.05
    )


@contextmanager
def edited(service, model: type, key: Any, **changes: Any):
    """Change a ledger row behind the ledger's back (raw SQL session), and put it back afterwards."""
    with service.ledger.session() as s:
        row = s.get(model, key)
        original = {name: getattr(row, name) for name in changes}
        for name, value in changes.items():
            setattr(row, name, value)
        s.add(row)
        s.commit()
    try:
        yield
    finally:
        with service.ledger.session() as s:
            row = s.get(model, key)
            for name, value in original.items():
                setattr(row, name, value)
            s.add(row)
            s.commit()


def set_row(service, model: type, key: Any, **changes: Any) -> None:
    with service.ledger.session() as s:
        row = s.get(model, key)
        for name, value in changes.items():
            setattr(row, name, value)
        s.add(row)
        s.commit()


def edit_json(text: str, change) -> str:
    """Edit a canonical JSON document and serialize it canonically again (so only the content differs)."""
    data = json.loads(text)
    change(data)
    return canonical_json(data).decode("utf-8")


# --- 1. untracked ----------------------------------------------------------------------------------------


async def test_an_untracked_job_lives_in_the_ledger_only_and_verifies_without_the_chain(service, devnet):
    assert service.settings.tracking == "untracked"  # the default
    assert service.tracker is not None  # the sandbox has an EVM: untracked is a choice, not a lack
    plan, result = await deploy(service, tracked=None)
    assert plan["summary"]["tracking"].startswith("untracked")
    job = service.ledger.job(result["job_id"])
    assert job.tracked is False

    # The routing decision behind the plan is stored and linked to both the plan and the job.
    assert job.routing_decision_id
    row = service.ledger.routing_decision(job.routing_decision_id)
    assert row.job_id == job.id and row.plan_id == plan["plan_id"]
    assert row.snapshot_sha256 == sha256_hex(row.snapshot_json)
    assert row.decision_sha256 == sha256_hex(row.decision_json)
    assert plan["summary"]["routing_decision_hash"] == decision_hash(row.snapshot_sha256, row.decision_sha256)
    assert row.router_signature == ""  # only a tracked job's record is signed by the router key

    # Nothing went to the EVM: no evm transaction in the ledger, the router account never sent one, and (once
    # the contract exists) it has no record of the job.
    assert not any(tx.chain == "evm" for tx in service.ledger.transactions(job_id=job.id))
    assert not any(tx.chain == "evm" for tx in service.ledger.transactions(owner=OWNER))
    assert evm(devnet).eth.get_transaction_count(service.tracker.address) == 0
    assert not any("(evm)" in entry.action for entry in service.ledger.audit_entries(OWNER))

    recorded = await service.record_job_async(job.id, note="kept in the ledger", owner=OWNER)
    assert recorded["mode"] == "untracked"
    assert "evm_transactions" not in recorded and "on_chain" not in recorded
    assert evm(devnet).eth.get_transaction_count(service.tracker.address) == 0
    assert service.tracker.get(job.id) is None  # (connecting deploys the sandbox contract, empty of this job)

    verified = await service.verify_job(job.id, owner=OWNER)
    assert verified["verified"] is True, verified["report"]
    assert verified["tracked"] is False and verified["decision_id"] == row.id
    assert {"snapshot hash", "outcome hash", "decision hash", "replay", "plan hash", "approved plan"} <= ok_checks(verified)
    assert not any(f["check"].startswith("on-chain") or f["check"] == "signature" for f in verified["findings"])
    assert "on-chain record (untracked job)" in verified["not_checked"]
    assert "router signature (none given)" in verified["not_checked"]
    assert verified["report"].splitlines()[0].endswith(")") and ": verified" in verified["report"].splitlines()[0]


# --- 2. tracked ------------------------------------------------------------------------------------------


async def test_a_tracked_job_is_recorded_on_chain_moves_with_the_job_and_verifies(service, devnet):
    plan, result = await deploy(service, tracked=True)
    card = plan["summary"]
    assert card["tracking"].startswith("tracked: recorded in the ComputeRouter")
    approved_hash = card["routing_decision_hash"]
    assert len(approved_hash) == 64
    body = json.loads(service.ledger.get_plan(plan["plan_id"], owner=OWNER).body_json)
    assert body["tracked"] is True and body["routing_decision"]["decision_hash"] == approved_hash

    job = service.ledger.job(result["job_id"])
    assert job.tracked is True and job.state == "running"
    router = service.tracker.address
    client = service.tracker.client()

    on_chain = service.tracker.get(job.id)
    assert on_chain is not None
    assert on_chain.status == RouterStatus.RUNNING
    assert on_chain.submitter == router
    assert on_chain.decision_hash == "0x" + approved_hash
    assert on_chain.request_hash == "0x" + body["routing_decision"]["request_sha256"]
    assert on_chain.dseq == job.dseq == card["dseq"]
    assert on_chain.provider == job.provider == result["provider_address"]
    assert on_chain.price_uact_per_block == Decimal(job.price_uact_per_block)
    assert on_chain.buyer == client.buyer_id(OWNER)  # a pseudonym, not the owner id in clear

    # Every EVM transaction the router account sent is in the ledger and the audit log.
    evm_txs = [tx for tx in service.ledger.transactions(job_id=job.id) if tx.chain == "evm"]
    assert [tx.kind for tx in evm_txs] == ["record job (evm)", "job status -> running (evm)"]
    assert all(tx.status == "included" and tx.chain_id == str(service.tracker.chain_id) and tx.height for tx in evm_txs)
    audited = {entry.tx_hash: entry.action for entry in service.ledger.audit_entries(OWNER)}
    assert all(audited.get(tx.tx_hash) == tx.kind for tx in evm_txs)
    row = service.ledger.routing_decision(job.routing_decision_id)
    assert row.router_signature.startswith("0x")

    # Nobody else can change Necto's record: not its status, not by recording the same id again.
    stranger = stranger_client(service, devnet)
    with pytest.raises(RouterError) as refused:
        stranger.update_status(job.id, RouterStatus.FAILED)
    assert refused.value.error_name == "NotAuthorized"
    with pytest.raises(RouterError) as duplicate:
        stranger.record_job(job.id, "mallory", job.provider, "11" * 32, "22" * 32, "0", job.dseq)
    assert duplicate.value.error_name == "NotAuthorized"  # only the owner and its operators record
    assert service.tracker.get(job.id) == on_chain

    recorded = await service.record_job_async(job.id, note=None, owner=OWNER)
    assert recorded["mode"] == "tracked" and recorded["evm_transactions"] == []  # already up to date
    assert recorded["on_chain"]["status"] == "running" and recorded["on_chain"]["submitter"] == router

    verified = await service.verify_job(job.id, owner=OWNER)
    assert verified["verified"] is True, verified["report"]
    assert verified["tracked"] is True and verified["not_checked"] == []
    assert {
        "snapshot hash", "outcome hash", "decision hash", "request hash", "replay", "signature", "plan hash",
        "approved plan", "on-chain decision hash", "on-chain request hash", "on-chain dseq", "on-chain provider",
        "on-chain price", "on-chain submitter",
    } <= ok_checks(verified)

    # Closing through the normal close plan moves the on-chain status too.
    await close(service, job.id)
    ended = service.tracker.get(job.id)
    assert ended.status == RouterStatus.CLOSED and ended.ended_at is not None
    assert ended.decision_hash == on_chain.decision_hash
    events = client.events(job.id)
    assert [e.name for e in events] == ["JobRecorded", "JobStatusChanged", "JobStatusChanged", "JobStatusChanged"]
    assert events[0].submitter == router and events[0].decision_hash == "0x" + approved_hash
    transitions = [(e.from_status, e.to_status) for e in events[1:]]
    assert transitions == [
        (RouterStatus.UNKNOWN, RouterStatus.SUBMITTED),
        (RouterStatus.SUBMITTED, RouterStatus.RUNNING),
        (RouterStatus.RUNNING, RouterStatus.CLOSED),
    ]
    assert {e.by for e in events[1:]} == {router}
    evm_txs = [tx for tx in service.ledger.transactions(job_id=job.id) if tx.chain == "evm"]
    assert evm_txs[-1].kind == "job status -> closed (evm)"
    assert {tx.tx_hash for tx in evm_txs} == {e.tx_hash for e in events[1:]}

    after = await service.verify_job(job.id, owner=OWNER)
    assert after["verified"] is True, after["report"]


# --- 3a. a tampered snapshot ------------------------------------------------------------------------------


async def test_a_tampered_snapshot_is_caught_however_far_the_attacker_goes(service):
    """Each step covers the previous one's tracks in the ledger; the next layer still catches it, and once
    the whole ledger is consistent again, the ComputeRouter record and the router's signature do."""
    plan, result = await deploy(service, tracked=True)
    job = service.ledger.job(result["job_id"])
    row = service.ledger.routing_decision(job.routing_decision_id)
    chosen = json.loads(row.decision_json)["chosen"]
    original_total = next(o for o in json.loads(row.snapshot_json)["offers"] if o["offer_id"] == chosen)["usd_total"]
    assert original_total != "0.01"

    # The ledger API refuses to change a decided record: the attacker goes around it.
    with pytest.raises(NectoError):
        service.ledger.update_routing_decision(row.id, snapshot_json="{}")

    # 1. the chosen offer made to look cheaper than it was (the stored hash left alone)
    def cheaper(data):
        next(o for o in data["offers"] if o["offer_id"] == chosen)["usd_total"] = "0.01"

    snapshot_json = edit_json(row.snapshot_json, cheaper)
    set_row(service, RoutingDecision, row.id, snapshot_json=snapshot_json)
    step1 = await service.verify_job(job.id, owner=OWNER)
    assert step1["verified"] is False
    assert failures(step1, "snapshot hash")[0].endswith("the snapshot was changed after the decision "
                                                        "(the replay findings below say what)")
    named = [d for d in failures(step1, "replay") if d.startswith(f"offer {chosen} in the snapshot is not the one")]
    assert named and "usd_total 0.01" in named[0], step1["report"]
    assert failed_checks(step1) == {"snapshot hash", "replay"}
    assert "FAIL snapshot hash" in step1["report"] and chosen in step1["report"]

    # 2. ... and its hash rewritten to match
    set_row(service, RoutingDecision, row.id, snapshot_sha256=sha256_hex(snapshot_json))
    step2 = await service.verify_job(job.id, owner=OWNER)
    assert step2["verified"] is False
    assert failed_checks(step2) == {"decision hash", "replay"}
    assert "the decision hash or a recorded digest was changed" in failures(step2, "decision hash")[0]
    assert any(chosen in d for d in failures(step2, "replay"))

    # 3. ... and the outcome re-derived from the doctored snapshot and rehashed: the record is self-consistent
    snapshot = RoutingSnapshot.from_json(snapshot_json)
    user_pick = chosen if json.loads(row.decision_json)["chosen_by"] == "user" else None
    forged = record_of(snapshot, replay(snapshot, chosen_offer_id=user_pick))
    assert forged.snapshot_json == snapshot_json
    set_row(service, RoutingDecision, row.id, decision_json=forged.outcome_json, decision_sha256=forged.outcome_sha256)
    step3 = await service.verify_job(job.id, owner=OWNER)
    assert step3["verified"] is False
    assert failed_checks(step3) == {"decision hash"}  # the plan the user approved names the real decision

    # 4. ... and the approved decision hash inside the stored plan rewritten
    stored_plan = service.ledger.get_plan(plan["plan_id"], owner=OWNER)
    body = json.loads(stored_plan.body_json)
    body["routing_decision"]["decision_hash"] = forged.decision_hash
    set_row(service, Plan, stored_plan.id, body_json=plan_canonical_json(body))
    step4 = await service.verify_job(job.id, owner=OWNER)
    assert step4["verified"] is False
    assert failed_checks(step4) == {"plan hash", "on-chain decision hash", "signature"}
    assert failures(step4, "plan hash") == ["the stored plan was changed after approval"]
    assert failures(step4, "on-chain decision hash") == [
        f"the chain has 0x{plan['summary']['routing_decision_hash']}, the record says 0x{forged.decision_hash}"
    ]

    # 5. ... and the plan hash recomputed over the doctored plan
    new_plan_hash = plan_hash(body, unb64(stored_plan.tx_body_b64))
    set_row(service, Plan, stored_plan.id, plan_hash=new_plan_hash)
    step5 = await service.verify_job(job.id, owner=OWNER)
    assert step5["verified"] is False
    assert failed_checks(step5) == {"approved plan", "on-chain decision hash", "signature"}

    # 6. ... and the audit log's approval rewritten: the ledger is now consistent; the chain is not.
    with service.ledger.session() as s:
        for entry in s.exec(select(AuditEntry).where(AuditEntry.plan_id == stored_plan.id)).all():
            entry.plan_hash = new_plan_hash
            s.add(entry)
        s.commit()
    step6 = await service.verify_job(job.id, owner=OWNER)
    assert step6["verified"] is False
    assert failed_checks(step6) == {"on-chain decision hash", "signature"}
    assert "not by the router key" in failures(step6, "signature")[0]


# --- 3b. a tampered decision (the outcome) ---------------------------------------------------------------


async def test_a_tampered_decision_is_caught(service):
    _, result = await deploy(service, tracked=True)
    job = service.ledger.job(result["job_id"])
    row = service.ledger.routing_decision(job.routing_decision_id)
    outcome = json.loads(row.decision_json)
    first, second = outcome["ranked"][0]["offer_id"], outcome["ranked"][1]["offer_id"]

    def reorder(data):
        data["ranked"][0], data["ranked"][1] = data["ranked"][1], data["ranked"][0]
        data["ranked"][0]["rank"], data["ranked"][1]["rank"] = 1, 2

    with edited(service, RoutingDecision, row.id, decision_json=edit_json(row.decision_json, reorder)):
        reordered = await service.verify_job(job.id, owner=OWNER)
        assert reordered["verified"] is False
        assert failures(reordered, "outcome hash")[0].endswith("the outcome was changed after the decision")
        assert f"ranking differs at #1: stored {second}, replay {first}" in failures(reordered, "replay")
        assert failed_checks(reordered) == {"outcome hash", "replay"}
    assert (await service.verify_job(job.id, owner=OWNER))["verified"] is True  # restored

    # The chosen offer swapped for the runner-up, with and without the outcome's hash rewritten.
    swapped = edit_json(row.decision_json, lambda data: data.update(chosen=second))
    assert outcome["chosen"] != second
    with edited(service, RoutingDecision, row.id, decision_json=swapped):
        report = await service.verify_job(job.id, owner=OWNER)
        assert report["verified"] is False
        assert "outcome hash" in failed_checks(report)
        assert failures(report, "outcome hash")[0].endswith("the outcome was changed after the decision")
        with edited(service, RoutingDecision, row.id, decision_sha256=sha256_hex(swapped)):
            rehashed = await service.verify_job(job.id, owner=OWNER)
            assert rehashed["verified"] is False
            assert "outcome hash" not in failed_checks(rehashed)
            assert "decision hash" in failed_checks(rehashed)
    assert (await service.verify_job(job.id, owner=OWNER))["verified"] is True


async def test_a_swapped_policy_choice_is_named_by_the_replay(service):
    # No deploy needed: the decision is recorded with the plan; verify() is what verify_job runs on it.
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner=OWNER)
    row = service.ledger.routing_decisions(plan_id=plan["plan_id"])[0]
    body = json.loads(service.ledger.get_plan(plan["plan_id"], owner=OWNER).body_json)
    outcome = json.loads(row.decision_json)
    original, runner_up = outcome["chosen"], outcome["ranked"][1]["offer_id"]
    assert original == outcome["best_deployable"]  # the user picked nothing: the policy chose
    swapped = edit_json(row.decision_json, lambda data: data.update(chosen=runner_up))
    record = DecisionRecord(
        policy_version=row.policy_version, snapshot_json=row.snapshot_json, snapshot_sha256=row.snapshot_sha256,
        outcome_json=swapped, outcome_sha256=row.decision_sha256,
        request_sha256=body["routing_decision"]["request_sha256"],
        decision_hash=body["routing_decision"]["decision_hash"],
    )
    report = verify(record)
    assert not report.ok
    replay_details = [f.detail for f in report.failures if f.check == "replay"]
    assert f"chosen offer: stored {runner_up}, replay {original}" in replay_details, report.render()
    assert outcome["chosen_by"] == "policy"


# --- 3c. the on-chain record -------------------------------------------------------------------------------


async def test_a_job_id_squatted_on_chain_before_necto_records_it_is_caught(service, devnet):
    """The contract lets nobody change a record once written (test above: NotAuthorized, DuplicateJob), has no
    way to change a decision hash, and only the owner and its operators may record, so a stranger cannot even
    record a job id first (checked here). What remains is a rogue operator (a second router key that leaked):
    it could record the job id in the window between the deployment and Necto's recordJob, claiming another
    routing decision. The devnet EVM mines instantly, so the test opens that window itself: it runs the
    operator's recordJob right after the deploy machine finishes and before Necto's tracking step."""
    stranger = stranger_client(service, devnet)
    with pytest.raises(RouterError) as not_allowed:
        await asyncio.to_thread(stranger.record_job, "job_squat", "mallory", "akash1x", "11" * 32, "22" * 32, "0", 1)
    assert not_allowed.value.error_name == "NotAuthorized"
    await asyncio.to_thread(service.tracker.client().set_operator, stranger.account.address, True)
    forged_decision = "ab" * 32
    squatted: list[str] = []
    original_run = service.machine.run

    async def run_then_get_front_run(job, **kwargs):
        done = await original_run(job, **kwargs)
        found = service._decision_for_job(done)
        assert found is not None
        _, record, _ = found
        # Every public fact copied, but the decision hash is the attacker's.
        tx = await asyncio.to_thread(stranger.record_job, done.id, "mallory", done.provider, record.request_sha256,
                                     forged_decision, done.price_uact_per_block, done.dseq)
        squatted.append(tx.tx_hash)
        return done

    service.machine.run = run_then_get_front_run
    try:
        _, result = await deploy(service, tracked=True)
    finally:
        service.machine.run = original_run
    assert squatted
    job = service.ledger.job(result["job_id"])
    on_chain = service.tracker.get(job.id)
    assert on_chain.submitter == stranger.account.address and on_chain.decision_hash == "0x" + forged_decision

    # Necto did not overwrite (it cannot) nor sign anything for it, and it said so on the job.
    assert not [tx for tx in service.ledger.transactions(job_id=job.id) if tx.chain == "evm"]
    assert service.ledger.routing_decision(job.routing_decision_id).router_signature == ""
    assert any("The on-chain record was not updated" in e.message for e in service.ledger.events(job.id))
    with pytest.raises(RouterError) as refused:
        await service.record_job_async(job.id, note=None, owner=OWNER)
    assert refused.value.error_name == "JobIdTaken" and "recorded job id" in refused.value.message

    verified = await service.verify_job(job.id, owner=OWNER)
    assert verified["verified"] is False
    assert failed_checks(verified) == {"on-chain decision hash", "on-chain submitter"}
    assert failures(verified, "on-chain decision hash")[0].startswith(f"the chain has 0x{forged_decision}")
    assert failures(verified, "on-chain submitter") == ["someone else recorded this job id first"]
    submitter = next(f for f in verified["findings"] if f["check"] == "on-chain submitter")
    assert submitter["actual"] == stranger.account.address and submitter["expected"] == service.tracker.address
    # The ledger's own record is intact: it is the chain that disagrees.
    assert {"snapshot hash", "outcome hash", "decision hash", "replay", "plan hash"} <= ok_checks(verified)


async def test_job_facts_changed_in_the_ledger_and_a_doctored_plan_disagree_with_the_chain(service):
    """The ledger's dseq, provider and price are checked against what the router recorded when the job ran;
    the plan (carrying the approved decision hash) against its approved hash."""
    plan, result = await deploy(service, tracked=True)
    job = service.ledger.job(result["job_id"])

    for field, value, check in (
        ("dseq", job.dseq + 1, "on-chain dseq"),
        ("provider", "akash1" + "q" * 38, "on-chain provider"),
        ("price_uact_per_block", "0.000001", "on-chain price"),
    ):
        with edited(service, Job, job.id, **{field: value}):
            report = await service.verify_job(job.id, owner=OWNER)
            assert report["verified"] is False, field
            assert failed_checks(report) == {check}, report["report"]
            assert str(value) in failures(report, check)[0]
            assert f"FAIL {check}:" in report["report"]
    assert (await service.verify_job(job.id, owner=OWNER))["verified"] is True

    # 3d. the approved decision hash inside the stored plan edited (the plan hash left alone)
    stored = service.ledger.get_plan(plan["plan_id"], owner=OWNER)
    body = json.loads(stored.body_json)
    body["routing_decision"]["decision_hash"] = "cd" * 32
    with edited(service, Plan, stored.id, body_json=plan_canonical_json(body)):
        report = await service.verify_job(job.id, owner=OWNER)
        assert report["verified"] is False
        assert failures(report, "plan hash") == ["the stored plan was changed after approval"]
        plan_finding = next(f for f in report["findings"] if f["check"] == "plan hash")
        assert plan_finding["expected"] == plan["plan_hash"] != plan_finding["actual"]
        # the doctored hash matches neither the stored record nor the chain
        assert {"plan hash", "decision hash", "on-chain decision hash", "signature"} == failed_checks(report)
    assert (await service.verify_job(job.id, owner=OWNER))["verified"] is True
