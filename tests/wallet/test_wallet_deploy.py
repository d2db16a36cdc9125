"""The wallet path on the devnet: connect (sign-in), deploy, logs, close, each transaction signed by the
user's wallet (a real key in Python standing in for Keplr) and verified by the server before broadcast."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
from wallet_double import PythonWallet

from tools.errors import JobNotFound
from tools.wallet.errors import LedgerUnsupported, SignInFailed, WrongNetwork

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def connect(service, owner: str, wallet: PythonWallet, *, is_ledger: bool = False, chain_id: str | None = None):
    challenge = service.wallet_challenge(owner)
    signature = base64.b64decode(wallet.sign_arbitrary(wallet.address, challenge["text"])["signature"])
    return await service.connect_wallet(
        owner, address=wallet.address, public_key=wallet.public_key,
        chain_id=chain_id or service.settings.effective_chain_id, wallet="keplr", is_ledger=is_ledger,
        nonce=challenge["nonce"], signature=signature,
    )


async def test_deploy_logs_and_close_are_signed_by_the_wallet(service, devnet):
    wallet = PythonWallet()
    connected = await connect(service, "alice", wallet)
    assert connected["address"] == wallet.address
    assert float(connected["balances"]["act"]) > 0 and float(connected["balances"]["akt"]) > 0  # sandbox faucet
    service.attach_wallet_signer("alice", wallet.ask)

    plan = await service.create_deploy_plan({"workload": "nextjs"}, port=None, offer_id=None, owner="alice")
    assert plan["summary"]["owner"] == wallet.address  # the card names the account that will sign
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="alice")
    assert result["status"] == "ok" and result["state"] == "running", result
    job = service.ledger.job(result["job_id"])
    assert job.account == wallet.address
    assert devnet.chain.get_account(wallet.address).pubkey == wallet.public_key
    # create deployment, create lease (signDirect), the provider token (signArbitrary) for the manifest
    assert wallet.kinds() == ["direct", "direct", "arbitrary"]
    assert all(r["signer"] == wallet.address for r in wallet.requests)

    logs = await service.logs(result["job_id"], tail=10, service=None, owner="alice")
    assert logs["lines"]
    assert wallet.kinds().count("arbitrary") == 1  # the token is cached

    close = await service.create_close_plan(result["job_id"], owner="alice")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="alice")
    assert closed["state"] == "closed" and closed["refund_uact"] > 0
    assert wallet.kinds()[-1] == "direct"
    # The deployment was the wallet's on chain, never the local key's.
    assert devnet.chain.deployments.get((service.backend.address, job.dseq)) is None
    with pytest.raises(JobNotFound):
        await service.status(result["job_id"], owner="mallory")


async def test_a_rejection_or_tampering_broadcasts_nothing_and_the_job_resumes(service, devnet):
    wallet = PythonWallet()
    await connect(service, "bob", wallet)
    service.attach_wallet_signer("bob", wallet.ask)
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="bob")
    dseq = plan["summary"]["dseq"]

    wallet.refuse = "rejected"
    paused = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="bob")
    assert paused["status"] == "error" and paused["error"] == "WalletRejected" and paused["resumable"]
    assert paused["state"] == "confirmed"
    job = service.ledger.job(paused["job_id"])
    assert job.create_tx_hash == "" and devnet.chain.deployments.get((wallet.address, dseq)) is None
    assert any("Waiting for your wallet" in e.message for e in service.ledger.events(job.id))

    wallet.refuse = None
    wallet.tamper = lambda doc: {**doc, "authInfoBytes": doc["authInfoBytes"][:-4] + "AAAA"}
    tampered = await service.resume_job(job.id, owner="bob")
    assert tampered["status"] == "error" and tampered["resumable"] and tampered["state"] == "confirmed"
    assert service.ledger.job(job.id).create_tx_hash == ""

    service.detach_wallet_signer("bob")
    unavailable = await service.resume_job(job.id, owner="bob")
    assert unavailable["error"] == "WalletUnavailable" and "reconnect your wallet" in unavailable["hint"]

    wallet.tamper = None
    service.attach_wallet_signer("bob", wallet.ask)
    done = await service.resume_job(None, owner="bob")
    assert done["status"] == "ok" and done["state"] == "running", done
    assert [a.action for a in service.ledger.audit_entries("bob")].count("resume job") == 3


async def test_sign_in_errors_and_ledger_accounts(service):
    wallet = PythonWallet()
    with pytest.raises(WrongNetwork):
        await connect(service, "carol", wallet, chain_id="akashnet-2")
    challenge = service.wallet_challenge("carol")
    with pytest.raises(SignInFailed):
        await service.connect_wallet("carol", address=wallet.address, public_key=wallet.public_key,
                                     chain_id=service.settings.effective_chain_id, wallet="keplr", is_ledger=False,
                                     nonce=challenge["nonce"], signature=b"\x01" * 64)
    with pytest.raises(LedgerUnsupported) as info:
        await connect(service, "carol", wallet, is_ledger=True)
    assert "software key" in info.value.hint and "CLI" in info.value.hint
    # A Ledger account is never the signer: carol's plans still use the local key.
    assert service.backend_for("carol") is service.backend
    status = await service.wallet_status("carol")
    assert status["connected"] and status["is_ledger"]
    # Each user sees only their own wallet.
    assert (await service.wallet_status("dave"))["connected"] is False


async def test_reconcile_watches_wallet_accounts_too(service, devnet):
    # A wallet's deployments live on the wallet's account, not the local key's: reconcile checks every connected
    # wallet (read-only) and tells the wallet's owner; the close it offers is signed in the wallet.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
    from test_reconcile_devnet import _provider_drops_lease

    wallet = PythonWallet()
    await connect(service, "wendy", wallet)
    service.attach_wallet_signer("wendy", wallet.ask)
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="wendy")
    done = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="wendy")
    job = service.ledger.job(done["job_id"])
    assert job.account == wallet.address != service.backend.address

    healthy = await service.reconcile_chain()
    [seen] = [f for f in healthy.findings if f.dseq == job.dseq]
    assert seen.owner == "wendy" and seen.kind in ("ok", "escrow_low")  # the test deposit lasts minutes

    _provider_drops_lease(devnet.chain, wallet.address, job.dseq)
    report = await service.reconcile_chain()
    [finding] = [f for f in report.findings if f.dseq == job.dseq]
    assert (finding.kind, finding.owner, finding.action) == ("lease_lost", "wendy", "close")
    assert [f["dseq"] for f in service.reconcile_findings("wendy")] == [job.dseq]
    assert service.reconcile_findings("local") == []

    signed = wallet.kinds().count("direct")
    close = await service.create_close_plan(job.id, owner="wendy")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="wendy")
    assert closed["state"] == "closed" and wallet.kinds().count("direct") == signed + 1
