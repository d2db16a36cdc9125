"""TxClient against a fake node (httpx.MockTransport) that checks signatures and sequences like a chain."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal

import cosmpy.protos  # noqa: F401
import httpx
import pytest
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.v1beta1 import tx_pb2

from tools.akash import messages as m
from tools.akash.rest import AkashRest
from tools.akash.signer import LocalKeySigner, build_sign_doc, verify_signature
from tools.akash.tx import TxClient
from tools.errors import (
    BroadcastError,
    BudgetExceeded,
    ChainError,
    InsufficientFunds,
    PolicyDenied,
    TxTimeout,
)
from tools.settings import NectoSettings

CHAIN_ID = "necto-sandbox-1"


class FakeNode:
    """Just enough of a Cosmos node: accounts, simulate, CheckTx (signature + sequence), inclusion."""

    def __init__(self, signer: LocalKeySigner) -> None:
        self.signer = signer
        self.chain_id = CHAIN_ID
        self.account_number = 7
        self.sequence = 3  # the chain's truth
        self.rest_sequence_lag = 0  # the REST view can lag CheckTx
        self.exists = True
        self.gas_used = 80_000
        self.deliver_code = 0
        self.broadcast_code = 0
        self.include_after_polls = 1
        self.garbage_simulate = False
        self.broadcasts: list[bytes] = []
        self.included: dict[str, int] = {}
        self.polls = 0
        self.events: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/cosmos/base/tendermint/v1beta1/node_info":
            return httpx.Response(
                200, json={"default_node_info": {"network": self.chain_id, "version": "0.38"}}
            )
        if path.startswith("/cosmos/auth/v1beta1/accounts/"):
            if not self.exists:
                return httpx.Response(404, json={"code": 5, "message": "account not found", "details": []})
            return httpx.Response(
                200,
                json={
                    "account": {
                        "@type": "/cosmos.auth.v1beta1.BaseAccount",
                        "address": self.signer.address,
                        "pub_key": None,
                        "account_number": str(self.account_number),
                        "sequence": str(self.sequence - self.rest_sequence_lag),
                    }
                },
            )
        if path == "/cosmos/tx/v1beta1/simulate":
            if self.garbage_simulate:
                return httpx.Response(200, text="{not json")
            raw = tx_pb2.TxRaw.FromString(base64.b64decode(json.loads(request.content)["tx_bytes"]))
            assert list(raw.signatures) == [b""]  # the empty signature slot
            return httpx.Response(200, json={"gas_info": {"gas_wanted": "0", "gas_used": str(self.gas_used)}})
        if path == "/cosmos/tx/v1beta1/txs" and request.method == "POST":
            return self._broadcast(base64.b64decode(json.loads(request.content)["tx_bytes"]))
        if path.startswith("/cosmos/tx/v1beta1/txs/"):
            tx_hash = path.rsplit("/", 1)[-1]
            self.polls += 1
            if tx_hash in self.included and self.polls >= self.include_after_polls:
                return httpx.Response(
                    200,
                    json={
                        "tx": {},
                        "tx_response": {
                            "height": "123",
                            "txhash": tx_hash,
                            "code": self.deliver_code,
                            "raw_log": "out of gas" if self.deliver_code else "",
                            "gas_wanted": "128000",
                            "gas_used": str(self.gas_used),
                            "timestamp": "2026-11-01T00:00:00Z",
                            "events": [],
                        },
                    },
                )
            return httpx.Response(404, json={"code": 5, "message": f"tx not found: {tx_hash}"})
        return httpx.Response(501, json={"code": 12, "message": "Not Implemented"})

    def _check_tx(self, tx_bytes: bytes) -> tuple[int, str]:
        raw = tx_pb2.TxRaw.FromString(tx_bytes)
        auth = tx_pb2.AuthInfo.FromString(raw.auth_info_bytes)
        (signer_info,) = auth.signer_infos
        pub = keys_pb2.PubKey.FromString(signer_info.public_key.value).key
        if signer_info.sequence != self.sequence:
            return 32, (
                f"account sequence mismatch, expected {self.sequence}, got {signer_info.sequence}: "
                "incorrect account sequence"
            )
        doc = build_sign_doc(raw.body_bytes, raw.auth_info_bytes, self.chain_id, self.account_number)
        if not verify_signature(pub, doc, raw.signatures[0]):
            return (
                4,
                "signature verification failed; please verify account number (7) and chain-id: unauthorized",
            )
        return self.broadcast_code, "insufficient fees" if self.broadcast_code else ""

    def _broadcast(self, tx_bytes: bytes) -> httpx.Response:
        self.events.append("broadcast")
        self.broadcasts.append(tx_bytes)
        tx_hash = hashlib.sha256(tx_bytes).hexdigest().upper()
        code, log = self._check_tx(tx_bytes)
        if code == 0:
            self.sequence += 1
            self.included[tx_hash] = 123
        body = {
            "height": "0",
            "txhash": tx_hash,
            "codespace": "sdk" if code else "",
            "code": code,
            "raw_log": log,
        }
        return httpx.Response(200, json={"tx_response": body})


@pytest.fixture
def settings(tmp_path) -> NectoSettings:
    return NectoSettings(data_dir=tmp_path, network="sandbox", tx_inclusion_timeout_s=2.0)


@pytest.fixture
def signer(settings) -> LocalKeySigner:
    return LocalKeySigner(settings)


@pytest.fixture
def node(signer) -> FakeNode:
    return FakeNode(signer)


@pytest.fixture
async def client(node, signer, settings):
    rest = AkashRest(
        "http://node.test", timeout_s=2, transport=httpx.MockTransport(node.handle), retry_backoff_s=(0,)
    )
    yield TxClient(rest, signer, settings, poll_s=0.01)
    await rest.aclose()


async def test_prepare_sign_broadcast(client, node, signer) -> None:
    msg = m.msg_close_deployment(signer.address, 42)
    prepared = await client.prepare([msg], memo="necto")
    assert prepared.gas_limit == 128_000  # 80k x 1.6
    assert prepared.fee_uakt == 3_200  # ceil(128k x 0.025)
    assert (prepared.account_number, prepared.sequence, prepared.chain_id) == (7, 3, CHAIN_ID)
    card = prepared.describe()
    assert card["fee"] == {"denom": "uakt", "amount": 3200} and card["memo"] == "necto"
    assert card["messages"][0]["fields"]["id"] == {"owner": signer.address, "dseq": 42}

    signed_hashes = []

    async def on_signed(tx_hash: str, tx_bytes: bytes) -> None:
        assert hashlib.sha256(tx_bytes).hexdigest().upper() == tx_hash
        assert node.events == []  # persisted before anything is broadcast
        signed_hashes.append(tx_hash)
        node.events.append("signed")

    tx = await client.sign_and_broadcast(prepared, on_signed=on_signed)
    assert tx.height == 123 and tx.code == 0
    assert node.events == ["signed", "broadcast"]
    assert signed_hashes == [tx.txhash]
    assert node.sequence == 4


async def test_sequence_mismatch_refreshes_and_resigns_once(client, node, signer) -> None:
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    node.sequence += 1  # another tx from this account landed meanwhile
    hashes = []
    tx = await client.sign_and_broadcast(prepared, on_signed=lambda h, b: hashes.append(h))
    assert len(hashes) == 2 and hashes[0] != hashes[1] and tx.txhash == hashes[1]
    assert len(node.broadcasts) == 2 and node.sequence == 5


async def test_sequence_mismatch_uses_the_expected_value_when_rest_lags(client, node, signer) -> None:
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    node.sequence += 1
    node.rest_sequence_lag = 1  # REST still says the old sequence
    tx = await client.sign_and_broadcast(prepared)
    assert tx.code == 0 and node.sequence == 5


async def test_persistent_sequence_mismatch_is_a_broadcast_error(client, node, signer) -> None:
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    node.sequence += 1
    node.broadcast_code = 0
    original = node._check_tx

    def always_mismatch(tx_bytes: bytes) -> tuple[int, str]:
        return 32, "account sequence mismatch, expected 99, got 4: incorrect account sequence"

    node._check_tx = always_mismatch
    with pytest.raises(BroadcastError) as info:
        await client.sign_and_broadcast(prepared)
    assert info.value.code == 32 and len(node.broadcasts) == 2
    node._check_tx = original


async def test_fee_cap(client, node, signer, settings) -> None:
    node.gas_used = 60_000_000  # x1.6 x 0.025 = 2.4M uakt > 2M cap
    with pytest.raises(BudgetExceeded, match="cap"):
        await client.prepare([m.msg_close_deployment(signer.address, 1)])
    assert node.broadcasts == []


async def test_checktx_failure_is_broadcast_error(client, node, signer) -> None:
    node.broadcast_code = 13
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    with pytest.raises(BroadcastError) as info:
        await client.sign_and_broadcast(prepared)
    assert info.value.code == 13 and info.value.raw_log == "insufficient fees"


async def test_delivertx_failure_is_broadcast_error(client, node, signer) -> None:
    node.deliver_code = 11
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    with pytest.raises(BroadcastError) as info:
        await client.sign_and_broadcast(prepared)
    assert info.value.code == 11 and "out of gas" in info.value.raw_log


async def test_inclusion_timeout(client, node, signer, settings) -> None:
    node.include_after_polls = 10**9
    settings.tx_inclusion_timeout_s = 0.1
    prepared = await client.prepare([m.msg_close_deployment(signer.address, 1)])
    with pytest.raises(TxTimeout, match="not included"):
        await client.sign_and_broadcast(prepared)


async def test_garbage_json_is_chain_error(client, node, signer) -> None:
    node.garbage_simulate = True
    with pytest.raises(ChainError, match="non-JSON"):
        await client.prepare([m.msg_close_deployment(signer.address, 1)])


async def test_refusals_before_any_network_call(client, node, signer, settings) -> None:
    other = LocalKeySigner(settings, "other")
    with pytest.raises(PolicyDenied):
        await client.prepare([m.msg_close_deployment(other.address, 1)])
    node.exists = False
    with pytest.raises(InsufficientFunds, match="does not exist"):
        await client.prepare([m.msg_close_deployment(signer.address, 1)])
    node.exists = True
    node.chain_id = "akashnet-2"
    client._chain_checked = False
    with pytest.raises(ChainError, match="serves chain"):
        await client.prepare([m.msg_close_deployment(signer.address, 1)])


async def test_simulate_unsigned(client, node, signer) -> None:
    assert await client.simulate([m.msg_mint_act(signer.address, 10_000_000)]) == 80_000


def test_gas_math_uses_settings(settings, signer) -> None:
    settings.gas_price_uakt = Decimal("0.0025")
    client = TxClient(AkashRest("http://x.test"), signer, settings)
    assert client._gas_and_fee(100_001) == (160_002, 401)
