"""Crash-and-reconcile on the devnet: the ledger is compared with the chain over HTTP (real REST shapes,
signed protobuf txs, escrow), and whatever is open and not healthy is closed through the normal close plan
so no funds are stranded (security.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tools.deploy.plan import unb64
from tools.deploy.reconcile import reconcile

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def _reconcile(service, **options):
    """Called the way the service should call it (see tools.deploy.reconcile)."""
    return await reconcile(
        service.ledger,
        service.backend,
        owner_address=service.backend.address,
        network=service.settings.network,
        chain_id=service.settings.effective_chain_id,
        block_time_s=await service.backend.block_time_s(),
        now=datetime.now(UTC),
        **options,
    )


async def _deploy(service, owner: str) -> dict:
    plan = await service.create_deploy_plan(
        {"workload": "static", "hours": 1}, port=None, offer_id=None, owner=owner
    )
    done = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
    assert done["state"] == "running", done
    return done


async def _close(service, job_id: str, owner: str) -> dict:
    plan = await service.create_close_plan(job_id, owner=owner)
    return await service.execute_close_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)


def _event_count(service, job_id: str) -> int:
    return len(service.ledger.events(job_id))


def _provider_drops_lease(chain, owner: str, dseq: int) -> None:
    """The provider ends the lease. On Akash that is the provider's MsgCloseBid; the devnet has no
    provider-side close message, so this applies its effect: lease and bid closed, order closed, group
    paused, escrow left in the deployment."""
    with chain.lock:
        for lease in chain.leases.values():
            if lease.owner == owner and lease.dseq == dseq and lease.state == "active":
                lease.state, lease.closed_on, lease.reason = "closed", chain.height, "lease_closed_unstable"
                key = lease.key()
                if key in chain.bids:
                    chain.bids[key].state = "closed"
                if key[:4] in chain.orders:
                    chain.orders[key[:4]].state = "closed"
                chain.deployments[(owner, dseq)].groups[lease.gseq - 1].state = "paused"


async def test_crash_before_the_job_was_written_is_found_and_closed_with_a_full_refund(settings, devnet):
    from tools.wiring import build_service

    first = build_service(settings)
    tracked = await _deploy(first, "local")
    # The crash: a deployment is signed with Necto's own key and lands on chain, but the process dies before
    # any job row is written (so resume_unfinished knows nothing about it).
    lost = await first.create_deploy_plan(
        {"workload": "static", "hours": 1}, port=None, offer_id=None, owner="local"
    )
    body = unb64(first.ledger.get_plan(lost["plan_id"], owner="local").tx_body_b64)
    await first.backend.ensure_funds(need_uact=lost["summary"]["deposit_uact"])
    await first.backend.sign_and_send(body, on_signed=lambda _tx_hash: None)
    lost_dseq, deposit = lost["summary"]["dseq"], lost["summary"]["deposit_uact"]
    assert first.ledger.job_for_plan(lost["plan_id"]) is None
    first.close()

    second = build_service(settings)  # a new process: same database, same key, same chain
    inbox = second.events.subscribe("local")
    await second.resume_unfinished()  # start-up reconciles with the chain
    on_chain = {d.dseq: d for d in await second.backend.open_deployments()}
    assert on_chain[lost_dseq].escrow_left_uact == deposit and on_chain[lost_dseq].leases == ()
    assert on_chain[tracked["dseq"]].active_leases[0].provider == tracked["provider_address"]
    assert len(on_chain[lost_dseq].version) == 64

    report = second.last_reconcile  # the start-up pass found it
    by_dseq = {f.dseq: f for f in report.findings}
    found = by_dseq[lost_dseq]
    assert (found.kind, found.action, found.new, found.owner) == ("untracked", "close", True, "local")
    assert [f["dseq"] for f in second.reconcile_findings("local") if f["kind"] == "untracked"] == [lost_dseq]
    told = [inbox.get_nowait() for _ in range(inbox.qsize())]
    assert any(e["kind"] == "reconcile" and e["finding"]["dseq"] == lost_dseq for e in told)  # said in chat
    again = {f.dseq: f for f in (await _reconcile(second)).findings}[lost_dseq]
    assert (again.kind, again.new, again.job_id) == ("untracked", False, found.job_id)  # reported once
    assert found.escrow_left_uact == deposit and "no record" in found.message
    assert by_dseq[tracked["dseq"]].kind in ("ok", "escrow_low")  # tracked: never adopted twice
    assert by_dseq[tracked["dseq"]].job_id == tracked["job_id"]
    job = second.ledger.job(found.job_id)
    assert (job.state, job.owner, job.dseq, job.account) == (
        "found",
        "local",
        lost_dseq,
        second.backend.address,
    )

    jobs_before = len(second.ledger.list_jobs(owner="local", limit=100))
    events_before = _event_count(second, job.id)
    again = await _reconcile(second)
    assert {f.dseq: (f.kind, f.job_id, f.new) for f in again.findings}[lost_dseq] == (
        "untracked",
        job.id,
        False,
    )
    assert len(second.ledger.list_jobs(owner="local", limit=100)) == jobs_before
    assert _event_count(second, job.id) == events_before

    # The one-click close is the normal close plan: card -> approve -> every uact of the deposit comes back.
    address = second.backend.address
    balance = devnet.chain.balance(address, "uact")
    plan = await second.create_close_plan(job.id, owner="local")
    card = second.plan_summary(plan["plan_id"], owner="local")["card"]
    assert card["dseq"] == lost_dseq and Decimal(card["refund_estimate_act"]) * 1_000_000 == deposit
    closed = await second.execute_close_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="local")
    assert closed["state"] == "closed" and closed["refund_uact"] == deposit  # no lease: nothing was spent
    assert devnet.chain.balance(address, "uact") == balance + deposit
    assert await second.backend.deployment_state(lost_dseq) == "closed"

    after = await _reconcile(second)
    assert lost_dseq not in {f.dseq for f in after.findings}
    assert [f.dseq for f in after.findings if f.action == "close"] == []
    await _close(second, tracked["job_id"], "local")
    assert (await _reconcile(second)).findings == []


async def test_a_lease_the_provider_drops_is_reported_and_its_escrow_refunded(service, devnet):
    done = await _deploy(service, "lena")
    job = service.ledger.job(done["job_id"])
    _provider_drops_lease(devnet.chain, job.account, job.dseq)
    assert await service.backend.lease_state(job.dseq) == "closed"

    report = await _reconcile(service)
    [finding] = [f for f in report.findings if f.dseq == job.dseq]
    assert (finding.kind, finding.action, finding.new, finding.owner) == ("lease_lost", "close", True, "lena")
    assert finding.job_id == job.id and finding.hours_left is None
    assert "provider ended it" in finding.message and 0 < finding.escrow_left_uact < job.deposit_uact
    failed = service.ledger.job(job.id)
    assert failed.state == "failed" and "lease ended" in failed.error
    events = _event_count(service, job.id)
    again = await _reconcile(service)
    assert [(f.kind, f.new) for f in again.findings if f.dseq == job.dseq] == [("lease_lost", False)]
    assert _event_count(service, job.id) == events

    balance = devnet.chain.balance(job.account, "uact")
    escrow = await service.backend.escrow_left_uact(job.dseq)
    closed = await _close(service, job.id, "lena")
    assert closed["state"] == "closed" and closed["refund_uact"] == escrow  # the closed lease stopped paying
    assert devnet.chain.balance(job.account, "uact") == balance + escrow
    assert job.dseq not in {f.dseq for f in (await _reconcile(service)).findings}


async def test_escrow_running_low_on_a_tiny_deposit_is_reported_with_hours_left(service, devnet):
    done = await _deploy(service, "mona")  # 1 hour at mainnet prices: the 0.5 ACT minimum deposit
    job = service.ledger.job(done["job_id"])
    assert job.deposit_uact == service.settings.min_deposit_uact
    block_time = await service.backend.block_time_s()  # the devnet's real pace: 0.05 s blocks

    report = await _reconcile(service)
    [finding] = [f for f in report.findings if f.dseq == job.dseq]
    assert (finding.kind, finding.action, finding.new, finding.job_id) == ("escrow_low", None, True, job.id)
    price = Decimal(job.price_uact_per_block)
    expected = finding.escrow_left_uact / price * block_time / 3600
    assert 0 < finding.hours_left < 24
    assert finding.hours_left == pytest.approx(float(expected), abs=0.01)
    assert "escrow left" in finding.message and ("minutes" in finding.message or "hours" in finding.message)
    assert service.ledger.job(job.id).state == "running"
    # The status the chat shows agrees with reconcile: both count at the chain's real pace.
    status = (await service.status(job.id, owner="mona"))["job"]
    assert status["escrow_hours_left"] == pytest.approx(finding.hours_left, abs=0.1)
    events = _event_count(service, job.id)
    again = await _reconcile(service)
    assert [(f.kind, f.new) for f in again.findings if f.dseq == job.dseq] == [("escrow_low", False)]
    assert _event_count(service, job.id) == events
    # The threshold is the caller's: under a few seconds' worth, the same deployment is healthy.
    healthy = await _reconcile(service, low_escrow_hours=0.0001)
    assert [f.kind for f in healthy.findings if f.dseq == job.dseq] == ["ok"]
    await _close(service, job.id, "mona")
