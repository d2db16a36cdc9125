"""The deploy state machine against an in-memory chain: happy path, failures that must refund, and
crash/resume paths that must never pay twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from memory_chain import Crash, MemoryChain

from tools.deploy.machine import DeployMachine
from tools.events import EventBus
from tools.ledger import Job, Ledger, Plan
from tools.settings import NectoSettings

pytestmark = pytest.mark.asyncio


def _lowest(bids, job):
    return sorted(bids, key=lambda b: b.price_uact_per_block)[0] if bids else None


def _setup(tmp_path: Path, chain: MemoryChain, **settings):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    cfg = NectoSettings(data_dir=tmp_path, bid_wait_blocks=2, bid_deadline_s=5, lease_ready_timeout_s=3,
                        tx_inclusion_timeout_s=1, **settings)
    events = EventBus()
    machine = DeployMachine(ledger=ledger, backend=chain, settings=cfg, events=events, choose_bid=_lowest)
    ledger.add_plan(Plan(id="plan_1", owner="alice", kind="deploy", plan_hash="h", body_json="{}"))
    job = ledger.add_job(Job(id="job_1", owner="alice", plan_id="plan_1", network="sandbox",
                             chain_id="necto-sandbox-1", dseq=7, deposit_uact=500_000,
                             max_price_uact_per_block="8", manifest_json="[]"))
    return ledger, machine, job


async def test_happy_path_runs_and_records_every_state(tmp_path):
    chain = MemoryChain()
    ledger, machine, job = _setup(tmp_path, chain)
    body = chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000)
    done = await machine.run(job, tx_body=body)
    assert done.state == "running"
    assert json.loads(done.uris_json) == ["abc.ingress.example"]
    # the cheapest bid under the cap wins ("akash1dear" at 9 is above the cap of 8 anyway)
    assert done.provider == "akash1cheap" and done.price_uact_per_block == "5"
    states = [e.state for e in ledger.events("job_1")]
    for expected in ("signed", "broadcast", "bids", "lease", "manifest_sent", "running"):
        assert expected in states
    assert [m["type"] for m in chain.signed] == ["create", "lease"]
    assert done.create_tx_hash and done.lease_tx_hash
    actions = [a.action for a in ledger.audit_entries("alice")]
    assert "create deployment" in actions and "create lease" in actions


async def test_no_acceptable_bid_closes_and_refunds(tmp_path):
    chain = MemoryChain(bids=[("akash1dear", "9")])  # above the cap of 8
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert done.state == "failed"
    assert "No provider bid" in done.error
    assert chain.deployments[7]["state"] == "closed"
    assert done.refund_uact == 500_000
    assert chain.balance_uact == 100_000_000  # everything came back
    assert [m["type"] for m in chain.signed] == ["create", "close"]


async def test_rejected_manifest_closes_the_deployment(tmp_path):
    chain = MemoryChain()
    chain.reject_manifest = True
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert done.state == "failed"
    assert "manifest hash" in done.error
    assert chain.deployments[7]["state"] == "closed"
    assert [m["type"] for m in chain.signed] == ["create", "lease", "close"]


async def test_crash_after_broadcast_resumes_without_paying_twice(tmp_path):
    chain = MemoryChain()
    chain.crash_after_sign = True
    ledger, machine, job = _setup(tmp_path, chain)
    body = chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000)
    with pytest.raises(Crash):
        await machine.run(job, tx_body=body)
    stored = ledger.job("job_1")
    assert stored.state == "broadcast" and stored.create_tx_hash
    chain.crash_after_sign = False
    # a new process: same ledger, same chain
    machine2 = DeployMachine(ledger=ledger, backend=chain, settings=machine.settings, events=EventBus(), choose_bid=_lowest)
    done = await machine2.run(stored, tx_body=body)
    assert done.state == "running"
    assert [m["type"] for m in chain.signed].count("create") == 1
    assert chain.balance_uact == 100_000_000 - 500_000


async def test_crash_before_the_node_saw_the_tx_never_resigns(tmp_path):
    chain = MemoryChain()
    chain.drop_broadcast = True
    ledger, machine, job = _setup(tmp_path, chain)
    body = chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000)
    with pytest.raises(Crash):
        await machine.run(job, tx_body=body)
    chain.drop_broadcast = False
    stored = ledger.job("job_1")
    machine2 = DeployMachine(ledger=ledger, backend=chain, settings=machine.settings, events=EventBus(), choose_bid=_lowest)
    done = await machine2.run(stored, tx_body=body)
    # the signed tx never landed: the job fails clearly, and nothing was signed a second time
    assert done.state == "failed"
    assert "never included" in done.error
    assert "refunded" not in done.error
    assert [m["type"] for m in chain.signed].count("create") == 1


async def test_close_refunds_and_is_idempotent(tmp_path):
    chain = MemoryChain()
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    closed = await machine.close(done)
    assert closed.state == "closed" and closed.refund_uact == 500_000 - 3
    again = await machine.close(closed)
    assert again.state == "closed"
    assert [m["type"] for m in chain.signed].count("close") == 1


async def test_progress_events_reach_subscribers(tmp_path):
    chain = MemoryChain()
    ledger, machine, job = _setup(tmp_path, chain)
    queue = machine.events.subscribe("alice")
    other = machine.events.subscribe("bob")
    await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    import asyncio

    await asyncio.sleep(0)
    seen = []
    while not queue.empty():
        seen.append(queue.get_nowait()["state"])
    assert seen[0] == "signed" and seen[-1] == "running"
    assert other.empty()  # another user's subscriber sees nothing


async def test_refused_lease_fails_over_to_the_next_bid_and_blocks_the_provider(tmp_path):
    chain = MemoryChain(bids=[("akash1cheap", "5"), ("akash1next", "6")])
    chain.refuse_lease_for = {"akash1cheap"}
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert done.state == "running" and done.provider == "akash1next"
    assert [m["type"] for m in chain.signed] == ["create", "lease", "lease"]
    from datetime import UTC, datetime

    blocked = ledger.blocked_offers("alice", datetime.now(UTC))
    assert list(blocked) == ["akash:akash1cheap"] and "refused" in blocked["akash:akash1cheap"]
    assert ledger.blocked_offers("bob", datetime.now(UTC)) == {}  # blocks are per owner
    assert any("trying the next bid" in e.message for e in ledger.events("job_1"))


async def test_every_lease_refused_closes_and_refunds(tmp_path):
    chain = MemoryChain(bids=[("akash1a", "5"), ("akash1b", "6")])
    chain.refuse_lease_for = {"akash1a", "akash1b"}
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert done.state == "failed" and chain.deployments[7]["state"] == "closed"
    assert done.refund_uact == 500_000
    assert [m["type"] for m in chain.signed] == ["create", "lease", "lease", "close"]


async def test_provider_failing_after_the_lease_is_blocked_until_the_block_expires(tmp_path):
    from datetime import UTC, datetime, timedelta

    chain = MemoryChain()
    chain.reject_manifest = True
    ledger, machine, job = _setup(tmp_path, chain, failed_offer_block_s=600)
    await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    now = datetime.now(UTC)
    assert "akash:akash1cheap" in ledger.blocked_offers("alice", now)
    assert ledger.blocked_offers("alice", now + timedelta(seconds=601)) == {}


async def test_recommended_provider_that_never_bids_is_blocked_for_the_next_quote(tmp_path):
    from datetime import UTC, datetime

    chain = MemoryChain(bids=[("akash1dear", "9")])  # over the cap of 8; the recommended one is silent
    ledger, machine, job = _setup(tmp_path, chain)
    ledger.update_plan("plan_1", body_json=json.dumps({"preferred_provider": "akash1silent"}))
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert done.state == "failed" and done.refund_uact == 500_000
    blocked = ledger.blocked_offers("alice", datetime.now(UTC))
    assert "did not bid" in blocked["akash:akash1silent"]
    assert "akash:akash1dear" not in blocked  # it bid; its price was the problem, not the provider


async def test_recommended_provider_bidding_over_the_cap_is_blocked(tmp_path):
    from datetime import UTC, datetime

    chain = MemoryChain(bids=[("akash1dear", "9")])
    ledger, machine, job = _setup(tmp_path, chain)
    ledger.update_plan("plan_1", body_json=json.dumps({"preferred_provider": "akash1dear"}))
    await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    assert "over your max price" in ledger.blocked_offers("alice", datetime.now(UTC))["akash:akash1dear"]


async def test_transactions_deployment_and_lease_are_recorded_and_closed(tmp_path):
    chain = MemoryChain()
    ledger, machine, job = _setup(tmp_path, chain)
    done = await machine.run(job, tx_body=chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000))
    txs = ledger.transactions(job_id="job_1")
    assert [(t.kind, t.status, t.chain) for t in txs] == [
        ("create deployment", "included", "akash"), ("create lease", "included", "akash")]
    assert txs[0].tx_hash == done.create_tx_hash and txs[1].tx_hash == done.lease_tx_hash and txs[0].height
    [deployment] = ledger.deployments(chain.address)
    assert (deployment.dseq, deployment.state, deployment.job_id, deployment.deposit_uact) == (7, "active", "job_1", 500_000)
    [lease] = ledger.leases(deployment.id)
    assert (lease.provider, lease.price_uact_per_block, lease.state) == ("akash1cheap", "5", "active")

    await machine.close(ledger.job("job_1"))
    assert [t.kind for t in ledger.transactions(job_id="job_1")][-1] == "close deployment"
    [deployment] = ledger.deployments(chain.address)
    assert deployment.state == "closed" and deployment.closed_at is not None
    assert [lease.state for lease in ledger.leases(deployment.id)] == ["closed"]
