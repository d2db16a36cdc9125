"""AkashRest against httpx.MockTransport fakes that follow devnet/WIRE.md."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import httpx
import pytest

from tools.akash.rest import AkashRest
from tools.errors import BroadcastError, ChainError, InsufficientFunds, TxTimeout

OWNER = "akash1qufa3xzrf34qvwyejkhvnc4psf49fftaw0asmh"
PROVIDER = "akash1" + "p" * 38
PUB = base64.b64encode(b"\x02" + b"\x11" * 32).decode()


def _rest(handler) -> AkashRest:
    return AkashRest(
        "http://node.test", timeout_s=2, transport=httpx.MockTransport(handler), retry_backoff_s=(0,)
    )


def _json(body, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body)


async def test_account_found_missing_and_vesting() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        addr = request.url.path.rsplit("/", 1)[-1]
        if addr == OWNER:
            return _json(
                {
                    "account": {
                        "@type": "/cosmos.auth.v1beta1.BaseAccount",
                        "address": OWNER,
                        "pub_key": {"@type": "/cosmos.crypto.secp256k1.PubKey", "key": PUB},
                        "account_number": "7",
                        "sequence": "3",
                    }
                }
            )
        if addr == PROVIDER:
            return _json(
                {
                    "account": {
                        "@type": "/cosmos.vesting.v1beta1.ContinuousVestingAccount",
                        "base_vesting_account": {},
                        "base_account": {
                            "address": PROVIDER,
                            "pub_key": None,
                            "account_number": "9",
                            "sequence": "0",
                        },
                    }
                }
            )
        return _json({"code": 5, "message": f"account {addr} not found", "details": []}, 404)

    async with _rest(handler) as rest:
        account = await rest.account(OWNER)
        assert (account.number, account.sequence, account.pubkey) == (7, 3, base64.b64decode(PUB))
        assert account.raw["account"]["address"] == OWNER
        assert await rest.account("akash1unknown") is None
        vesting = await rest.account(PROVIDER)
        assert (vesting.number, vesting.pubkey) == (9, None)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>bad gateway</html>"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"account": []}),
        httpx.Response(200, json={"account": {"address": OWNER, "account_number": "x", "sequence": "1"}}),
        httpx.Response(200, json={"account": {"address": OWNER, "pub_key": {"key": "%%%"}, "sequence": "1"}}),
        httpx.Response(400, json={"code": 3, "message": "decoding bech32 failed"}),
    ],
)
async def test_garbage_answers_become_chain_errors(response) -> None:
    async with _rest(lambda request: response) as rest:
        with pytest.raises(ChainError) as info:
            await rest.account(OWNER)
    assert "\n" not in info.value.message and OWNER in info.value.message


async def test_retries_idempotent_gets_on_5xx_and_connect_errors() -> None:
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ConnectError("refused")
        if calls["n"] == 2:
            return httpx.Response(503, text="busy")
        return _json({"balances": [{"denom": "uakt", "amount": "5000000"}, {"denom": "uact", "amount": "7"}]})

    async with _rest(flaky) as rest:
        assert await rest.balances(OWNER) == {"uakt": 5_000_000, "uact": 7}
    assert calls["n"] == 3

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with _rest(down) as rest:
        with pytest.raises(ChainError, match="cannot connect"):
            await rest.latest_block()


async def test_providers_follow_pagination() -> None:
    pages = {
        None: (["a", "b"], "cGFnZTI="),
        "cGFnZTI=": (["c"], "cGFnZTM="),
        "cGFnZTM=": (["d"], None),
    }
    seen_keys = []

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.url.params.get("pagination.key")
        seen_keys.append(key)
        owners, next_key = pages[key]
        providers = [
            {
                "owner": f"akash1{o * 38}",
                "host_uri": f"https://{o}.example:8443",
                "attributes": [{"key": "region", "value": "eu"}],
                "info": {"email": "", "website": ""},
            }
            for o in owners
        ]
        return _json({"providers": providers, "pagination": {"next_key": next_key, "total": "4"}})

    async with _rest(handler) as rest:
        providers = await rest.providers()
    assert [p.host_uri for p in providers] == [f"https://{o}.example:8443" for o in "abcd"]
    assert seen_keys == [None, "cGFnZTI=", "cGFnZTM="]
    assert providers[0].attributes[0].key == "region" and providers[0].raw["owner"].startswith("akash1a")


DEPLOYMENT = {
    "deployment": {
        "id": {"owner": OWNER, "dseq": "42"},
        "state": "active",
        "hash": base64.b64encode(b"\x01" * 32).decode(),
        "created_at": "100",
    },
    "groups": [
        {
            "id": {"owner": OWNER, "dseq": "42", "gseq": 1},
            "state": "open",
            "group_spec": {"name": "dcloud", "requirements": {}, "resources": []},
            "created_at": "100",
        }
    ],
    "escrow_account": {
        "id": {"scope": "deployment", "xid": f"{OWNER}/42"},
        "state": {
            "owner": OWNER,
            "state": "open",
            "transferred": [{"denom": "uact", "amount": "12.500000000000000000"}],
            "settled_at": "120",
            "funds": [{"denom": "uact", "amount": "4999987.500000000000000000"}],
            "deposits": [],
        },
    },
}
BID_ID = {"owner": OWNER, "dseq": "42", "gseq": 1, "oseq": 1, "provider": PROVIDER, "bseq": 0}


async def test_deployments_bids_leases() -> None:
    requests = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if path.endswith("/deployments/list"):
            return _json({"deployments": [DEPLOYMENT], "pagination": {"next_key": None, "total": "1"}})
        if path.endswith("/deployments/info"):
            if request.url.params["id.dseq"] == "42":
                return _json(DEPLOYMENT)
            return _json({"code": 5, "message": "deployment not found"}, 404)
        if path.endswith("/bids/list"):
            bid = {
                "id": BID_ID,
                "state": "open",
                "price": {"denom": "uact", "amount": "1234.560000000000000000"},
            }
            return _json(
                {"bids": [{"bid": bid | {"created_at": "101"}, "escrow_account": {}}], "pagination": {}}
            )
        if path.endswith("/leases/list"):
            lease = {
                "id": BID_ID,
                "state": "active",
                "price": {"denom": "uact", "amount": "1234.560000000000000000"},
                "created_at": "102",
                "closed_on": "0",
                "reason": "lease_closed_invalid",
            }
            return _json(
                {"leases": [{"lease": lease, "escrow_payment": {}}], "pagination": {"next_key": None}}
            )
        return _json({"code": 12, "message": "Not Implemented"}, 501)

    async with _rest(handler) as rest:
        (dep,) = await rest.deployments(OWNER, state="active")
        assert (dep.dseq, dep.state, dep.hash_hex, dep.groups[0].gseq, dep.groups[0].name) == (
            42, "active", "01" * 32, 1, "dcloud",
        )  # fmt: skip
        assert dep.escrow_funds[0].amount == Decimal("4999987.5") and dep.escrow_state == "open"
        assert (await rest.deployment(OWNER, 42)).dseq == 42
        assert await rest.deployment(OWNER, 43) is None
        (bid,) = await rest.bids(OWNER, 42)
        assert (
            bid.id.provider == PROVIDER and bid.price.amount == Decimal("1234.56") and bid.created_at == 101
        )
        (lease,) = await rest.leases(OWNER, dseq=42, state="active")
        assert lease.state == "active" and lease.id.gseq == 1
    params = requests[0].url.params
    assert params["filters.owner"] == OWNER and params["filters.state"] == "active"
    assert requests[-1].url.params["filters.dseq"] == "42"


async def test_wrong_shapes_in_lists_are_chain_errors() -> None:
    bodies = iter(
        [
            {"deployments": [{"deployment": {"id": {"owner": OWNER}}}]},
            {"bids": "nope"},
            {
                "leases": [
                    {"lease": {"id": BID_ID, "state": "active", "price": {"denom": "uact", "amount": "x"}}}
                ]
            },
        ]
    )

    async with _rest(lambda request: _json(next(bodies))) as rest:
        with pytest.raises(ChainError, match="dseq"):
            await rest.deployments(OWNER)
        with pytest.raises(ChainError, match="bids"):
            await rest.bids(OWNER, 1)
        with pytest.raises(ChainError, match="decimal"):
            await rest.leases(OWNER)


def _block(height: int, time: str) -> dict:
    return {
        "block_id": {"hash": ""},
        "block": {"header": {"chain_id": "necto-sandbox-1", "height": str(height), "time": time}},
    }


async def test_blocks_node_info_and_block_time() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        which = request.url.path.rsplit("/", 1)[-1]
        if which == "latest":
            return _json(_block(120, "2026-11-01T00:02:02.123456789Z"))
        if which == "100":
            return _json(_block(100, "2026-11-01T00:00:00.123456789Z"))
        if which == "node_info":
            return _json(
                {
                    "default_node_info": {"network": "necto-sandbox-1", "version": "0.38"},
                    "application_version": {"name": "akash", "app_name": "akash", "version": "v2.0.0"},
                }
            )
        return _json({}, 404)

    async with _rest(handler) as rest:
        block = await rest.latest_block()
        assert (block.height, block.chain_id, block.time.microsecond) == (120, "necto-sandbox-1", 123456)
        assert await rest.measure_block_time(20) == pytest.approx(6.1)
        info = await rest.node_info()
        assert (info.chain_id, info.app_version) == ("necto-sandbox-1", "v2.0.0")


async def test_price_and_bme_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "oracle" in request.url.path:
            return _json(
                {
                    "aggregated_price": {
                        "denom": "uakt",
                        "twap": "1.234500000000000000",
                        "median_price": "1.230000000000000000",
                        "timestamp": "2026-11-01T00:00:00Z",
                    }
                }
            )
        return _json(
            {"status": "CIRCUIT_BREAKER_STATUS_HEALTHY", "collateral_ratio": "1.5", "mints_allowed": True}
        )

    async with _rest(handler) as rest:
        price = await rest.akt_price()
        assert price.usd == Decimal("1.2345") and price.median == Decimal("1.23")
        status = await rest.bme_status()
        assert status.mints_allowed is True and status.collateral_ratio == Decimal("1.5")


async def test_simulate_broadcast_and_tx_lookup() -> None:
    tx_hash = "AB" * 32
    state = {"polls": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/simulate"):
            body = json.loads(request.content)
            if body["tx_bytes"] == base64.b64encode(b"poor").decode():
                return _json(
                    {"code": 3, "message": "rpc error: 0uakt is smaller than 5uakt: insufficient funds"}, 400
                )
            return _json({"gas_info": {"gas_wanted": "0", "gas_used": "123456"}, "result": {}})
        if path.endswith("/txs") and request.method == "POST":
            body = json.loads(request.content)
            assert body["mode"] == "BROADCAST_MODE_SYNC"
            if base64.b64decode(body["tx_bytes"]) == b"bad":
                return _json(
                    {
                        "tx_response": {
                            "txhash": tx_hash,
                            "code": 13,
                            "codespace": "sdk",
                            "raw_log": "insufficient fee",
                        }
                    }
                )
            return _json({"tx_response": {"height": "0", "txhash": tx_hash, "code": 0, "raw_log": ""}})
        if path.endswith(f"/txs/{tx_hash}"):
            state["polls"] += 1
            if state["polls"] < 3:
                return _json({"code": 5, "message": f"tx not found: {tx_hash}"}, 404)
            return _json(
                {"tx": {}, "tx_response": {"height": "55", "txhash": tx_hash, "code": 0, "gas_used": "1000"}}
            )
        return _json({"code": 5, "message": "tx not found"}, 404)

    async with _rest(handler) as rest:
        assert await rest.simulate(b"tx") == 123456
        with pytest.raises(InsufficientFunds):
            await rest.simulate(b"poor")
        assert (await rest.broadcast(b"tx")).txhash == tx_hash
        with pytest.raises(BroadcastError) as info:
            await rest.broadcast(b"bad")
        assert (info.value.code, info.value.raw_log) == (13, "insufficient fee")
        tx = await rest.wait_for_tx(tx_hash, timeout_s=5, poll_s=0.01)
        assert (tx.height, tx.code, tx.gas_used) == (55, 0, 1000)
        assert await rest.get_tx("CD" * 32) is None
        with pytest.raises(TxTimeout):
            await rest.wait_for_tx("CD" * 32, timeout_s=0.05, poll_s=0.01)
        with pytest.raises(ChainError, match="hash"):
            await rest.get_tx("../../etc")
