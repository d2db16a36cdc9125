"""CheckTx / DeliverTx rules of the devnet chain, driven through its REST API with real signed txs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cosmos.base.v1beta1 import coin_pb2
from devnet_testkit import (
    URL_CREATE_DEPLOYMENT,
    Wallet,
    create_deployment_msg,
    resource_unit,
)

from tools.akash.protogen.akash.base.deposit.v1 import deposit_pb2
from tools.akash.protogen.akash.bme.v1 import msg_pb2 as bme_pb2
from tools.akash.protogen.akash.escrow.v1 import msg_pb2 as escrow_pb2


@pytest.fixture(scope="module")
def funded(chain):
    wallet = Wallet.from_name("chain-tx")
    chain.faucet(wallet)
    return wallet


def _check(chain, wallet, messages, **kwargs) -> dict:
    account_number, sequence = chain.account(wallet.address)
    kwargs.setdefault("sequence", sequence)
    tx = wallet.sign_tx(messages, chain_id=chain.chain_id, account_number=account_number, **kwargs)
    return chain.broadcast(tx)


def _deploy(wallet, dseq, **kwargs):
    units = kwargs.pop("units", None) or [resource_unit()]
    return [(URL_CREATE_DEPLOYMENT, create_deployment_msg(wallet.address, dseq, units, **kwargs))]


def test_account_and_balances(client, chain, funded):
    body = client.get(f"/cosmos/auth/v1beta1/accounts/{funded.address}").json()["account"]
    assert body["@type"] == "/cosmos.auth.v1beta1.BaseAccount"
    assert body["address"] == funded.address and body["pub_key"] is None and body["sequence"] == "0"
    balances = client.get(f"/cosmos/bank/v1beta1/balances/{funded.address}").json()
    assert {c["denom"] for c in balances["balances"]} == {"uakt", "uact"}
    assert balances["pagination"] == {"next_key": None, "total": "2"}
    unknown = Wallet.from_name("never-funded").address
    response = client.get(f"/cosmos/auth/v1beta1/accounts/{unknown}")
    assert response.status_code == 404
    assert response.json() == {"code": 5, "message": f"account {unknown} not found", "details": []}
    assert client.get("/cosmos/auth/v1beta1/accounts/akash1garbage").status_code == 400


def test_bad_signature(chain, funded):
    result = _check(chain, funded, _deploy(funded, 11), corrupt_signature=True)
    assert result["code"] == 4 and result["codespace"] == "sdk"
    assert result["raw_log"].startswith("signature verification failed")


def test_wrong_chain_id_fails_signature(chain, funded):
    account_number, sequence = chain.account(funded.address)
    tx = funded.sign_tx(
        _deploy(funded, 12), chain_id="akashnet-2", account_number=account_number, sequence=sequence
    )
    assert chain.broadcast(tx)["code"] == 4


def test_wrong_sequence(chain, funded):
    _, sequence = chain.account(funded.address)
    result = _check(chain, funded, _deploy(funded, 13), sequence=sequence + 5)
    assert result["code"] == 32 and result["codespace"] == "sdk"
    assert result["raw_log"] == (
        f"account sequence mismatch, expected {sequence}, got {sequence + 5}: incorrect account sequence"
    )


def test_signer_must_own_the_message(chain, funded):
    other = Wallet.from_name("someone-else")
    chain.faucet(other)
    result = _check(chain, funded, _deploy(other, 14))  # owner = other, signed by funded
    assert result["code"] != 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"deposit_denom": "uakt"}, "uact"),
        ({"deposit": 499_999}, "minimum deposit"),
        ({"version": b"\x01" * 31}, "32 bytes"),
        ({"version": b""}, "32 bytes"),
        ({"units": [resource_unit(cpu_milli=400_000)]}, "cpu"),
        ({"units": [resource_unit(gpu=25, gpu_model="a100")]}, "gpu"),
        ({"units": [resource_unit(count=51)]}, "count"),
    ],
)
def test_create_deployment_validate_basic(chain, funded, kwargs, needle):
    result = _check(chain, funded, _deploy(funded, 20, **kwargs))
    assert result["code"] != 0 and result["codespace"] == "deployment"
    assert needle in result["raw_log"]


def test_price_denom_must_be_uact(chain, funded):
    unit = resource_unit()
    unit.price.denom = "uakt"
    result = _check(chain, funded, _deploy(funded, 21, units=[unit]))
    assert result["code"] != 0 and "uact" in result["raw_log"]


def test_empty_groups_rejected(chain, funded):
    msg = create_deployment_msg(funded.address, 22, [resource_unit()])
    del msg.groups[:]
    result = _check(chain, funded, [(URL_CREATE_DEPLOYMENT, msg)])
    assert result["code"] != 0 and "group" in result["raw_log"]


def test_fees(chain, funded):
    low = _check(chain, funded, _deploy(funded, 23), gas=400_000, fee=999)
    assert low["code"] == 13 and "insufficient fees; got: 999uakt required: 1000uakt" in low["raw_log"]
    wrong_denom = _check(chain, funded, _deploy(funded, 23), fee_denom="uact")
    assert wrong_denom["code"] == 13


def test_unknown_message_type(chain, funded):
    msg = bme_pb2.MsgMintACT(owner=funded.address, to=funded.address)
    result = _check(chain, funded, [("/cosmos.bank.v1beta1.MsgSend", msg)])
    assert (
        result["code"] == 2 and "unable to resolve type URL /cosmos.bank.v1beta1.MsgSend" in result["raw_log"]
    )


def test_unknown_account(chain):
    ghost = Wallet.from_name("ghost")
    tx = ghost.sign_tx(_deploy(ghost, 1), chain_id=chain.chain_id, account_number=0, sequence=0)
    result = chain.broadcast(tx)
    assert result["code"] == 9 and "not found" in result["raw_log"]


@pytest.mark.parametrize("tx_bytes", [b"\xff\x00garbage", b"\x0a\x03abc", bytes(range(256))])
def test_garbage_tx_bytes(client, tx_bytes):
    response = client.post(
        "/cosmos/tx/v1beta1/txs",
        json={"tx_bytes": base64.b64encode(tx_bytes).decode(), "mode": "BROADCAST_MODE_SYNC"},
    )
    assert response.status_code == 200
    assert response.json()["tx_response"]["code"] == 2


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"mode": "BROADCAST_MODE_SYNC"}',
        b'{"tx_bytes": "%%%not-base64", "mode": "BROADCAST_MODE_SYNC"}',
        b'{"tx_bytes": 42}',
        b'{"tx_bytes": "AAAA", "mode": "BROADCAST_MODE_BLOCK"}',
    ],
)
def test_garbage_broadcast_requests(client, body):
    for path in ("/cosmos/tx/v1beta1/txs", "/cosmos/tx/v1beta1/simulate"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert set(response.json()) == {"code", "message", "details"}


def test_garbage_queries(client):
    assert client.get("/cosmos/tx/v1beta1/txs/nothex").status_code == 400
    missing = "A" * 64
    response = client.get(f"/cosmos/tx/v1beta1/txs/{missing}")
    assert response.status_code == 404 and response.json()["message"] == f"tx not found: {missing}"
    assert (
        client.get("/akash/deployment/v1beta4/deployments/list", params={"filters.dseq": "-1"}).status_code
        == 400
    )
    assert (
        client.get("/akash/deployment/v1beta4/deployments/list", params={"filters.owner": "bob"}).status_code
        == 400
    )
    assert client.get("/akash/deployment/v1beta4/deployments/info").status_code == 400
    assert client.get("/akash/provider/v1beta4/providers", params={"pagination.key": "!!"}).status_code == 400
    assert client.get("/cosmos/base/tendermint/v1beta1/blocks/999999999").status_code == 400
    assert client.post("/necto-devnet/faucet", json={"address": "cosmos1xyz"}).status_code == 400
    assert client.get("/no/such/route").status_code == 501


def test_simulate(client, chain, funded):
    account_number, sequence = chain.account(funded.address)
    tx = funded.sign_tx(
        _deploy(funded, 30), chain_id=chain.chain_id, account_number=account_number, sequence=sequence
    )
    body = client.post("/cosmos/tx/v1beta1/simulate", json={"tx_bytes": base64.b64encode(tx).decode()}).json()
    assert int(body["gas_info"]["gas_used"]) == 80_000 + 30_000 + 10 * len(tx)
    bad = funded.sign_tx(
        _deploy(funded, 30, deposit_denom="uakt"),
        chain_id=chain.chain_id,
        account_number=account_number,
        sequence=sequence,
    )
    response = client.post("/cosmos/tx/v1beta1/simulate", json={"tx_bytes": base64.b64encode(bad).decode()})
    assert response.status_code == 400 and "uact" in response.json()["message"]


def test_two_txs_in_one_block_and_tx_lookup(client, chain, funded):
    account_number, sequence = chain.account(funded.address)
    first = funded.sign_tx(
        _deploy(funded, 40), chain_id=chain.chain_id, account_number=account_number, sequence=sequence
    )
    second = funded.sign_tx(
        _deploy(funded, 41), chain_id=chain.chain_id, account_number=account_number, sequence=sequence + 1
    )
    r1, r2 = chain.broadcast(first), chain.broadcast(second)
    assert r1["code"] == 0 and r2["code"] == 0, (r1, r2)
    assert r1["txhash"] == hashlib.sha256(first).hexdigest().upper()
    duplicate = chain.broadcast(first)
    assert duplicate["code"] != 0
    t1, t2 = chain.wait_tx(r1["txhash"]), chain.wait_tx(r2["txhash"])
    assert t1["code"] == 0 and t2["code"] == 0
    full = client.get(f"/cosmos/tx/v1beta1/txs/{r1['txhash']}").json()
    assert full["tx"]["body"]["messages"][0]["@type"] == URL_CREATE_DEPLOYMENT
    assert full["tx_response"]["timestamp"].endswith("Z")
    assert chain.account(funded.address)[1] == sequence + 2
    account = client.get(f"/cosmos/auth/v1beta1/accounts/{funded.address}").json()["account"]
    assert base64.b64decode(account["pub_key"]["key"]) == funded.pubkey
    block = client.get(f"/cosmos/base/tendermint/v1beta1/blocks/{t1['height']}").json()
    assert base64.b64encode(first).decode() in block["block"]["data"]["txs"]
    assert block["block"]["header"]["chain_id"] == chain.chain_id


def test_deliver_failures(chain, funded):
    # dseq unique per owner
    assert chain.send(funded, _deploy(funded, 50))["code"] == 0
    again = chain.send(funded, _deploy(funded, 50))
    assert again["code"] != 0 and "exists" in again["raw_log"]
    # deposit larger than the uact balance: DeliverTx code 5, no state change but fee and sequence consumed
    before = chain.balance(funded.address, "uact")
    poor = chain.send(funded, _deploy(funded, 51, deposit=before + 1))
    assert poor["code"] == 5 and "insufficient funds" in poor["raw_log"]
    assert chain.balance(funded.address, "uact") == before


def test_account_deposit_tops_up_escrow(client, chain, funded, devnet):
    assert chain.send(funded, _deploy(funded, 60))["code"] == 0
    before = chain.balance(funded.address, "uact")
    msg = escrow_pb2.MsgAccountDeposit(
        signer=funded.address,
        id=escrow_pb2.AccountID(scope=1, xid=f"{funded.address}/60"),
        deposit=deposit_pb2.Deposit(amount=coin_pb2.Coin(denom="uact", amount="2000000"), sources=[1]),
    )
    assert chain.send(funded, [("/akash.escrow.v1.MsgAccountDeposit", msg)])["code"] == 0
    assert chain.balance(funded.address, "uact") == before - 2_000_000
    info = client.get(
        "/akash/deployment/v1beta4/deployments/info", params={"id.owner": funded.address, "id.dseq": 60}
    ).json()
    assert len(info["escrow_account"]["state"]["deposits"]) == 2


def test_mint_act(client, chain, devnet):
    wallet = Wallet.from_name("minter")
    chain.faucet(wallet)
    price = client.get("/akash/oracle/v2/aggregated_price/akt").json()["aggregated_price"]
    assert price["twap"] == "1.250000000000000000"
    assert client.get("/akash/bme/v1/status").json()["mints_allowed"] is True
    before = chain.balance(wallet.address, "uact")
    msg = bme_pb2.MsgMintACT(
        owner=wallet.address, to=wallet.address, coins_to_burn=coin_pb2.Coin(denom="uakt", amount="10000000")
    )
    tx = chain.send(wallet, [("/akash.bme.v1.MsgMintACT", msg)])
    assert tx["code"] == 0, tx["raw_log"]
    assert chain.balance(wallet.address, "uact") == before  # settles a few blocks later
    chain.wait_height(int(tx["height"]) + 3)
    assert chain.balance(wallet.address, "uact") == before + 12_500_000
    too_small = bme_pb2.MsgMintACT(
        owner=wallet.address, to=wallet.address, coins_to_burn=coin_pb2.Coin(denom="uakt", amount="1000")
    )
    assert chain.send(wallet, [("/akash.bme.v1.MsgMintACT", too_small)])["code"] != 0
