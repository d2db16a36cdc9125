"""The devnet EVM chain (devnet/evm.py) over real HTTP: web3.py's HTTPProvider and raw JSON-RPC.

The test contract is ``Store`` below, compiled once with solc-js 0.8.37 (contracts/node_modules/solc; settings
evmVersion cancun, optimizer 200 runs, metadata.bytecodeHash none) and embedded, so no Node is needed::

    // SPDX-License-Identifier: Apache-2.0
    pragma solidity 0.8.37;

    contract Store {
        uint256 public value;

        event ValueSet(address indexed who, uint256 indexed value, uint256 previous);

        error TooBig(uint256 value, uint256 limit);

        function set(uint256 v) external {
            require(v != 0, "value must be nonzero");
            if (v > 1000) revert TooBig(v, 1000);
            emit ValueSet(msg.sender, v, value);
            value = v;
        }

        function chainId() external view returns (uint256) {
            return block.chainid;
        }
    }
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from devnet.evm import (
    ADI_TESTNET_CHAIN_ID,
    FAUCET_DRIP_WEI,
    SANDBOX_BALANCE_WEI,
    SANDBOX_EVM_ACCOUNTS,
    EvmNode,
    build_evm_app,
    sandbox_evm_account,
    sandbox_evm_keys,
)

ROOT = Path(__file__).resolve().parents[2]
SEED = 11

STORE_ABI = json.loads(
    '[{"inputs":[{"internalType":"uint256","name":"value","type":"uint256"},{"internalType":"uint256",'
    '"name":"limit","type":"uint256"}],"name":"TooBig","type":"error"},{"anonymous":false,"inputs":[{"indexed":true,'
    '"internalType":"address","name":"who","type":"address"},{"indexed":true,"internalType":"uint256","name":"value",'
    '"type":"uint256"},{"indexed":false,"internalType":"uint256","name":"previous","type":"uint256"}],'
    '"name":"ValueSet","type":"event"},{"inputs":[],"name":"chainId","outputs":[{"internalType":"uint256","name":"",'
    '"type":"uint256"}],"stateMutability":"view","type":"function"},{"inputs":[{"internalType":"uint256","name":"v",'
    '"type":"uint256"}],"name":"set","outputs":[],"stateMutability":"nonpayable","type":"function"},{"inputs":[],'
    '"name":"value","outputs":[{"internalType":"uint256","name":"","type":"uint256"}],"stateMutability":"view",'
    '"type":"function"}]'
)
STORE_BYTECODE = (
    "0x6080604052348015600e575f5ffd5b5061015f8061001c5f395ff3fe608060405234801561000f575f5ffd5b50600436106100"
    "3f575f3560e01c80633fa4f2451461004357806360fe47b11461005d5780639a8a059214610072575b5f5ffd5b61004b5f548156"
    "5b60405190815260200160405180910390f35b61007061006b36600461013b565b610078565b005b4661004b565b805f036100c4"
    "5760405162461bcd60e51b815260206004820152601560248201527476616c7565206d757374206265206e6f6e7a65726f60581b"
    "60448201526064015b60405180910390fd5b6103e88111156100f257604051631ab6737f60e21b8152600481018290526103e860"
    "248201526044016100bb565b80336001600160a01b03167fc0e9036d619701c94569e1462d8120ef4a6d2b15a70d27cc942fd29a"
    "e2cc0e595f5460405161012f91815260200190565b60405180910390a35f55565b5f6020828403121561014b575f5ffd5b503591"
    "905056fea164736f6c6343000825000a"
)
VALUE_SET_TOPIC = "0x" + keccak(text="ValueSet(address,uint256,uint256)").hex()
TOO_BIG_SELECTOR = "0x" + keccak(text="TooBig(uint256,uint256)")[:4].hex()


# ------------------------------------------------------------------------------------------ helpers


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread; yields its base URL."""
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (else ~40 ms per response, Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def rpc(http: httpx.Client, method: str, params: list | None = None, request_id: int = 1) -> dict:
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
    response = http.post("/", json=body)
    assert response.status_code == 200
    return response.json()


def topic_of(value: int | str) -> str:
    if isinstance(value, str):  # an address
        return "0x" + bytes.fromhex(value[2:]).rjust(32, b"\0").hex()
    return "0x" + value.to_bytes(32, "big").hex()


def send(w3: Web3, key: str, tx: dict) -> dict:
    """Fill nonce/gas/fees the way web3 does for a real node, sign locally, send raw, wait for the receipt."""
    account = Account.from_key(key)
    tx = {"from": account.address, "chainId": w3.eth.chain_id, **tx}
    if "nonce" not in tx:
        tx["nonce"] = w3.eth.get_transaction_count(account.address, "pending")
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    tx["maxPriorityFeePerGas"] = w3.eth.max_priority_fee
    tx["maxFeePerGas"] = tx["maxPriorityFeePerGas"] + 2 * w3.eth.get_block("latest")["baseFeePerGas"]
    signed = Account.sign_transaction(tx, key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)


def funded_key(http: httpx.Client) -> str:
    """A fresh account funded through the devnet faucet (keeps tests off each other's nonces)."""
    account = Account.create()
    response = http.post("/necto-devnet/evm-faucet", json={"address": account.address})
    assert response.status_code == 200, response.text
    return account.key.to_0x_hex()


def deploy_store(w3: Web3, key: str):
    """Deploy Store the way product code would: web3 fills chain id, gas and fees from the node."""
    me = Account.from_key(key).address
    tx = (
        w3.eth.contract(abi=STORE_ABI, bytecode=STORE_BYTECODE)
        .constructor()
        .build_transaction({"from": me, "nonce": w3.eth.get_transaction_count(me, "pending")})
    )
    assert tx["chainId"] == 99999 and tx["gas"] > 21000 and "maxFeePerGas" in tx
    tx_hash = w3.eth.send_raw_transaction(Account.sign_transaction(tx, key).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10, poll_latency=0.05)
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=STORE_ABI), receipt


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(build_evm_app(SEED)) as base:
        yield base + "/"


@pytest.fixture(scope="module")
def w3(url) -> Web3:
    return Web3(HTTPProvider(url, request_kwargs={"timeout": 10}))


@pytest.fixture(scope="module")
def http(url) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10.0) as client:
        yield client


# ------------------------------------------------------------------------------------------ tests


def test_chain_identity_over_web3(w3):
    assert w3.is_connected()
    assert w3.eth.chain_id == ADI_TESTNET_CHAIN_ID == 99999
    assert w3.net.version == "99999"
    assert w3.client_version.startswith("NectoDevnetEVM/")
    assert w3.eth.accounts == []  # no unlocked accounts, like a public RPC
    assert w3.eth.syncing is False
    latest = w3.eth.get_block("latest")
    assert latest["number"] == w3.eth.block_number
    assert latest["baseFeePerGas"] > 0


def test_sandbox_accounts_are_deterministic_and_funded(w3):
    address, key = sandbox_evm_account(SEED)
    assert (address, key) == sandbox_evm_account(SEED, 0)
    assert Account.from_key(key).address == address
    assert key == sandbox_evm_keys(SEED)[0]
    assert sandbox_evm_account(SEED + 1)[0] != address
    assert len({sandbox_evm_account(SEED, i)[0] for i in range(SANDBOX_EVM_ACCOUNTS)}) == SANDBOX_EVM_ACCOUNTS
    with pytest.raises(ValueError):
        sandbox_evm_account(SEED, SANDBOX_EVM_ACCOUNTS)
    last, _ = sandbox_evm_account(SEED, SANDBOX_EVM_ACCOUNTS - 1)
    assert w3.eth.get_balance(last) == SANDBOX_BALANCE_WEI  # untouched by every test


def test_signed_value_transfer_and_receipt(w3):
    address, key = sandbox_evm_account(SEED, 0)
    recipient = Account.create().address
    before = w3.eth.get_balance(address)
    nonce = w3.eth.get_transaction_count(address, "pending")

    receipt = send(w3, key, {"to": recipient, "value": 12345})

    assert receipt["status"] == 1
    assert receipt["gasUsed"] == 21000
    assert receipt["from"] == address and receipt["to"] == recipient
    assert receipt["blockNumber"] == w3.eth.block_number  # mined at once, one block per transaction
    assert w3.eth.get_balance(recipient) == 12345
    fee = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert w3.eth.get_balance(address) == before - 12345 - fee
    assert w3.eth.get_transaction_count(address, "pending") == nonce + 1
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["nonce"] == nonce and tx["value"] == 12345 and tx["chainId"] == 99999 and tx["type"] == 2
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=False)
    assert block["transactions"] == [receipt["transactionHash"]]
    assert w3.eth.get_block(block["hash"])["number"] == block["number"]


def test_deploy_call_and_read_event_logs(w3, http):
    key = funded_key(http)
    me = Account.from_key(key).address
    store, deployed = deploy_store(w3, key)
    assert w3.eth.get_code(store.address) != b""
    assert store.functions.chainId().call() == 99999  # the CHAINID opcode sees the configured id
    assert store.functions.value().call() == 0

    first = send(w3, key, {"to": store.address, "data": store.encode_abi("set", [42])})
    second = send(w3, key, {"to": store.address, "data": store.encode_abi("set", [7])})
    assert store.functions.value().call() == 7

    (event,) = store.events.ValueSet().process_receipt(second)
    assert event["args"] == {"who": me, "value": 7, "previous": 42}
    assert [
        e["args"]["value"] for e in store.events.ValueSet.get_logs(from_block=deployed["blockNumber"])
    ] == [42, 7]

    base = {"fromBlock": deployed["blockNumber"], "toBlock": "latest", "address": store.address}
    assert len(w3.eth.get_logs({**base, "topics": [VALUE_SET_TOPIC]})) == 2
    only_42 = w3.eth.get_logs({**base, "topics": [VALUE_SET_TOPIC, None, topic_of(42)]})
    assert [log["transactionHash"] for log in only_42] == [first["transactionHash"]]
    either = w3.eth.get_logs({**base, "topics": [None, [topic_of(me), topic_of(Account.create().address)]]})
    assert len(either) == 2
    assert w3.eth.get_logs({**base, "topics": [VALUE_SET_TOPIC, topic_of(Account.create().address)]}) == []
    assert w3.eth.get_logs({**base, "address": Account.create().address}) == []
    by_hash = w3.eth.get_logs({"blockHash": second["blockHash"], "topics": [VALUE_SET_TOPIC]})
    assert [log["logIndex"] for log in by_hash] == [0] and by_hash[0]["blockNumber"] == second["blockNumber"]

    # Polling filters, as web3's create_filter uses them.
    log_filter = w3.eth.filter(
        {"fromBlock": deployed["blockNumber"], "address": store.address, "topics": [VALUE_SET_TOPIC]}
    )
    block_filter = w3.eth.filter("latest")
    third = send(w3, key, {"to": store.address, "data": store.encode_abi("set", [9])})
    changes = log_filter.get_new_entries()
    assert [c["transactionHash"] for c in changes] == [third["transactionHash"]]
    assert log_filter.get_new_entries() == []
    assert block_filter.get_new_entries() == [third["blockHash"]]
    assert len(log_filter.get_all_entries()) == 3
    assert w3.eth.uninstall_filter(log_filter.filter_id) is True
    assert w3.eth.uninstall_filter(log_filter.filter_id) is False


def test_reverts_surface_as_contract_logic_errors(w3, http):
    key = funded_key(http)
    me = Account.from_key(key).address
    store, _ = deploy_store(w3, key)

    with pytest.raises(ContractLogicError, match="execution reverted: value must be nonzero") as reverted:
        store.functions.set(0).call({"from": me})
    assert reverted.value.data.startswith("0x08c379a0")
    with pytest.raises(ContractLogicError, match="value must be nonzero"):
        store.functions.set(0).estimate_gas({"from": me})
    with pytest.raises(ContractCustomError) as custom:
        store.functions.set(5000).call({"from": me})
    assert custom.value.data.startswith(TOO_BIG_SELECTOR)
    assert abi_decode(["uint256", "uint256"], bytes.fromhex(custom.value.data[10:])) == (5000, 1000)

    # The wire shape, as geth answers it: code 3, the decoded reason in the message, the raw data.
    call = {"from": me, "to": store.address, "data": store.encode_abi("set", [0])}
    error = rpc(http, "eth_call", [call, "latest"])["error"]
    assert error["code"] == 3
    assert error["message"] == "execution reverted: value must be nonzero"
    assert abi_decode(["string"], bytes.fromhex(error["data"][10:])) == ("value must be nonzero",)
    assert rpc(http, "eth_estimateGas", [call])["error"]["code"] == 3

    # A reverting transaction sent anyway is mined with status 0, like on a real chain.
    failed = send(w3, key, {"to": store.address, "data": store.encode_abi("set", [0]), "gas": 100_000})
    assert failed["status"] == 0
    assert store.functions.value().call() == 0


def test_transactions_for_another_chain_are_rejected(w3, http):
    address, key = sandbox_evm_account(SEED, 1)
    nonce = w3.eth.get_transaction_count(address)
    base = {"to": Account.create().address, "value": 1, "gas": 21000, "nonce": nonce}
    fees = {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}

    for tx in ({**base, **fees, "chainId": 1}, {**base, "gasPrice": 10**10, "chainId": 1}):
        raw = Account.sign_transaction(tx, key).raw_transaction
        with pytest.raises(Web3RPCError, match="invalid chain id for signer: have 1 want 99999"):
            w3.eth.send_raw_transaction(raw)
    unprotected = Account.sign_transaction({**base, "gasPrice": 10**10}, key).raw_transaction  # no chain id
    error = rpc(http, "eth_sendRawTransaction", ["0x" + unprotected.hex()])["error"]
    assert error == {
        "code": -32000,
        "message": "only replay-protected (EIP-155) transactions allowed over RPC",
    }
    assert w3.eth.get_transaction_count(address) == nonce  # nothing was applied

    legacy = Account.sign_transaction({**base, "gasPrice": 10**10, "chainId": 99999}, key).raw_transaction
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(legacy), timeout=10)["status"] == 1


def test_pool_refusals_use_geths_messages(w3, http):
    key = funded_key(http)
    address = Account.from_key(key).address
    base = {"to": Account.create().address, "value": 1, "gas": 21000, "chainId": 99999}
    fees = {"maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}

    def refusal(tx: dict) -> dict:
        raw = Account.sign_transaction(tx, key).raw_transaction
        return rpc(http, "eth_sendRawTransaction", ["0x" + raw.hex()])["error"]

    accepted = Account.sign_transaction({**base, **fees, "nonce": 0}, key).raw_transaction
    w3.eth.send_raw_transaction(accepted)
    assert refusal({**base, **fees, "nonce": 0})["message"] in (
        "already known",
        "nonce too low: next nonce 1, tx nonce 0",
    )
    assert (
        refusal({**base, **fees, "nonce": 0, "value": 2})["message"]
        == "nonce too low: next nonce 1, tx nonce 0"
    )
    assert refusal({**base, **fees, "nonce": 5})["message"] == "nonce too high: next nonce 1, tx nonce 5"
    assert refusal({**base, **fees, "nonce": 1, "gas": 20000})["message"] == (
        "intrinsic gas too low: gas 20000, minimum needed 21000"
    )
    assert refusal({**base, **fees, "nonce": 1, "value": 10**30})["message"].startswith(
        "insufficient funds for gas * price + value: balance "
    )
    assert refusal({**base, "nonce": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1})["message"].startswith(
        "max fee per gas less than block base fee: address " + address
    )
    assert refusal({**base, "nonce": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 2})["message"] == (
        "max priority fee per gas higher than max fee per gas"
    )
    assert refusal({**base, **fees, "nonce": 1, "gas": 10**9})["message"] == "exceeds block gas limit"
    assert w3.eth.get_transaction_count(address) == 1


def test_json_rpc_envelope_errors(http):
    assert rpc(http, "eth_sendTransaction", [{}])["error"] == {
        "code": -32601,
        "message": "the method eth_sendTransaction does not exist/is not available",
    }
    assert rpc(http, "no_such_method")["error"]["code"] == -32601
    assert rpc(http, "eth_getBalance", ["0x1234", "latest"])["error"] == {
        "code": -32602,
        "message": "invalid argument 0: hex string has length 4, want 40",
    }
    assert rpc(http, "eth_getBalance", ["zz", "latest"])["error"]["message"] == (
        "invalid argument 0: hex string without 0x prefix"
    )
    assert rpc(http, "eth_getBalance")["error"] == {
        "code": -32602,
        "message": "missing value for required argument 0",
    }
    assert rpc(http, "eth_chainId", [1])["error"]["message"] == "too many arguments, want at most 0"
    assert rpc(http, "eth_getBalance", ["0x" + "00" * 20, "0xffffff"])["error"] == {
        "code": -32000,
        "message": "header not found",
    }
    assert rpc(http, "eth_getBlockByNumber", ["0xffffff", False]) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": None,
    }
    assert rpc(http, "eth_getTransactionReceipt", ["0x" + "ab" * 32])["result"] is None

    parse = http.post("/", content=b"{not json", headers={"content-type": "application/json"})
    assert parse.status_code == 200
    assert parse.json() == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
    invalid = http.post("/", json={"id": 4, "method": "eth_chainId"}).json()  # no "jsonrpc": "2.0"
    assert invalid["error"] == {"code": -32600, "message": "invalid request"} and invalid["id"] == 4
    notification = http.post("/", json={"jsonrpc": "2.0", "method": "eth_chainId"})
    assert notification.status_code == 200 and notification.content == b""


def test_batch_requests(http):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "two", "method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_nope", "params": []},
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": []},  # notification: no answer
        42,
    ]
    answers = http.post("/", json=batch).json()
    assert [a["id"] for a in answers] == [1, "two", 3, None]
    assert answers[0]["result"] == "0x1869f"
    assert int(answers[1]["result"], 16) >= 0
    assert answers[2]["error"]["code"] == -32601
    assert answers[3]["error"] == {"code": -32600, "message": "invalid request"}
    assert http.post("/", json=[]).json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "empty batch"},
    }
    # web3.py's own batching goes through the same path.
    w3 = Web3(HTTPProvider(str(http.base_url)))
    with w3.batch_requests() as batch_call:
        batch_call.add(w3.eth.get_block("latest"))
        batch_call.add(w3.eth.get_balance(sandbox_evm_account(SEED, 2)[0]))
        block, balance = batch_call.execute()
    assert block["number"] >= 0 and balance == SANDBOX_BALANCE_WEI


def test_fee_endpoints(w3, http):
    tip = w3.eth.max_priority_fee
    base_fee = w3.eth.get_block("pending")["baseFeePerGas"]
    assert w3.eth.gas_price == base_fee + tip
    history = w3.eth.fee_history(3, "latest", [10, 90])
    head = w3.eth.block_number
    assert history["oldestBlock"] == max(0, head - 2)
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert history["baseFeePerGas"][-1] == base_fee
    assert all(len(r) == 2 for r in history["reward"])
    assert rpc(http, "eth_feeHistory", ["0x1", "latest", [90, 10]])["error"]["message"] == (
        "invalid reward percentile: 10"
    )


def test_concurrent_senders_keep_nonces_consistent(w3, http):
    keys = [funded_key(http) for _ in range(4)]
    start_block = w3.eth.block_number

    def worker(key: str) -> list[int]:
        client = Web3(HTTPProvider(str(http.base_url), request_kwargs={"timeout": 10}))
        return [send(client, key, {"to": Account.create().address, "value": 1})["status"] for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        readers = [pool.submit(w3.eth.get_block, "latest") for _ in range(8)]
        statuses = list(pool.map(worker, keys))
    assert all(r.result()["number"] >= start_block for r in readers)
    assert statuses == [[1] * 5] * 4
    assert [w3.eth.get_transaction_count(Account.from_key(k).address) for k in keys] == [5] * 4
    assert w3.eth.block_number == start_block + 20  # one block per transaction, none lost or doubled

    # Eight racers sign the same nonce: the lock lets exactly one in, the others hear "nonce too low".
    racer = keys[0]
    racers = [
        Account.sign_transaction(
            {
                "to": Account.create().address,
                "value": i + 1,
                "gas": 21000,
                "nonce": 5,
                "chainId": 99999,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
            },
            racer,
        ).raw_transaction
        for i in range(8)
    ]

    def race(raw: bytes) -> dict:
        with httpx.Client(base_url=str(http.base_url), timeout=10.0) as client:
            return rpc(client, "eth_sendRawTransaction", ["0x" + raw.hex()])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(race, racers))
    assert sum("result" in r for r in results) == 1
    assert {r["error"]["message"] for r in results if "error" in r} == {
        "nonce too low: next nonce 6, tx nonce 5"
    }
    assert w3.eth.get_transaction_count(Account.from_key(racer).address, "pending") == 6


def test_faucet_funds_any_address(w3, http):
    stranger = Account.create()
    response = http.post("/necto-devnet/evm-faucet", json={"address": stranger.address.lower()})
    assert response.status_code == 200
    body = response.json()
    assert body["address"] == stranger.address
    assert body["credited"] == [{"denom": "wei", "amount": str(FAUCET_DRIP_WEI)}]
    assert w3.eth.get_transaction_receipt(body["tx_hash"])["status"] == 1
    assert w3.eth.get_balance(stranger.address) == FAUCET_DRIP_WEI
    # The faucet is its own account: the sandbox router account's nonce is untouched by it.
    info = http.get("/necto-devnet/evm-info").json()
    assert info["chain_id"] == 99999 and info["faucet_address"] not in info["sandbox_accounts"]
    assert info["sandbox_accounts"][0] == sandbox_evm_account(SEED)[0]
    assert w3.eth.get_transaction(body["tx_hash"])["from"] == info["faucet_address"]

    for bad in ({"address": "akash1xyz"}, {"address": "0x1234"}, {}, []):
        refused = http.post("/necto-devnet/evm-faucet", json=bad)
        assert refused.status_code == 400 and refused.json()["code"] == 3


def test_chain_id_is_configurable():
    node = EvmNode(seed=SEED, chain_id=1337)
    assert node.call("eth_chainId") == "0x539" and node.call("net_version") == "1337"
    _, key = sandbox_evm_account(SEED)
    tx = {"to": "0x" + "11" * 20, "value": 1, "gas": 21000, "nonce": 0, "gasPrice": 10**10}
    for chain_id, accepted in ((ADI_TESTNET_CHAIN_ID, False), (1337, True)):
        raw = "0x" + Account.sign_transaction({**tx, "chainId": chain_id}, key).raw_transaction.hex()
        answer = node.handle({"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]})
        assert ("result" in answer) is accepted, answer


async def test_asgi_app_answers_raw_json_rpc():
    transport = httpx.ASGITransport(app=build_evm_app(SEED, chain_id=1337))
    async with httpx.AsyncClient(transport=transport, base_url="http://evm") as client:
        answer = (await client.post("/", json={"jsonrpc": "2.0", "id": 9, "method": "eth_chainId"})).json()
        assert answer == {"jsonrpc": "2.0", "id": 9, "result": "0x539"}
        assert (await client.get("/")).status_code == 405


@pytest.mark.parametrize("suffix", ["/evm/", "/evm"])
def test_mounted_under_a_prefix_in_the_devnet_rest_app(monkeypatch, suffix):
    """What MARKET_FAKES would do: the chain REST app mounts the EVM under /evm; web3 talks to that URL."""
    from devnet import rest
    from devnet.chain import Chain

    monkeypatch.setattr(rest, "MARKET_FAKES", (("/evm", "devnet.evm", "build_evm_app"),))
    app = rest.build_rest_app(Chain(seed=SEED), None)
    with serve(app) as base:
        w3 = Web3(HTTPProvider(base + suffix, request_kwargs={"timeout": 10}))
        assert w3.eth.chain_id == 99999
        address, key = sandbox_evm_account(SEED)
        receipt = send(w3, key, {"to": Account.create().address, "value": 1})
        assert receipt["status"] == 1 and w3.eth.get_balance(address) < SANDBOX_BALANCE_WEI
        with httpx.Client(base_url=base) as client:
            assert client.get("/evm/necto-devnet/evm-info").json()["chain_id"] == 99999


def test_standalone_process_prints_its_url():
    proc = subprocess.Popen(
        [sys.executable, "-m", "devnet.evm", "--port", "0", "--chain-id", "1337", "--seed", str(SEED)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        announced = json.loads(line)
        assert announced["chain_id"] == 1337
        assert announced["sandbox_account"] == sandbox_evm_account(SEED)[0]
        w3 = Web3(HTTPProvider(announced["url"], request_kwargs={"timeout": 10}))
        assert w3.eth.chain_id == 1337
        assert w3.eth.get_balance(announced["sandbox_account"]) == SANDBOX_BALANCE_WEI
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_compute_router_artifact_deploys_if_present(w3, http):
    artifact_path = ROOT / "contracts" / "build" / "ComputeRouter.json"
    if not artifact_path.exists():
        pytest.skip("contracts/build/ComputeRouter.json is not built")
    artifact = json.loads(artifact_path.read_text())
    names = {item.get("name") for item in artifact["abi"]}
    if "owner" not in names:
        pytest.skip("ComputeRouter has no owner() view to check")
    key = funded_key(http)
    bytecode = artifact["bytecode"] if artifact["bytecode"].startswith("0x") else "0x" + artifact["bytecode"]
    receipt = send(w3, key, {"data": bytecode})
    assert receipt["status"] == 1
    router = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
    assert router.functions.owner().call() == Account.from_key(key).address
