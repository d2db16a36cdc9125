"""The Console managed-wallet rail end to end on the devnet: its Console routes (checked against
console-openapi.json), then NectoService with NECTO_PAYMENT_RAIL=console: plan -> approve -> running -> logs
-> close with the refund back in the Console credit; a bad key, short credit and a Console that deploys
something else than what was approved. The API key must never show up in logs, errors, cards or events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from decimal import Decimal
from pathlib import Path

import httpx
import jsonschema
import pytest
from pydantic import SecretStr

from devnet.console_api import SANDBOX_CONSOLE_API_KEY, console_state
from devnet.server import start_devnet
from tools.console.client import ConsoleClient
from tools.console.errors import ConsoleAuthError
from tools.settings import NectoSettings
from tools.wiring import build_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]

OPENAPI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "akash" / "console-openapi.json"
SDL = """
version: "2.0"
services:
  web:
    image: nginx:1.27
    expose:
      - port: 80
        as: 80
        to:
          - global: true
profiles:
  compute:
    web:
      resources:
        cpu: {units: 0.5}
        memory: {size: 512Mi}
        storage: {size: 1Gi}
  placement:
    dcloud:
      pricing:
        web: {denom: uact, amount: 1000}
deployment:
  web:
    dcloud:
      profile: web
      count: 1
"""


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=24, seed=11, bid_window_blocks=40) as handle:
        yield handle


def new_account(devnet, credit_usd: int | str = 50) -> str:
    key = f"ac.sk.test.{secrets.token_hex(16)}"
    console_state(devnet.chain).add_account(key, credit_usd=credit_usd)
    return key


def console_settings(devnet, tmp_path, key: str) -> NectoSettings:
    return NectoSettings(
        data_dir=tmp_path, rest_url=devnet.rest_url, console_api_url=devnet.console_url, payment_rail="console",
        console_api_key=SecretStr(key), bid_wait_blocks=8, bid_deadline_s=20, lease_ready_timeout_s=30,
        tx_inclusion_timeout_s=20, catalog_dir=tmp_path / "no-catalogs",
    )


# --- the devnet's Console routes answer what console-openapi.json documents -----------------------------------
def _schema(document: dict, path: str, method: str, status: str) -> dict:
    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(document["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
            out = {k: resolve(v) for k, v in node.items() if k != "pattern"}  # the published "^d+$" lost its backslash
            if out.pop("nullable", False) and "type" in out:
                out["type"] = [out["type"], "null"]
            return out
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    operation = document["paths"][path][method]
    return resolve(operation["responses"][status]["content"]["application/json"]["schema"])


def conforms(document: dict, path: str, method: str, answer: httpx.Response, status: int = 200) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    jsonschema.validate(body, _schema(document, path, method, str(status)))
    return body["data"]


async def test_console_routes_follow_the_openapi_document(devnet):
    if not OPENAPI.is_file():
        pytest.skip("../shared/data/akash/console-openapi.json is not beside the repository")
    document = json.loads(OPENAPI.read_text())
    key = new_account(devnet, credit_usd=20)
    account = console_state(devnet.chain).accounts[key]
    headers = {"x-api-key": key}
    async with httpx.AsyncClient(base_url=devnet.console_url, headers=headers, timeout=30) as http:
        created = conforms(document, "/v1/deployments", "post",
                           await http.post("/v1/deployments", json={"data": {"sdl": SDL, "deposit": 5}}), 201)
        dseq = int(created["dseq"])
        assert created["signTx"]["code"] == 0
        assert devnet.chain.deployments[(account.address, dseq)].state == "active"
        assert account.credit_uusd == 15_000_000  # $5 went into escrow
        bids = []
        for _ in range(200):
            bids = conforms(document, "/v1/bids", "get", await http.get("/v1/bids", params={"dseq": str(dseq)}))
            if bids:
                break
            await asyncio.sleep(0.05)
        bid = min(bids, key=lambda b: Decimal(b["bid"]["price"]["amount"]))["bid"]["id"]
        lease = {"dseq": str(dseq), "gseq": bid["gseq"], "oseq": bid["oseq"], "provider": bid["provider"]}
        tampered = created["manifest"].replace("nginx:1.27", "nginx:evil")
        refused = await http.post("/v1/leases", json={"manifest": tampered, "leases": [lease]})
        assert refused.status_code == 400 and "hash" in refused.json()["message"]
        leased = conforms(document, "/v1/leases", "post",
                          await http.post("/v1/leases", json={"manifest": created["manifest"], "leases": [lease]}))
        again = conforms(document, "/v1/leases", "post",
                         await http.post("/v1/leases", json={"manifest": created["manifest"], "leases": [lease]}))
        assert [x["state"] for x in leased["leases"]] == ["active"] and len(again["leases"]) == 1  # idempotent
        detail = conforms(document, "/v1/deployments/{dseq}", "get", await http.get(f"/v1/deployments/{dseq}"))
        assert detail["deployment"]["state"] == "active"
        token = conforms(document, "/v1/create-jwt-token", "post", await http.post(
            "/v1/create-jwt-token", json={"data": {"ttl": 120, "leases": {"access": "full"}}}), 201)["token"]
        provider = devnet.provider(bid["provider"])
        status = await http.get(f"{provider.host_uri}/lease/{dseq}/{bid['gseq']}/{bid['oseq']}/status",
                                headers={"authorization": f"Bearer {token}"})
        assert status.status_code == 200, status.text  # the provider accepts Console's JWT for the wallet
        balances = conforms(document, "/v1/balances", "get", await http.get("/v1/balances"))
        assert balances["balance"] == 15 and 0 < balances["deployments"] <= 5
        me = conforms(document, "/v1/user/me", "get", await http.get("/v1/user/me"))
        wallets = conforms(document, "/v1/wallets", "get", await http.get("/v1/wallets", params={"userId": me["userId"]}))
        assert wallets[0]["address"] == account.address
        listed = conforms(document, "/v1/deployments", "get", await http.get("/v1/deployments"))
        assert [d["deployment"]["id"]["dseq"] for d in listed["deployments"]] == [str(dseq)]
        assert conforms(document, "/v1/deployments/{dseq}", "delete", await http.delete(f"/v1/deployments/{dseq}"))
        closed = devnet.chain.deployments[(account.address, dseq)]
        assert closed.state == "closed"
        spent = int(closed.escrow_transferred)
        # The refund is back in credit (whole micro-units: the chain keeps the escrow's sub-uact fraction).
        assert 0 < spent < 5_000_000 and 0 <= 20_000_000 - account.credit_uusd - spent <= 1

        other = await http.get(f"/v1/deployments/{dseq}", headers={"x-api-key": SANDBOX_CONSOLE_API_KEY})
        assert other.status_code == 404  # another account's deployment
        assert (await http.get("/v1/balances", headers={"x-api-key": "nope"})).status_code == 401
        poor = await http.post("/v1/deployments", json={"data": {"sdl": SDL, "deposit": 500}})
        assert poor.status_code == 402 and 0 <= 20_000_000 - account.credit_uusd - spent <= 1


async def test_the_client_reads_the_devnet_console(devnet):
    key = new_account(devnet, credit_usd=12)
    async with ConsoleClient(devnet.console_url, SecretStr(key)) as console:
        wallet = await console.wallet()
        assert wallet.address == console_state(devnet.chain).accounts[key].address
        assert (await console.balances()).balance == 12
        assert (await console.deployments()).deployments == []
        assert await console.deployment(123) is None
    async with ConsoleClient(devnet.console_url, SecretStr("ac.sk.test.wrong")) as console:
        with pytest.raises(ConsoleAuthError):
            await console.balances()


# --- NectoService on the Console rail --------------------------------------------------------------------------
async def test_deploy_runs_streams_logs_and_close_refunds_to_the_console_credit(devnet, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    key = new_account(devnet, credit_usd=50)
    account = console_state(devnet.chain).accounts[key]
    service = build_service(console_settings(devnet, tmp_path, key))
    owner = "alice"
    try:
        plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner=owner)
        card = plan["summary"]
        assert card["payment_rail"].startswith("Akash Console managed wallet")
        assert card["owner"] == account.address and card["fee_uakt_max"] == 0
        assert card["messages"][0]["type_url"] == "console:POST /v1/deployments"
        assert card["dseq"] == "assigned by Console on approval" and len(card["sdl_sha256"]) == 64
        text = service.plan_summary(plan["plan_id"], owner=owner)["text"]
        assert "Akash Console managed wallet" in text
        # Nothing reaches Console before the approval, and a wrong approval sends nothing.
        assert not [d for (o, _), d in devnet.chain.deployments.items() if o == account.address]
        from tools.errors import PolicyDenied

        with pytest.raises(PolicyDenied):
            await service.execute_deploy_plan(plan["plan_id"], confirmed_hash="0" * 64, owner=owner)
        assert account.credit_uusd == 50_000_000

        result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
        assert result["status"] == "ok" and result["state"] == "running", result
        job = service.ledger.job(result["job_id"])
        on_chain = devnet.chain.deployments[(account.address, job.dseq)]  # the dseq Console chose
        assert on_chain.state == "active" and on_chain.hash.hex() == card["manifest_hash"]
        assert job.account == account.address and job.create_tx_hash == devnet.chain.get_tx(job.create_tx_hash).txhash
        assert account.credit_uusd == 50_000_000 - card["deposit_uact"]

        again = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
        assert again["job_id"] == result["job_id"] and account.credit_uusd == 50_000_000 - card["deposit_uact"]

        logs = await service.logs(result["job_id"], tail=20, service=None, owner=owner)
        assert logs["lines"] and all(set(line) == {"service", "message"} for line in logs["lines"])
        status = await service.status(result["job_id"], owner=owner)
        assert status["job"]["payment_rail"] == "console" and status["job"]["state"] == "running"
        assert 0 < status["job"]["escrow_left_act"] * 1e6 <= card["deposit_uact"]

        close_plan = await service.create_close_plan(result["job_id"], owner=owner)
        close_card = service.plan_summary(close_plan["plan_id"], owner=owner)["card"]
        assert close_card["messages"][0]["type_url"] == f"console:DELETE /v1/deployments/{job.dseq}"
        assert close_card["payment_rail"].startswith("Akash Console")
        before_close = account.credit_uusd
        closed = await service.execute_close_plan(close_plan["plan_id"], confirmed_hash=close_plan["plan_hash"],
                                                  owner=owner)
        assert closed["state"] == "closed" and on_chain.state == "closed"
        spent = int(on_chain.escrow_transferred)
        assert 0 < spent < card["deposit_uact"]
        assert closed["refund_uact"] == account.credit_uusd - before_close
        assert 0 <= card["deposit_uact"] - spent - closed["refund_uact"] <= 1
        audit = [entry.action for entry in service.ledger.audit_entries(owner)]
        for action in ("approve deployment plan", "create deployment", "create lease", "close deployment"):
            assert action in audit

        # The key is nowhere a person or a model could read it.
        events = [e.message + e.data_json for e in service.ledger.events(result["job_id"])]
        exposed = json.dumps([plan, result, again, logs, status, close_card, closed, events], default=str)
        assert key not in exposed and key not in caplog.text
        assert key not in repr(service.backend) and key not in repr(service.settings)
    finally:
        service.close()


async def test_a_bad_key_is_a_clear_error_and_nothing_is_created(devnet, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    chain_deployments = len(devnet.chain.deployments)
    bad = "ac.sk.test.not-a-real-key-0123456789"
    service = build_service(console_settings(devnet, tmp_path, bad))
    try:
        with pytest.raises(ConsoleAuthError) as info:
            await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="bob")
        assert "refused the API key" in info.value.message and "NECTO_CONSOLE_API_KEY" in info.value.hint
        assert bad not in json.dumps(info.value.to_result()) and bad not in caplog.text
        assert service.ledger.list_jobs(owner="bob") == []
        assert len(devnet.chain.deployments) == chain_deployments
    finally:
        service.close()


async def test_short_credit_fails_before_console_creates_anything(devnet, tmp_path):
    key = new_account(devnet, credit_usd="0.60")
    account = console_state(devnet.chain).accounts[key]
    service = build_service(console_settings(devnet, tmp_path, key))
    try:
        plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="carol")
        result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="carol")
        assert result["status"] == "error" and result["state"] == "failed"
        assert "Console credit is $0.60" in result["message"]
        assert not [d for (o, _), d in devnet.chain.deployments.items() if o == account.address]
        assert account.credit_uusd == 600_000
    finally:
        service.close()


async def test_a_console_that_deploys_something_else_is_refused_and_closed(devnet, tmp_path):
    key = new_account(devnet, credit_usd=30)
    account = console_state(devnet.chain).accounts[key]
    state = console_state(devnet.chain)
    service = build_service(console_settings(devnet, tmp_path, key))
    try:
        plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="dave")
        state.rewrite_sdl = lambda sdl: sdl.replace("image: ", "image: attacker/", 1)
        try:
            result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="dave")
        finally:
            state.rewrite_sdl = None
        assert result["state"] == "failed" and "differs from the one you approved" in result["message"]
        assert "closed it at once" in result["message"]
        mine = [d for (o, _), d in devnet.chain.deployments.items() if o == account.address]
        assert len(mine) == 1 and mine[0].state == "closed" and mine[0].hash.hex() != plan["manifest_hash"]
        assert account.credit_uusd == 30_000_000  # no lease was made: the whole deposit came back
    finally:
        service.close()
