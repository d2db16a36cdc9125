"""The buyer flow end to end on the devnet: quote -> plan -> confirm -> running -> logs -> close -> refund.

Real parts only: the devnet over HTTP (signed protobuf txs, bids, escrow), the local key signer, SQLite.
"""

from __future__ import annotations

import pytest

from tools.errors import InvalidRequest, JobNotFound, PlanNotFound, PolicyDenied

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_quote_compares_akash_with_a_fixed_rate_catalog(service):
    result = await service.quote({"workload": "nextjs"}, limit=30)
    assert result["status"] == "ok"
    sources = {o["source"] for o in result["offers"]}
    assert "akash" in sources
    assert result["recommendation"]["source"] == "akash"
    assert result["offers"][0]["source"] == "akash"  # a GPU box is far dearer than a small Akash lease
    gpu = await service.quote({"gpu_model": "a100", "hours": 10, "objective": "cheapest"}, limit=50)
    assert {"akash", "lambda"} <= {o["source"] for o in gpu["offers"]}
    assert gpu["recommendation"]["deployable"] is True
    prices = [o["usd_total"] for o in gpu["offers"]]
    assert prices == sorted(prices), "cheapest objective ranks by total cost"


async def test_deploy_runs_streams_logs_and_close_refunds(service, devnet):
    owner = "alice"
    plan = await service.create_deploy_plan({"workload": "nextjs"}, port=None, offer_id=None, owner=owner)
    card = plan["summary"]
    assert card["network"] == "sandbox" and card["chain_id"] == "necto-sandbox-1"
    assert card["messages"][0]["type_url"] == "/akash.deployment.v1beta4.MsgCreateDeployment"
    assert card["ports"] and card["images"]
    assert "CPU" in card["resources"] and "GiB RAM" in card["resources"]
    address = service.backend.address

    # A card that does not match the stored plan is refused, and nothing reaches the chain.
    with pytest.raises(PolicyDenied):
        await service.execute_deploy_plan(plan["plan_id"], confirmed_hash="0" * 64, owner=owner)
    with pytest.raises(PlanNotFound):
        await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="mallory")
    assert await service.backend.deployment_state(card["dseq"]) is None

    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
    assert result["status"] == "ok", result
    assert result["state"] == "running"
    assert any(".ingress." in uri for uri in result["uris"])
    uact_after_deploy = devnet.chain.balance(address, "uact")

    # ADK may run a confirmed tool again: the same plan never signs twice.
    again = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
    assert again["job_id"] == result["job_id"]
    assert devnet.chain.balance(address, "uact") == uact_after_deploy

    logs = await service.logs(result["job_id"], tail=20, service=None, owner=owner)
    assert logs["lines"] and all(set(line) == {"service", "message"} for line in logs["lines"])

    status = await service.status(result["job_id"], owner=owner)
    assert status["job"]["state"] == "running" and status["job"]["provider"]
    assert 0 < status["job"]["escrow_left_act"] * 1e6 <= card["deposit_uact"]
    assert status["job"]["escrow_hours_left"] > 0
    with pytest.raises(JobNotFound):
        await service.status(result["job_id"], owner="mallory")

    close_plan = await service.create_close_plan(result["job_id"], owner=owner)
    close_card = service.plan_summary(close_plan["plan_id"], owner=owner)["card"]
    assert close_card["action"] == "close deployment" and close_card["dseq"] == card["dseq"]
    assert 0 < float(close_card["refund_estimate_act"]) <= card["deposit_uact"] / 1e6
    closed = await service.execute_close_plan(close_plan["plan_id"], confirmed_hash=close_plan["plan_hash"], owner=owner)
    assert closed["state"] == "closed"
    job = service.ledger.job(result["job_id"])
    spent = job.deposit_uact - closed["refund_uact"]
    assert 0 < spent < job.deposit_uact  # some blocks were paid for, the rest came back
    assert devnet.chain.balance(address, "uact") == uact_after_deploy + closed["refund_uact"]
    assert await service.backend.deployment_state(job.dseq) == "closed"

    audit = [entry.action for entry in service.ledger.audit_entries(owner)]
    for action in ("approve deployment plan", "create deployment", "create lease", "approve close plan", "close deployment"):
        assert action in audit


async def test_budget_too_low_for_any_bid_fails_cleanly_and_refunds(service, devnet):
    plan = await service.create_deploy_plan(
        {"workload": "static", "max_usd_per_hour": 0.0000001}, port=None, offer_id=None, owner="bob"
    )
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="bob")
    assert result["status"] == "error" and result["state"] == "failed"
    assert "No provider bid" in result["message"]
    job = service.ledger.job(result["job_id"])
    assert job.refund_uact == job.deposit_uact  # no lease, so every uact came back
    assert await service.backend.deployment_state(job.dseq) == "closed"


async def test_bad_requests_get_clear_errors(service):
    with pytest.raises(InvalidRequest) as info:
        await service.create_deploy_plan({"workload": "custom"}, port=None, offer_id=None, owner="a")
    assert "image" in info.value.message
    with pytest.raises(InvalidRequest):
        await service.create_deploy_plan({"workload": "nextjs", "cpu": 10_000}, port=None, offer_id=None, owner="a")
    with pytest.raises(InvalidRequest):
        await service.create_deploy_plan({"workload": "minecraft"}, port=None, offer_id=None, owner="a")


async def test_a_crash_mid_deploy_resumes_on_restart_without_paying_twice(settings, devnet):
    import asyncio

    from tools.wiring import build_service

    first = build_service(settings)
    plan = await first.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="gina")
    task = asyncio.ensure_future(
        first.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="gina")
    )
    for _ in range(400):
        jobs = first.ledger.list_jobs(owner="gina")
        if jobs and jobs[0].state == "bids":
            break
        await asyncio.sleep(0.02)
    # The process dies while bids are arriving: the machine's task stops with it.
    for running in list(first._running.values()):
        running.cancel()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    crashed = first.ledger.list_jobs(owner="gina")[0]
    assert crashed.state == "bids" and crashed.create_tx_hash
    uact_before = devnet.chain.balance(first.backend.address, "uact")

    second = build_service(settings)  # a new process: same database, same key, same chain
    results = await second.resume_unfinished()
    assert [r["state"] for r in results] == ["running"]
    job = second.ledger.job(crashed.id)
    assert job.state == "running" and job.create_tx_hash == crashed.create_tx_hash
    # No second deposit: the balance only moved by what escrow does not touch (nothing).
    assert devnet.chain.balance(second.backend.address, "uact") == uact_before
    close = await second.create_close_plan(job.id, owner="gina")
    await second.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="gina")


async def test_an_approved_but_unsigned_job_is_not_signed_after_a_restart(settings, devnet):
    from tools.ledger import Job
    from tools.wiring import build_service

    svc = build_service(settings)
    plan = await svc.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="hank")
    svc.ledger.add_job(Job(id="job_stale", owner="hank", plan_id=plan["plan_id"], network="sandbox",
                           chain_id="necto-sandbox-1", dseq=plan["summary"]["dseq"], deposit_uact=500_000,
                           max_price_uact_per_block="10", state="confirmed"))
    results = await build_service(settings).resume_unfinished()
    assert [r["state"] for r in results] == ["failed"]
    assert await svc.backend.deployment_state(plan["summary"]["dseq"]) is None


async def test_templates_with_required_secrets_generate_them_and_never_return_them(service):
    plan = await service.create_deploy_plan({"workload": "postgres"}, port=None, offer_id=None, owner="kim")
    assert "POSTGRES_PASSWORD=<hidden>" in plan["sdl"]
    assert any("POSTGRES_PASSWORD" in note for note in plan["summary"]["notes"])
    done = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="kim")
    assert done["state"] == "running", done
    found = service.secrets(done["job_id"], owner="kim")
    assert set(found) == {"POSTGRES_PASSWORD"} and len(found["POSTGRES_PASSWORD"]) >= 24
    secret = found["POSTGRES_PASSWORD"]
    # The value reached the provider (in the manifest) but nothing returned to a model carries it.
    import json as _json

    assert secret not in _json.dumps(plan) and secret not in _json.dumps(done)
    assert secret not in _json.dumps(await service.status(done["job_id"], owner="kim"))
    with pytest.raises(JobNotFound):
        service.secrets(done["job_id"], owner="mallory")
    given = await service.create_deploy_plan({"workload": "postgres"}, port=None, offer_id=None, owner="kim",
                                             env={"POSTGRES_PASSWORD": "user-chosen-secret"})
    assert "user-chosen-secret" not in _json.dumps(given)
    assert not any("generated" in note for note in given["summary"]["notes"])


async def test_a_dropped_chat_connection_does_not_abort_the_deploy(service):
    import asyncio

    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="lee")
    handler = asyncio.ensure_future(
        service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="lee")
    )
    for _ in range(400):
        jobs = service.ledger.list_jobs(owner="lee")
        if jobs and jobs[0].state == "bids":
            break
        await asyncio.sleep(0.02)
    handler.cancel()  # the browser went away: Chainlit cancels the handler, not the deploy
    with pytest.raises(asyncio.CancelledError):
        await handler
    for _ in range(600):
        job = service.ledger.list_jobs(owner="lee")[0]
        if job.state in ("running", "failed"):
            break
        await asyncio.sleep(0.05)
    assert job.state == "running"
    # Reconnecting and asking again reports the same job; nothing is signed twice.
    again = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="lee")
    assert again["job_id"] == job.id and again["state"] == "running"


async def test_start_up_marks_running_jobs_that_the_chain_closed(service):
    from tools.ledger import Job, Plan

    service.ledger.add_plan(Plan(id="plan_gone", owner="max", kind="deploy", plan_hash="h", body_json="{}"))
    service.ledger.add_job(Job(id="job_gone", owner="max", plan_id="plan_gone", network="sandbox",
                               chain_id="necto-sandbox-1", account=service.backend.address, dseq=123456789,
                               state="running"))
    results = await service.resume_unfinished()
    assert {"job_id": "job_gone", "state": "closed"}.items() <= next(r for r in results if r["job_id"] == "job_gone").items()
    assert service.ledger.job("job_gone").state == "closed"


async def test_uakt_prices_convert_with_the_chain_oracle(service, devnet):
    result = await service.normalize_price(1000, "uakt_per_block", None)
    assert "akash-oracle" in result["inputs"]["denom_usd"]
    # 1000 uakt/block at 6.098 s and the devnet's AKT price (1.25 USD): 0.590357 * 1.25
    assert abs(result["usd_per_hour"] - 0.590357 * float(devnet.chain.akt_price_usd)) < 1e-5
    given = await service.normalize_price(1000, "uakt_per_block", 2.0)
    assert abs(given["usd_per_hour"] - 1.180714) < 1e-5


async def test_a_provider_that_goes_down_after_the_lease_gets_the_deployment_closed_and_refunded(devnet, tmp_path):
    from tools.settings import NectoSettings
    from tools.wiring import build_service

    settings = NectoSettings(data_dir=tmp_path, rest_url=devnet.rest_url, bid_wait_blocks=6, manifest_retries=2,
                             catalog_dir=tmp_path / "none")
    service = build_service(settings)
    original = service.machine._send_manifest

    async def provider_dies_first(job):
        for sim in devnet.providers:
            sim.online = lambda height: False  # the gateway now answers 503 and refuses websockets
        return await original(job)

    service.machine._send_manifest = provider_dies_first
    try:
        plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="otto")
        result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="otto")
        assert result["state"] == "failed"
        assert "closed" in result["message"] and "refunded" in result["message"]
        job = service.ledger.job(result["job_id"])
        assert job.lease_tx_hash and job.close_tx_hash
        assert 0 < job.refund_uact <= job.deposit_uact
        assert await service.backend.deployment_state(job.dseq) == "closed"
    finally:
        for sim in devnet.providers:
            sim.__dict__.pop("online", None)
        service.close()
