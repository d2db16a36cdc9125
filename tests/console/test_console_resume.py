"""A crash on the Console rail right after Console created the deployment (security.md "Funds are never stranded").

Console picks the dseq; Necto records it the moment Console answers, before reading the deployment back. The
process then dies (an exception raised inside the backend right after Console's answer), a fresh NectoService on
the same database runs ``resume_unfinished()``, and the job goes on with Console's deployment: running, or closed
with the deposit back in the Console credit. No Console deployment is ever left open without its job.
"""

from __future__ import annotations

import pytest
from test_console_devnet import console_settings, new_account

from devnet.console_api import console_state
from devnet.server import start_devnet
from tools.console.backend import ConsoleBackend
from tools.wiring import build_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


class ProcessDied(Exception):
    """Stands in for the process going away: not a NectoError, so nothing in Necto handles it."""


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=24, seed=11, bid_window_blocks=40) as handle:
        # These tests are about the crash, not flaky providers: the devnet's "cheap-flaky" ones (offline 20% of
        # the time, and the cheapest, so often chosen) stay online here.
        for sim in handle.providers:
            sim.online = lambda height, offline=sim.strategy.always_offline: not offline
        yield handle


async def _die_after_consoles_answer(*_args, **_kwargs):
    raise ProcessDied("killed right after Console answered the create")


async def crash_during_create(devnet, tmp_path, key: str, owner: str, monkeypatch, *, early_dseq: bool = True):
    """Approve a deploy plan on the Console rail and let the process die right after Console's answer.
    Returns (settings, plan, the job as the dead process left it)."""
    settings = console_settings(devnet, tmp_path, key)
    service = build_service(settings)
    try:
        plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner=owner)
        with monkeypatch.context() as patch:
            patch.setattr(ConsoleBackend, "_read_created", _die_after_consoles_answer)
            if not early_dseq:  # a ledger written before Necto recorded Console's dseq early
                patch.setattr(ConsoleBackend, "chooses_dseq", False)
            with pytest.raises(ProcessDied):
                await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
        [job] = service.ledger.list_jobs(owner=owner)
    finally:
        service.close()
    return settings, plan, job


def open_deployments(devnet, address: str) -> list[int]:
    return sorted(d.dseq for (o, _), d in devnet.chain.deployments.items() if o == address and d.state == "active")


def assert_nothing_untracked(service, devnet, address: str) -> None:
    """Reconcile at start-up saw every open deployment of the managed wallet as a tracked job's (none adopted
    as "found" with a close action)."""
    findings = service.last_reconcile.findings
    assert not [f for f in findings if f.kind == "untracked"], findings
    for dseq in open_deployments(devnet, address):
        assert [f.kind for f in findings if f.dseq == dseq] in ([], ["ok"]), findings


async def test_a_crash_after_console_created_the_deployment_resumes_it_to_running(devnet, tmp_path, monkeypatch):
    key = new_account(devnet, credit_usd=50)
    account = console_state(devnet.chain).accounts[key]
    settings, plan, crashed = await crash_during_create(devnet, tmp_path, key, "erin", monkeypatch)
    deposit = plan["summary"]["deposit_uact"]

    # Console's dseq reached the ledger before the process died: the job already names the real deployment.
    [console_dseq] = open_deployments(devnet, account.address)
    assert crashed.dseq == console_dseq and crashed.state == "broadcast" and crashed.create_tx_hash
    assert account.credit_uusd == 50_000_000 - deposit

    service = build_service(settings)  # the restarted process, same database
    try:
        results = await service.resume_unfinished()
        [result] = [r for r in results if r["job_id"] == crashed.id]
        assert result["status"] == "ok" and result["state"] == "running", result
        job = service.ledger.job(crashed.id)
        assert job.dseq == console_dseq and job.provider
        assert_nothing_untracked(service, devnet, account.address)
        assert [j.id for j in service.ledger.list_jobs(owner="erin")] == [crashed.id]  # nothing adopted
        assert open_deployments(devnet, account.address) == [console_dseq]
        assert account.credit_uusd == 50_000_000 - deposit  # one deposit, once
        creates = [t for t in service.ledger.transactions(job_id=job.id) if t.kind == "create deployment"]
        assert [(t.tx_hash, t.status) for t in creates] == [(job.create_tx_hash, "included")]
        assert any("payment rail chose its number" in e.message for e in service.ledger.events(job.id))

        close = await service.create_close_plan(job.id, owner="erin")
        closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="erin")
        assert closed["state"] == "closed" and closed["refund_uact"] > 0
        assert open_deployments(devnet, account.address) == []
    finally:
        service.close()


async def test_a_job_left_with_necto_s_placeholder_dseq_finds_console_s_deployment_by_its_tx(
    devnet, tmp_path, monkeypatch
):
    key = new_account(devnet, credit_usd=50)
    account = console_state(devnet.chain).accounts[key]
    settings, plan, crashed = await crash_during_create(devnet, tmp_path, key, "fay", monkeypatch, early_dseq=False)
    [console_dseq] = open_deployments(devnet, account.address)
    # What the dead process recorded: Console's create tx hash, but still Necto's placeholder dseq.
    assert crashed.dseq != console_dseq and crashed.state == "broadcast" and crashed.create_tx_hash

    service = build_service(settings)
    try:
        results = await service.resume_unfinished()
        [result] = [r for r in results if r["job_id"] == crashed.id]
        assert result["status"] == "ok" and result["state"] == "running", result
        assert service.ledger.job(crashed.id).dseq == console_dseq
        assert_nothing_untracked(service, devnet, account.address)
        assert [j.id for j in service.ledger.list_jobs(owner="fay")] == [crashed.id]
        assert account.credit_uusd == 50_000_000 - plan["summary"]["deposit_uact"]

        close = await service.create_close_plan(crashed.id, owner="fay")
        closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="fay")
        assert closed["state"] == "closed" and open_deployments(devnet, account.address) == []
    finally:
        service.close()


async def test_a_deployment_that_differs_from_the_plan_is_closed_on_resume_and_the_credit_refunded(
    devnet, tmp_path, monkeypatch
):
    key = new_account(devnet, credit_usd=30)
    account = console_state(devnet.chain).accounts[key]
    state = console_state(devnet.chain)
    state.rewrite_sdl = lambda sdl: sdl.replace("image: ", "image: attacker/", 1)
    try:
        settings, plan, crashed = await crash_during_create(devnet, tmp_path, key, "gus", monkeypatch)
    finally:
        state.rewrite_sdl = None
    [console_dseq] = open_deployments(devnet, account.address)  # the check that would have caught it never ran
    assert crashed.dseq == console_dseq

    service = build_service(settings)
    try:
        results = await service.resume_unfinished()
        [result] = [r for r in results if r["job_id"] == crashed.id]
        assert result["state"] == "failed" and "differs from the one you approved" in result["message"], result
        assert "closed it at once" in result["message"]
        assert open_deployments(devnet, account.address) == []
        assert account.credit_uusd == 30_000_000  # no lease was made: the whole deposit came back
        assert_nothing_untracked(service, devnet, account.address)
    finally:
        service.close()
