"""Two signed-in users of one Necto (owners "alice" and "bob"): neither can see, close, execute, log, verify
or read the secrets of the other's jobs and plans, nor use the other's wallet. Someone else's job or plan
is reported exactly like a missing one. The real service and state machine on the in-memory chain."""

from __future__ import annotations

import pytest
from memory_chain import MemoryChain

from tools.deploy.machine import DeployMachine
from tools.errors import JobNotFound, PlanNotFound
from tools.events import EventBus
from tools.ledger import Job, Ledger, Plan
from tools.service import NectoService
from tools.settings import NectoSettings

pytestmark = pytest.mark.asyncio


def _settings(tmp_path) -> NectoSettings:
    return NectoSettings(data_dir=tmp_path, bid_wait_blocks=2, bid_deadline_s=5, lease_ready_timeout_s=3,
                         tx_inclusion_timeout_s=1)


@pytest.fixture
async def alices_job(tmp_path):
    """Alice's deployment, run to "running" by the real state machine, and the service both users share."""
    chain = MemoryChain()
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    machine = DeployMachine(ledger=ledger, backend=chain, settings=_settings(tmp_path), events=EventBus(),
                            choose_bid=lambda bids, job: sorted(bids, key=lambda b: b.price_uact_per_block)[0])
    ledger.add_plan(Plan(id="plan_alice", owner="alice", kind="deploy", plan_hash="h", body_json="{}"))
    job = ledger.add_job(Job(id="job_alice", owner="alice", plan_id="plan_alice", network="sandbox",
                             chain_id="necto-sandbox-1", account=chain.address, dseq=7, deposit_uact=500_000,
                             max_price_uact_per_block="8", manifest_json="[]"))
    body = chain.create_deployment_body(dseq=7, groups=[], manifest_hash=b"", deposit_uact=500_000)
    job = await machine.run(job, tx_body=body)
    assert job.state == "running"
    service = NectoService(_settings(tmp_path), backend=chain, ledger=ledger, sources=[])
    yield service, chain, job
    service.close()


async def test_bob_cannot_see_alices_jobs(alices_job):
    service, _chain, job = alices_job
    assert [j["job_id"] for j in service.list_jobs(owner="alice")["jobs"]] == [job.id]
    assert service.list_jobs(owner="bob")["jobs"] == []
    for job_id in (job.id, job.id[:6], None):  # full id, a short prefix, "my latest job"
        with pytest.raises(JobNotFound):
            await service.status(job_id, owner="bob")
    assert (await service.status(job.id, owner="alice"))["job"]["state"] == "running"


async def test_bob_cannot_log_verify_record_or_read_secrets_of_alices_job(alices_job):
    service, _chain, job = alices_job
    with pytest.raises(JobNotFound):
        await service.logs(job.id, tail=10, service=None, owner="bob")
    with pytest.raises(JobNotFound):
        async for _line in service.stream_logs(job.id, owner="bob", follow=False):
            pass
    with pytest.raises(JobNotFound):
        service.secrets(job.id, owner="bob")
    with pytest.raises(JobNotFound):
        await service.verify_job(job.id, owner="bob")
    with pytest.raises(JobNotFound):
        service.record_job(job.id, note="mine now", owner="bob")
    assert service.ledger.audit_entries("bob") == []


async def test_bob_cannot_close_alices_job_or_approve_her_plans(alices_job):
    service, chain, job = alices_job
    with pytest.raises(JobNotFound):
        await service.create_close_plan(job.id, owner="bob")
    with pytest.raises(JobNotFound):
        await service.create_close_plan(None, owner="bob")  # "close my open deployment"

    close = await service.create_close_plan(job.id, owner="alice")
    signed_before = len(chain.signed)
    with pytest.raises(PlanNotFound):
        service.plan_summary(close["plan_id"], owner="bob")
    with pytest.raises(PlanNotFound):  # even holding the exact hash from alice's card
        await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="bob")
    with pytest.raises(PlanNotFound):
        await service.execute_deploy_plan("plan_alice", confirmed_hash="h", owner="bob")
    assert len(chain.signed) == signed_before and service.ledger.job(job.id).state == "running"
    assert service.ledger.audit_entries("bob") == []

    # The same plan is alice's to approve: the refusals above were about the owner, not a broken plan.
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="alice")
    assert closed["state"] == "closed" and len(chain.signed) > signed_before


async def test_each_user_sees_only_their_own_wallet(alices_job):
    service, _chain, _job = alices_job
    chain_id = service.settings.effective_chain_id
    service.ledger.save_wallet(owner="alice", address="akash1alice", public_key_hex="02" + "11" * 32,
                               chain_id=chain_id, wallet="keplr", is_ledger=False)
    assert service.ledger.current_wallet("alice", chain_id).address == "akash1alice"
    assert service.ledger.current_wallet("bob", chain_id) is None
    assert service.ledger.wallet_for_address("bob", chain_id, "akash1alice") is None
    assert (await service.wallet_status("bob"))["connected"] is False
    assert service.backend_for("bob") is service.backend  # bob never signs with alice's wallet
