"""The browser-wallet path on an account sequence mismatch (akash.md §2, security.md "Funds are never stranded").

The user's wallet app sends its own transaction between Necto's prepare and broadcast, taking the sequence the
prepared create-deployment was built for. CheckTx refuses the wallet's first signature (code 32); Necto must
ask the wallet again for the re-sequenced bytes (never broadcast a stale signature), and exactly one deposit
leaves the account.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import cosmpy.protos  # noqa: F401
import httpx
import pytest
from cosmos.tx.v1beta1 import tx_pb2
from cosmpy.crypto.keypairs import PrivateKey
from test_wallet_deploy import connect
from wallet_double import PythonWallet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "devnet"))
from devnet_testkit import URL_CLOSE_DEPLOYMENT, ChainClient, Wallet, close_deployment_msg  # noqa: E402

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

CREATE = "/akash.deployment.v1beta4.MsgCreateDeployment"


def _doc(request: dict) -> tuple[list[str], int]:
    """(message type URLs, signer sequence) of a signDirect request, decoded from the bytes the wallet signs."""
    body = tx_pb2.TxBody.FromString(base64.b64decode(request["signDoc"]["bodyBytes"]))
    auth = tx_pb2.AuthInfo.FromString(base64.b64decode(request["signDoc"]["authInfoBytes"]))
    return [m.type_url for m in body.messages], auth.signer_infos[0].sequence


async def test_a_sequence_taken_by_the_wallet_app_is_signed_again_in_the_wallet_and_deposited_once(service, devnet):
    wallet = PythonWallet()
    await connect(service, "uma", wallet)
    # The same key, outside Necto: the user's wallet app (signs with the raw key, the devnet test kit's signer).
    wallet_app = Wallet(key=PrivateKey(wallet.key.secret), address=wallet.address)
    assert wallet_app.pubkey == wallet.public_key
    competing: list[dict] = []

    async def ask(request: dict) -> dict:
        if request["kind"] == "direct" and not competing and _doc(request)[0] == [CREATE]:
            # Necto prepared the create at sequence N; the wallet app's own tx lands with N first.
            with httpx.Client(base_url=devnet.rest_url, timeout=30) as http:
                competing.append(ChainClient(http, devnet.chain.chain_id).send(
                    wallet_app, [(URL_CLOSE_DEPLOYMENT, close_deployment_msg(wallet.address, 1))]))
        return await wallet.ask(request)

    service.attach_wallet_signer("uma", ask)
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="uma")
    uact_before = devnet.chain.balance(wallet.address, "uact")
    sequence_before = devnet.chain.accounts[wallet.address].sequence
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="uma")
    assert competing and result["status"] == "ok" and result["state"] == "running", result
    job = service.ledger.job(result["job_id"])
    assert job.account == wallet.address

    # The wallet was asked twice for the create: the second time for the next sequence (the first is taken).
    creates = [_doc(r) for r in wallet.requests if r["kind"] == "direct" and _doc(r)[0] == [CREATE]]
    assert [sequence for _, sequence in creates] == [sequence_before, sequence_before + 1]
    assert competing[0]["height"] and int(competing[0]["height"]) > 0

    # The refused signature never reached a block; the re-signed one is the job's create tx.
    records = [t for t in service.ledger.transactions(job_id=job.id) if t.kind == "create deployment"]
    assert [t.status for t in records] == ["failed", "included"]
    assert "replaced" in records[0].error and "sequence mismatch" in records[0].error
    assert records[1].tx_hash == job.create_tx_hash != records[0].tx_hash
    assert devnet.chain.get_tx(records[0].tx_hash) is None
    assert devnet.chain.get_tx(job.create_tx_hash).code == 0

    # One deposit left the wallet's account, once, into one deployment.
    assert devnet.chain.balance(wallet.address, "uact") == uact_before - job.deposit_uact
    mine = [d for (owner, _), d in devnet.chain.deployments.items() if owner == wallet.address]
    assert [d.dseq for d in mine] == [job.dseq]
    assert mine[0].escrow_funds + mine[0].escrow_transferred == job.deposit_uact

    close = await service.create_close_plan(job.id, owner="uma")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="uma")
    assert closed["state"] == "closed" and closed["refund_uact"] > 0
