"""Routing decisions, deployments, leases and transactions round-trip through the ledger on both databases."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tools.errors import JobNotFound, NectoError
from tools.ledger import Job, Plan, RoutingDecision

SNAPSHOT = '{"offers":[{"id":"akash:p1","usd_per_hour":"0.12"}]}'
DECISION = '{"chosen":"akash:p1"}'


def _job(ledger, job_id: str = "job_1", owner: str = "alice") -> Job:
    ledger.add_plan(Plan(id=f"plan_{job_id}", owner=owner, kind="deploy", plan_hash="h", body_json="{}"))
    return ledger.add_job(Job(id=job_id, owner=owner, plan_id=f"plan_{job_id}", network="sandbox", chain_id="c"))


def test_routing_decisions(database_url, open_ledger):
    ledger = open_ledger(database_url)
    stored = ledger.add_routing_decision(RoutingDecision(
        id="dec_1", owner="alice", plan_id="plan_job_1", policy_version="rank-v3", snapshot_json=SNAPSHOT,
        decision_json=DECISION, chosen_offer_id="akash:p1", trace_ref="sha256:abc",
    ))
    assert stored.snapshot_sha256 == hashlib.sha256(SNAPSHOT.encode()).hexdigest()
    assert stored.decision_sha256 == hashlib.sha256(DECISION.encode()).hexdigest()
    assert ledger.routing_decision("dec_1").snapshot_json == SNAPSHOT
    assert ledger.routing_decision("dec_1", owner="mallory") is None
    assert ledger.routing_decision("dec_missing") is None
    assert [d.id for d in ledger.routing_decisions(plan_id="plan_job_1")] == ["dec_1"]
    assert ledger.routing_decisions(job_id="job_1") == []

    _job(ledger)
    linked = ledger.link_routing_decision("dec_1", job_id="job_1")
    assert linked.job_id == "job_1" and linked.plan_id == "plan_job_1"
    assert ledger.job("job_1").routing_decision_id == "dec_1"
    assert [d.id for d in ledger.routing_decisions(job_id="job_1")] == ["dec_1"]
    ledger.update_plan("plan_job_1", status="executed")
    assert ledger.routing_decision("dec_1").router_signature == ""

    with pytest.raises(NectoError, match="snapshot_sha256"):
        ledger.add_routing_decision(RoutingDecision(id="dec_2", owner="alice", policy_version="v", snapshot_json="{}",
                                                    snapshot_sha256="0" * 64, decision_json="{}"))
    with pytest.raises(JobNotFound):
        ledger.link_routing_decision("dec_1", job_id="job_missing")
    with pytest.raises(NectoError):
        ledger.link_routing_decision("dec_missing", job_id="job_1")
    with pytest.raises(ValueError):
        ledger.routing_decisions()


def test_deployments_upsert_by_chain_owner_and_dseq(database_url, open_ledger):
    ledger = open_ledger(database_url)
    key = {"chain_id": "akashnet-2", "owner_address": "akash1me"}
    big = 3_000_000_000  # over 2**31 micro-units: BIGINT columns
    first = ledger.upsert_deployment(**key, dseq=7, network="mainnet", owner="alice", job_id="job_1",
                                     deposit_uact=big, created_height=20_000_000)
    assert (first.state, first.job_id, first.deposit_uact, first.closed_at) == ("active", "job_1", big, None)

    seen = datetime.now(UTC) + timedelta(seconds=5)
    again = ledger.upsert_deployment(**key, dseq=7, network="mainnet", escrow_balance_uact=1_234, last_seen_at=seen)
    assert again.id == first.id
    assert (again.job_id, again.deposit_uact, again.escrow_balance_uact) == ("job_1", big, 1_234)  # job_id kept
    assert again.created_at == first.created_at and again.last_seen_at == seen

    closed_at = datetime.now(UTC)
    ledger.upsert_deployment(**key, dseq=7, network="mainnet", state="closed", closed_at=closed_at)
    ledger.upsert_deployment(**key, dseq=9, network="mainnet")  # found on chain, not Necto's
    ledger.upsert_deployment(chain_id="sandbox-1", owner_address="akash1me", dseq=7, network="sandbox")
    assert [(d.dseq, d.chain_id) for d in ledger.deployments("akash1me", chain_id="akashnet-2")] == [
        (9, "akashnet-2"), (7, "akashnet-2")]
    assert [(d.dseq, d.job_id) for d in ledger.deployments("akash1me", chain_id="akashnet-2", state="active")] == [
        (9, None)]
    assert len(ledger.deployments("akash1me")) == 3
    assert ledger.deployments("akash1someoneelse") == []


def test_concurrent_upserts_of_one_deployment_make_one_row(database_url, open_ledger):
    ledger = open_ledger(database_url)
    barrier = threading.Barrier(6)

    def upsert(n: int) -> int:
        barrier.wait()
        return ledger.upsert_deployment(chain_id="c", owner_address="akash1me", dseq=1, network="sandbox",
                                        escrow_balance_uact=n).id

    with ThreadPoolExecutor(6) as pool:
        ids = set(pool.map(upsert, range(6)))
    assert len(ids) == 1
    assert len(ledger.deployments("akash1me")) == 1


def test_leases(database_url, open_ledger):
    ledger = open_ledger(database_url)
    deployment = ledger.upsert_deployment(chain_id="c", owner_address="akash1me", dseq=5, network="sandbox")
    lease = ledger.upsert_lease(deployment_id=deployment.id, gseq=1, oseq=1, provider="akash1prov", job_id="job_1",
                                price_uact_per_block="12.5")
    assert (lease.dseq, lease.state, lease.price_uact_per_block) == (5, "active", "12.5")
    updated = ledger.upsert_lease(deployment_id=deployment.id, gseq=1, oseq=1, provider="akash1prov",
                                  state="insufficient_funds")
    assert updated.id == lease.id and (updated.state, updated.job_id) == ("insufficient_funds", "job_1")
    ledger.upsert_lease(deployment_id=deployment.id, gseq=1, oseq=1, provider="akash1other")
    assert [x.provider for x in ledger.leases(deployment.id)] == ["akash1prov", "akash1other"]
    with pytest.raises(NectoError):
        ledger.upsert_lease(deployment_id=deployment.id + 100, gseq=1, oseq=1, provider="p")


def test_transactions(database_url, open_ledger):
    ledger = open_ledger(database_url)
    signed = ledger.record_tx(owner="alice", job_id="job_1", kind="create deployment", chain="akash",
                              chain_id="sandbox-1", tx_hash="AB12")
    assert signed.status == "signed" and signed.height is None
    included = ledger.record_tx(owner="alice", kind="create deployment", chain="akash", chain_id="sandbox-1",
                                tx_hash="AB12", status="included", height=5_000_000_000)
    assert included.id == signed.id and (included.status, included.height, included.job_id) == (
        "included", 5_000_000_000, "job_1")
    ledger.record_tx(owner="alice", job_id="job_1", kind="record job (evm)", chain="evm", chain_id="99999",
                     status="failed", error="reverted: DuplicateJob")
    ledger.record_tx(owner="bob", kind="create lease", chain="akash", chain_id="sandbox-1", tx_hash="CD34")
    assert [(t.kind, t.status) for t in ledger.transactions(job_id="job_1")] == [
        ("create deployment", "included"), ("record job (evm)", "failed")]
    assert [t.tx_hash for t in ledger.transactions(owner="bob")] == ["CD34"]
    with pytest.raises(ValueError):
        ledger.transactions()
