"""Every deploy failure path on the devnet ends with no funds stranded (security.md "Funds are never stranded").

Each test runs a fresh account (its own key in tmp_path) against the devnet over HTTP and checks, on the chain
itself: the deployment is closed, every lease closed, the escrow refunded to the account's uact balance minus
exactly what the leases were owed for the blocks they ran, and the job row says failed/closed with a reason.
Also: ACT minting (the BME) on an account funded with AKT only, and a halted BME refusing before signing.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from tools.errors import BmeHalted, PolicyDenied
from tools.wiring import build_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


def funded_by_faucet(service, devnet) -> int:
    """Credit the devnet faucet to the service's account; returns its uact balance afterwards."""
    devnet.chain.faucet(service.backend.address)
    return devnet.chain.balance(service.backend.address, "uact")


def assert_no_funds_stranded(service, devnet, job_id: str, *, uact_before: int):
    """The deployment and its leases are closed on chain, and the account got back everything but what the
    leases earned for the blocks they ran. Returns (job, uact the leases consumed)."""
    job = service.ledger.job(job_id)
    address = service.backend.address
    assert job.state in ("failed", "closed"), job.state
    if job.state == "failed":
        assert job.error, "a failed job says why"
    deployment = devnet.chain.deployments[(address, job.dseq)]
    assert deployment.state == "closed" and deployment.escrow_state == "closed"
    leases = [lease for lease in devnet.chain.leases.values() if lease.owner == address and lease.dseq == job.dseq]
    assert all(lease.state == "closed" for lease in leases)
    for lease in leases:  # a provider was paid for exactly the blocks its lease was open, nothing more
        assert lease.paid == (lease.closed_on - lease.created_at) * lease.price
    consumed = sum((lease.paid for lease in leases), Decimal(0))
    assert deployment.escrow_funds < 1  # only the sub-uact fraction Akash leaves behind on withdrawal
    assert job.refund_uact == job.deposit_uact - math.ceil(consumed)
    assert devnet.chain.balance(address, "uact") == uact_before - job.deposit_uact + job.refund_uact
    assert job.close_tx_hash and job.closed_at is not None
    ledger_rows = [d for d in service.ledger.deployments(address, chain_id=job.chain_id) if d.dseq == job.dseq]
    assert [d.state for d in ledger_rows] == ["closed"]  # the ledger agrees with the chain
    return job, consumed


async def deploy(service, owner: str, request: dict) -> dict:
    plan = await service.create_deploy_plan(request, port=None, offer_id=None, owner=owner)
    return await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)


async def test_no_bids_before_the_deadline_closes_and_refunds_the_whole_deposit(service, devnet):
    before = funded_by_faucet(service, devnet)
    result = await deploy(service, "nora", {"workload": "static", "max_usd_per_hour": 0.0000001})
    assert result["status"] == "error" and result["state"] == "failed"
    assert "No provider bid" in result["message"] and "refunded" in result["message"]
    job, consumed = assert_no_funds_stranded(service, devnet, result["job_id"], uact_before=before)
    assert consumed == 0 and job.refund_uact == job.deposit_uact and not job.lease_tx_hash


async def test_a_manifest_the_provider_rejects_is_retried_then_the_lease_and_deployment_closed(service, devnet):
    before = funded_by_faucet(service, devnet)
    original = service.machine._send_manifest

    async def manifest_changed_after_the_hash_went_on_chain(job):
        manifest = json.loads(job.manifest_json)
        manifest[0]["services"][0]["image"] = "someone/else:latest"
        return await original(service.ledger.update_job(job.id, manifest_json=json.dumps(manifest)))

    service.machine._send_manifest = manifest_changed_after_the_hash_went_on_chain
    result = await deploy(service, "omar", {"workload": "static"})
    assert result["state"] == "failed" and "manifest hash" in result["message"] and "refunded" in result["message"]
    events = [e.message for e in service.ledger.events(result["job_id"])]
    assert sum("rejected the manifest" in e and "trying once more" in e for e in events) == 1  # one retry
    job, _ = assert_no_funds_stranded(service, devnet, result["job_id"], uact_before=before)
    assert job.lease_tx_hash  # the lease existed and was closed with the deployment
    blocked = service.ledger.blocked_offers("omar", datetime.now(UTC))
    assert f"akash:{job.provider}" in blocked  # the next quote ranks without that provider


async def test_a_provider_that_goes_down_after_the_lease_is_left_and_everything_refunded(devnet, settings):
    service = build_service(settings.model_copy(update={"manifest_retries": 2, "bid_wait_blocks": 6}))
    original = service.machine._send_manifest

    async def provider_dies_first(job):
        for sim in devnet.providers:
            sim.online = lambda height: False  # the gateway now answers 503 and refuses websockets
        return await original(job)

    service.machine._send_manifest = provider_dies_first
    try:
        before = funded_by_faucet(service, devnet)
        result = await deploy(service, "pia", {"workload": "static"})
        assert result["state"] == "failed" and "closed" in result["message"]
        job, _ = assert_no_funds_stranded(service, devnet, result["job_id"], uact_before=before)
        assert job.lease_tx_hash
    finally:
        for sim in devnet.providers:
            sim.__dict__.pop("online", None)
        service.close()


async def test_a_sequence_mismatch_on_broadcast_is_resigned_once_without_a_second_deposit(service, devnet):
    from tools.akash import messages
    from tools.akash.signer import assemble_tx_raw
    from tools.akash.tx import build_auth_info, build_tx_body, tx_hash_of

    before = funded_by_faucet(service, devnet)
    address = service.backend.address
    original = service.backend.sign_and_send
    raced: list[str] = []

    async def another_client_of_this_account_sends_first() -> str:
        # Same key, same sequence: e.g. the user's wallet app sent a tx between Necto's prepare and broadcast.
        account = devnet.chain.accounts[address]
        body = build_tx_body([messages.msg_close_deployment(address, 1)])
        auth = build_auth_info(service.backend.signer.public_key, account.sequence, 200_000, 1_000)
        signature = service.backend.signer.sign_doc(body, auth, devnet.chain.chain_id, account.account_number)
        tx = assemble_tx_raw(body, auth, signature)
        async with httpx.AsyncClient(base_url=devnet.rest_url) as http:
            answer = await http.post("/cosmos/tx/v1beta1/txs", json={
                "tx_bytes": base64.b64encode(tx).decode(), "mode": "BROADCAST_MODE_SYNC"})
        assert answer.json()["tx_response"]["code"] == 0
        return tx_hash_of(tx)

    async def racing_sign_and_send(body, *, on_signed):
        if raced or [m["type"] for m in service.backend.describe(body)] != ["MsgCreateDeployment"]:
            return await original(body, on_signed=on_signed)

        async def first_signature_loses_the_race(tx_hash: str) -> None:
            if not raced:
                raced.append(await another_client_of_this_account_sends_first())
            on_signed(tx_hash)

        return await original(body, on_signed=first_signature_loses_the_race)

    service.backend.sign_and_send = racing_sign_and_send
    result = await deploy(service, "quin", {"workload": "static"})
    assert raced and result["status"] == "ok" and result["state"] == "running", result
    job = service.ledger.job(result["job_id"])
    creates = [t for t in service.ledger.transactions(job_id=job.id) if t.kind == "create deployment"]
    assert [t.status for t in creates] == ["failed", "included"]  # the refused signature, then the re-signed one
    assert "sequence mismatch" in creates[0].error and creates[1].tx_hash == job.create_tx_hash
    assert (await service.backend.find_tx(job.create_tx_hash)) is not None
    # One deposit left the account, once.
    assert devnet.chain.balance(address, "uact") == before - job.deposit_uact
    deployment = devnet.chain.deployments[(address, job.dseq)]
    assert deployment.escrow_funds + deployment.escrow_transferred == job.deposit_uact

    close = await service.create_close_plan(job.id, owner="quin")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="quin")
    assert closed["message"] == f"Closed deployment {job.dseq}. Refunded {closed['refund_act']} ACT."
    assert_no_funds_stranded(service, devnet, job.id, uact_before=before)


def akt_only_account(service, devnet, uakt: int) -> str:
    """An account like one on mainnet: AKT from an exchange, no ACT and no faucet to top it up."""
    service.backend.faucet = False
    address = service.backend.address
    devnet.chain.credit(address, "uakt", uakt)
    return address


async def test_a_halted_bme_refuses_the_mint_with_a_typed_error_and_signs_nothing(service, devnet):
    from tools.agent_tools import build_agent_tools

    address = akt_only_account(service, devnet, 40_000_000)
    approved_earlier = await service.create_mint_plan("rita", act_amount=20)
    deploy_plan = None
    devnet.chain.mints_allowed = False  # the vault's collateral ratio fell under the circuit breaker
    try:
        with pytest.raises(BmeHalted) as info:
            await service.create_mint_plan("rita", act_amount=20)
        assert info.value.message.startswith(
            "Minting ACT is paused on chain: the vault's collateral ratio is below the circuit breaker")
        assert "Your AKT is untouched" in info.value.message
        # Checked again right before signing: a card approved while mints were allowed is not signed now.
        with pytest.raises(BmeHalted):
            await service.execute_mint_plan(approved_earlier["plan_id"], confirmed_hash=approved_earlier["plan_hash"],
                                            owner="rita")
        # The agent's tool answers with the typed error, never a traceback.
        mint_act = next(t for t in build_agent_tools(service) if t.__name__ == "mint_act")
        answer = await mint_act(act_amount=20)
        assert answer["status"] == "error" and answer["error"] == "BmeHalted" and answer["hint"]
        # A deploy plan the account can't pay for says so, and that minting is paused.
        deploy_plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="rita")
        funding = deploy_plan["funding"]
        assert funding["status"] == "short" and funding["mint_possible"] is False
        assert "paused" in funding["mint_error"]
    finally:
        devnet.chain.mints_allowed = True
    assert devnet.chain.accounts[address].sequence == 0  # nothing was ever signed by this account
    assert devnet.chain.balance(address, "uakt") == 40_000_000 and devnet.chain.balance(address, "uact") == 0
    assert service.ledger.transactions(owner="rita") == []
    audit = [(a.action, a.result) for a in service.ledger.audit_entries("rita")]
    assert ("mint ACT", "refused before signing: " + info.value.message) in audit
    # That plan is spent: approving it again later does not sign it either.
    with pytest.raises(PolicyDenied):
        await service.execute_mint_plan(approved_earlier["plan_id"], confirmed_hash=approved_earlier["plan_hash"],
                                        owner="rita")
    assert devnet.chain.accounts[address].sequence == 0


async def test_an_akt_only_account_mints_act_then_deploys_and_gets_the_refund(service, devnet):
    address = akt_only_account(service, devnet, 80_000_000)
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="sam")
    funding = plan["funding"]
    assert funding["status"] == "short" and funding["act_balance"] == "0" and funding["mint_possible"] is True
    assert plan["plan_id"] in funding["next_step"]
    deposit = plan["summary"]["deposit_uact"]

    mint = await service.create_mint_plan("sam", for_plan_id=plan["plan_id"])
    card = service.plan_summary(mint["plan_id"], owner="sam")["card"]
    # The card is the decoded MsgMintACT: burn at the oracle price (devnet: $1.25) with a 5% margin.
    fields = card["messages"][0]["fields"]
    assert card["action"] == "mint ACT" and card["messages"][0]["type_url"] == "/akash.bme.v1.MsgMintACT"
    assert fields["owner"] == fields["to"] == address == card["owner"]
    assert fields["coins_to_burn"] == {"denom": "uakt", "amount": str(card["burn_uakt"])}
    target = max(deposit, 10_000_000)
    assert card["burn_uakt"] == math.ceil(Decimal(target) * Decimal("1.05") / Decimal("1.25"))
    assert card["expected_uact"] == int(card["burn_uakt"] * Decimal("1.25")) >= target
    assert card["chain_id"] == "necto-sandbox-1" and card["fee_uakt_max"] and card["plan_hash"] == mint["plan_hash"]
    assert "Mint ACT" in service.plan_summary(mint["plan_id"], owner="sam")["text"]

    with pytest.raises(PolicyDenied):  # a card that isn't this plan signs nothing
        await service.execute_mint_plan(mint["plan_id"], confirmed_hash="0" * 64, owner="sam")
    minted = await service.execute_mint_plan(mint["plan_id"], confirmed_hash=mint["plan_hash"], owner="sam")
    assert minted["status"] == "ok" and minted["settled"] is True, minted
    assert devnet.chain.balance(address, "uact") == card["expected_uact"]
    assert devnet.chain.balance(address, "uakt") <= 80_000_000 - card["burn_uakt"]
    assert minted["minted_act"] == str(Decimal(card["expected_uact"]) / 1_000_000).rstrip("0").rstrip(".")
    assert minted["for_plan_id"] == plan["plan_id"]
    uakt_after_mint = devnet.chain.balance(address, "uakt")
    again = await service.execute_mint_plan(mint["plan_id"], confirmed_hash=mint["plan_hash"], owner="sam")
    assert again["already_signed"] is True and devnet.chain.balance(address, "uakt") == uakt_after_mint
    mints = [t for t in service.ledger.transactions(owner="sam") if t.kind == "mint ACT"]
    assert [t.status for t in mints] == ["included"]
    actions = [a.action for a in service.ledger.audit_entries("sam")]
    assert {"approve mint plan", "mint ACT", "mint ACT settled"} <= set(actions)

    before = devnet.chain.balance(address, "uact")
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="sam")
    assert result["status"] == "ok" and result["state"] == "running", result
    close = await service.create_close_plan(result["job_id"], owner="sam")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="sam")
    assert closed["state"] == "closed" and "Refunded" in closed["message"]
    assert_no_funds_stranded(service, devnet, result["job_id"], uact_before=before)


async def test_a_mint_for_a_plan_the_balance_already_covers_is_refused(service, devnet):
    funded_by_faucet(service, devnet)
    service.backend.faucet = False
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="tia")
    assert "funding" not in plan
    from tools.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="no mint is needed"):
        await service.create_mint_plan("tia", for_plan_id=plan["plan_id"])
    with pytest.raises(InvalidRequest):
        await service.create_mint_plan("tia")
