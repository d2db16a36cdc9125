"""Reconcile against an in-memory chain: every kind of finding, what it writes to the ledger, and that a
second run writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from memory_chain import MemoryChain

from tools.deploy.machine import DeployMachine
from tools.deploy.reconcile import escrow_hours_left, reconcile
from tools.errors import ChainError, PolicyDenied
from tools.events import EventBus
from tools.ledger import Job, Ledger, Plan
from tools.settings import NectoSettings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BLOCK_TIME = Decimal("6")  # s; 500000 uact at 5 uact/block lasts 100000 blocks = ~167 h


def _lowest(bids, job):
    return sorted(bids, key=lambda b: b.price_uact_per_block)[0] if bids else None


def _settings(tmp_path: Path) -> NectoSettings:
    return NectoSettings(
        data_dir=tmp_path,
        bid_wait_blocks=2,
        bid_deadline_s=5,
        lease_ready_timeout_s=3,
        tx_inclusion_timeout_s=1,
    )


async def _running(
    tmp_path: Path, chain: MemoryChain, *, dseq: int = 7, owner: str = "alice"
) -> tuple[Ledger, Job]:
    """A job deployed to running by the real state machine on the memory chain."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    machine = DeployMachine(
        ledger=ledger, backend=chain, settings=_settings(tmp_path), events=EventBus(), choose_bid=_lowest
    )
    ledger.add_plan(Plan(id=f"plan_{dseq}", owner=owner, kind="deploy", plan_hash="h", body_json="{}"))
    job = ledger.add_job(
        Job(
            id=f"job_{dseq}",
            owner=owner,
            plan_id=f"plan_{dseq}",
            network="sandbox",
            chain_id="necto-sandbox-1",
            account=chain.address,
            dseq=dseq,
            deposit_uact=500_000,
            max_price_uact_per_block="8",
            manifest_json="[]",
        )
    )
    body = chain.create_deployment_body(dseq=dseq, groups=[], manifest_hash=b"", deposit_uact=500_000)
    done = await machine.run(job, tx_body=body)
    assert done.state == "running"
    return ledger, done


async def _reconcile(ledger: Ledger, chain: MemoryChain, **options):
    return await reconcile(
        ledger,
        chain,
        owner_address=chain.address,
        network="sandbox",
        chain_id="necto-sandbox-1",
        block_time_s=BLOCK_TIME,
        now=NOW,
        **options,
    )


def _snapshot(ledger: Ledger, owners=("alice", "local")) -> tuple:
    jobs = [j for owner in owners for j in ledger.list_jobs(owner=owner, limit=100)]
    return (sorted((j.id, j.state, j.error) for j in jobs), sum(len(ledger.events(j.id)) for j in jobs))


async def test_a_healthy_tracked_deployment_is_ok_and_nothing_is_written(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    before = _snapshot(ledger)
    report = await _reconcile(ledger, chain)
    [finding] = report.findings
    assert finding.kind == "ok" and finding.job_id == job.id and finding.action is None and not finding.new
    assert finding.provider == "akash1cheap" and finding.escrow_left_uact == 500_000
    assert finding.hours_left == pytest.approx(500_000 / 5 * 6 / 3600, abs=0.01)
    assert "running" in finding.message
    assert report.attention() == []
    assert _snapshot(ledger) == before


async def test_low_escrow_warns_with_hours_left_once(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    chain.set_escrow(7, 10_000)  # 2000 blocks at 5 uact/block x 6 s = 3.3 h
    report = await _reconcile(ledger, chain)
    [finding] = report.findings
    assert finding.kind == "escrow_low" and finding.new and finding.action is None
    assert finding.hours_left == pytest.approx(3.33, abs=0.01)
    assert "about 3.3 hours" in finding.message and "0.01 ACT" in finding.message
    assert ledger.job(job.id).state == "running"  # a warning, not a state change
    assert [e.message for e in ledger.events(job.id)][-1] == finding.message
    after_first = _snapshot(ledger)
    again = await _reconcile(ledger, chain)
    assert [(f.kind, f.new) for f in again.findings] == [("escrow_low", False)]
    assert _snapshot(ledger) == after_first
    # A higher threshold is the caller's choice; with a lower one the same escrow is fine.
    relaxed = await _reconcile(ledger, chain, low_escrow_hours=2)
    assert relaxed.findings[0].kind == "ok"


async def test_a_lost_lease_fails_the_job_and_offers_a_close_that_refunds(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    chain.lose_lease(7, reason="lease_closed_unstable")
    report = await _reconcile(ledger, chain)
    [finding] = report.findings
    assert finding.kind == "lease_lost" and finding.action == "close" and finding.new
    assert finding.job_id == job.id and finding.owner == "alice" and finding.hours_left is None
    assert "provider ended it" in finding.message and "0.5 ACT" in finding.message
    failed = ledger.job(job.id)
    assert failed.state == "failed" and "lease ended" in failed.error
    after_first = _snapshot(ledger)
    again = await _reconcile(ledger, chain)
    assert [(f.kind, f.action, f.new) for f in again.findings] == [("lease_lost", "close", False)]
    assert _snapshot(ledger) == after_first
    # The one-click close is the state machine's normal close: the escrow comes back.
    machine = DeployMachine(
        ledger=ledger, backend=chain, settings=_settings(tmp_path), events=EventBus(), choose_bid=_lowest
    )
    closed = await machine.close(ledger.job(job.id))
    assert closed.state == "closed" and closed.refund_uact > 0
    assert (await _reconcile(ledger, chain)).findings == []


async def test_escrow_that_ran_out_reads_as_a_lost_lease(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    chain.lose_lease(7, reason="lease_closed_insufficient_funds")
    [finding] = (await _reconcile(ledger, chain)).findings
    assert finding.kind == "lease_lost" and "escrow ran out" in finding.message


async def test_an_untracked_deployment_gets_a_found_job_the_service_can_close(tmp_path):
    from tools.service import NectoService

    chain = MemoryChain()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    chain.add_untracked(99, escrow_uact=700_000, provider="akash1cheap", price="5")
    balance = chain.balance_uact
    report = await _reconcile(ledger, chain)
    [finding] = report.findings
    assert finding.kind == "untracked" and finding.action == "close" and finding.new
    assert finding.owner == "local" and finding.dseq == 99 and finding.escrow_left_uact == 700_000
    assert finding.provider == "akash1cheap" and finding.provider_name == "cheap"
    assert "no record" in finding.message and "0.7 ACT" in finding.message
    job = ledger.job(finding.job_id)
    assert (job.state, job.owner, job.dseq, job.network, job.chain_id, job.account) == (
        "found",
        "local",
        99,
        "sandbox",
        "necto-sandbox-1",
        chain.address,
    )
    assert job.provider == "akash1cheap" and job.provider_host == "https://akash1cheap.example:8443"
    assert job.price_uact_per_block == "5"
    after_first = _snapshot(ledger)
    again = await _reconcile(ledger, chain)
    assert [(f.kind, f.job_id, f.new) for f in again.findings] == [("untracked", job.id, False)]
    assert _snapshot(ledger) == after_first
    assert len(ledger.list_jobs(owner="local")) == 1

    # The existing service flow, unchanged: a restart does not choke on the found job, and the close
    # plan -> approve closes it and refunds the escrow.
    service = NectoService(_settings(tmp_path), backend=chain, ledger=ledger, sources=[])
    resumed = await service.resume_unfinished()
    assert [(r["job_id"], r["state"]) for r in resumed] == [(job.id, "found")]  # reported, nothing signed
    assert chain.signed == []
    assert (await service.status(job.id, owner="local"))["job"]["state"] == "found"
    plan = await service.create_close_plan(job.id, owner="local")
    card = service.plan_summary(plan["plan_id"], owner="local")["card"]
    assert card["dseq"] == 99 and card["refund_estimate_act"] == "0.7"
    closed = await service.execute_close_plan(
        plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="local"
    )
    assert closed["state"] == "closed" and closed["refund_uact"] > 0
    assert chain.balance_uact == balance + closed["refund_uact"]
    assert (await _reconcile(ledger, chain)).findings == []


async def test_an_untracked_deployment_without_a_lease_and_the_owner_option(tmp_path):
    chain = MemoryChain()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    chain.add_untracked(42)
    [finding] = (await _reconcile(ledger, chain, account_owner="dana")).findings
    assert finding.kind == "untracked" and finding.owner == "dana" and finding.provider == ""
    assert "no active lease" in finding.message and finding.hours_left is None
    assert ledger.job(finding.job_id).owner == "dana"


async def test_running_jobs_the_chain_closed_are_marked_closed_once(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    ledger.add_plan(Plan(id="plan_ghost", owner="alice", kind="deploy", plan_hash="h", body_json="{}"))
    ghost = ledger.add_job(
        Job(
            id="job_ghost",
            owner="alice",
            plan_id="plan_ghost",
            network="sandbox",
            chain_id="necto-sandbox-1",
            account=chain.address,
            dseq=123,
            state="running",
        )
    )
    chain.close_outside(7)
    report = await _reconcile(ledger, chain)
    by_job = {f.job_id: f for f in report.findings}
    assert {f.kind for f in report.findings} == {"closed_on_chain"}
    assert "closed on chain" in by_job[job.id].message and "reset" in by_job[ghost.id].message
    for job_id in (job.id, ghost.id):
        stored = ledger.job(job_id)
        assert stored.state == "closed" and stored.closed_at is not None
        assert stored.error == "The deployment is no longer active on chain."
    after_first = _snapshot(ledger)
    assert (await _reconcile(ledger, chain)).findings == []
    assert _snapshot(ledger) == after_first


async def test_a_failed_job_whose_deployment_is_still_open_is_stranded(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    ledger.update_job(job.id, state="failed", error="Closing it failed too.")
    [finding] = (await _reconcile(ledger, chain)).findings
    assert finding.kind == "stranded" and finding.action == "close" and finding.new
    assert "still open on chain" in finding.message and "still paying" in finding.message
    after_first = _snapshot(ledger)
    assert [(f.kind, f.new) for f in (await _reconcile(ledger, chain)).findings] == [("stranded", False)]
    assert _snapshot(ledger) == after_first


async def test_jobs_in_flight_and_other_chains_are_left_alone(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    chain.lose_lease(7)
    busy = await _reconcile(ledger, chain, busy_job_ids={job.id})
    assert [(f.kind, f.job_id) for f in busy.findings] == [("ok", job.id)]
    assert ledger.job(job.id).state == "running"
    ledger.update_job(job.id, state="bids")  # the deploy machine owns it
    assert [f.kind for f in (await _reconcile(ledger, chain)).findings] == ["ok"]
    assert ledger.job(job.id).state == "bids"
    # A job on another network with the same dseq does not track this deployment, and is never touched.
    ledger.update_job(job.id, state="running", network="mainnet", chain_id="akashnet-2")
    [finding] = (await _reconcile(ledger, chain)).findings
    assert finding.kind == "untracked" and finding.job_id != job.id
    assert ledger.job(job.id).state == "running"


async def test_a_chain_that_cannot_answer_changes_nothing(tmp_path):
    class Unreachable(MemoryChain):
        async def open_deployments(self):
            raise ChainError("GET /akash/deployment/v1beta4/deployments/list: cannot connect")

    chain = Unreachable()
    ledger, _job = await _running(tmp_path, chain)
    before = _snapshot(ledger)
    with pytest.raises(ChainError):
        await _reconcile(ledger, chain)
    assert _snapshot(ledger) == before


async def test_only_the_signer_account_is_reconciled(tmp_path):
    chain = MemoryChain()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with pytest.raises(PolicyDenied):
        await reconcile(
            ledger,
            chain,
            owner_address="akash1someoneelse",
            network="sandbox",
            chain_id="necto-sandbox-1",
            block_time_s=6,
            now=NOW,
        )


async def test_the_report_orders_what_needs_attention_first(tmp_path):
    chain = MemoryChain()
    ledger, job = await _running(tmp_path, chain)
    chain.set_escrow(7, 10_000)
    chain.add_untracked(99)
    report = await _reconcile(ledger, chain)
    assert [f.kind for f in report.attention()] == ["untracked", "escrow_low"]
    assert [f.kind for f in report.for_owner("alice")] == ["escrow_low"]
    second = await _reconcile(ledger, chain)
    assert second.attention(only_new=True) == []
    dumped = second.model_dump(mode="json")
    assert dumped["status"] == "ok" and dumped["findings"][0]["kind"] in {"untracked", "escrow_low"}


def test_escrow_hours_left():
    assert escrow_hours_left(600_000, Decimal(100), Decimal("6")) == Decimal(10)
    assert escrow_hours_left(600_000, Decimal(0), Decimal("6")) is None
    assert escrow_hours_left(600_000, None, Decimal("6")) is None
