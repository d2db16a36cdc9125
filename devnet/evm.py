"""A local EVM chain for Necto's sandbox: Ethereum JSON-RPC 2.0 over HTTP, backed by eth-tester (py-evm).

It stands in for ADI Chain's public RPC (``https://rpc.ab.testnet.adifoundation.ai/``, chain id 99999, EVM
version cancun; ../shared/specs/stack.md "ADI Chain facts"), so the product talks to it with a plain
``Web3(HTTPProvider(url))``. Every transaction is mined into its own block as soon as it is accepted.

``POST /`` takes one JSON-RPC request or a batch (at most 1000, geth's default). Methods::

    web3_clientVersion web3_sha3 net_version net_listening net_peerCount
    eth_chainId eth_syncing eth_accounts (always [], like a public RPC) eth_blockNumber
    eth_getBlockByNumber eth_getBlockByHash eth_getBlockTransactionCountByNumber/ByHash eth_getBlockReceipts
    eth_getTransactionByHash eth_getTransactionByBlockNumberAndIndex/ByBlockHashAndIndex
    eth_getTransactionReceipt eth_getBalance eth_getTransactionCount eth_getCode eth_getStorageAt
    eth_gasPrice eth_maxPriorityFeePerGas eth_feeHistory eth_estimateGas eth_call eth_sendRawTransaction
    eth_getLogs eth_newFilter eth_newBlockFilter eth_getFilterChanges eth_getFilterLogs eth_uninstallFilter

Anything else (eth_sendTransaction, eth_sign, personal_*, debug_*...) is ``-32601 the method X does not
exist/is not available``: there are no unlocked accounts, transactions arrive signed.

Errors follow geth's shapes (JSON-RPC errors come back with HTTP 200):

- ``-32700 parse error``, ``-32600 invalid request`` / ``empty batch`` / ``batch too large``,
  ``-32601 the method X does not exist/is not available``, ``-32602 invalid argument N: ...`` /
  ``missing value for required argument N`` / ``too many arguments, want at most N``;
- a revert in eth_call / eth_estimateGas: ``{"code": 3, "message": "execution reverted: <reason>",
  "data": "0x<revert data>"}`` (geth uses code 3, and web3.py keeps the reason in ContractLogicError's
  message only for code 3); a revert without data: ``{"code": -32000, "message": "execution reverted"}``;
- ``-32000`` for what a node refuses: ``invalid sender: invalid chain id for signer: have 1 want 99999``,
  ``only replay-protected (EIP-155) transactions allowed over RPC``, ``nonce too low: next nonce 4, tx
  nonce 3``, ``nonce too high: next nonce 4, tx nonce 6`` (a real node would queue it; this chain mines
  each transaction at once, so it cannot), ``insufficient funds for gas * price + value: balance ...,
  tx cost ..., overshot ...``, ``intrinsic gas too low: gas ..., minimum needed ...``,
  ``exceeds block gas limit``, ``max fee per gas less than block base fee: ...``, ``already known``,
  ``transaction type not supported: tx type 3 not supported by this pool``, ``gas required exceeds
  allowance (N)``, ``header not found``, ``filter not found``.

The chain id (default 99999) is what eth_chainId answers, what the CHAINID opcode returns, and what every
raw transaction must be signed for (EIP-155; py-evm itself does not check it, :meth:`EvmNode._admit` does).

Sandbox funding: :func:`sandbox_evm_account` gives the deterministic accounts (keccak of
``necto-sandbox-evm-{seed}-{i}``) that genesis funds with 1,000,000 ETH each; index 0 is meant as Necto's
router account. Devnet-only routes, clearly namespaced and absent from a real node:

- ``POST /necto-devnet/evm-faucet {"address": "0x..."}`` -> ``{"address", "credited": [{"denom": "wei",
  "amount": "100000000000000000000"}], "tx_hash"}`` (a real transfer from a separate faucet account, so it
  never disturbs the nonces of the sandbox accounts); a bad address -> HTTP 400 ``{"code": 3, "message",
  "details": []}``.
- ``GET /necto-devnet/evm-info`` -> ``{"chain_id", "block_number", "sandbox_accounts": [...],
  "faucet_address"}``.

Run alone: ``python -m devnet.evm --port 8545 [--chain-id 99999] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import logging
import re
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import rlp
from eth.estimators.gas import binary_gas_search_1000_tolerance
from eth.exceptions import (
    ContractCreationCollision,
    FullStack,
    InsufficientFunds,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfBoundsRead,
    OutOfGas,
    ReservedBytesInCode,
    Revert,
    StackDepthLimit,
    VMError,
    WriteProtection,
)
from eth.vm.forks import CancunVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import decode as abi_decode
from eth_keys import keys
from eth_tester import PyEVMBackend
from eth_utils import ValidationError, keccak, to_checksum_address
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ADI_TESTNET_CHAIN_ID",
    "FAUCET_DRIP_WEI",
    "SANDBOX_BALANCE_WEI",
    "SANDBOX_EVM_ACCOUNTS",
    "EvmNode",
    "RpcError",
    "build_evm_app",
    "main",
    "sandbox_evm_account",
    "sandbox_evm_keys",
]

logger = logging.getLogger(__name__)

ADI_TESTNET_CHAIN_ID = 99999
ETHER = 10**18
SANDBOX_EVM_ACCOUNTS = 4
SANDBOX_BALANCE_WEI = 1_000_000 * ETHER
FAUCET_RESERVE_WEI = 10**12 * ETHER
FAUCET_DRIP_WEI = 100 * ETHER
# What eth_maxPriorityFeePerGas suggests: geth's oracle answers about this on an idle chain.
SUGGESTED_TIP_WEI = 10**9
MAX_REQUEST_BYTES = 5 * 1024 * 1024  # geth's HTTP body limit
BATCH_LIMIT = 1000  # geth's default --rpc.batch-request-limit
MAX_TOPICS = 4
CLIENT_VERSION = "NectoDevnetEVM/v0.1.0/py-evm-cancun"

ZERO_ADDRESS = b"\x00" * 20
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
# geth's accounts/abi panicReasons, so "execution reverted: <reason>" reads the same as on a real node.
PANIC_REASONS = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}
BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")
# EIP-4844 blob base fee: fake_exponential(MIN_BASE_FEE_PER_BLOB_GAS, excess, UPDATE_FRACTION).
BLOB_BASE_FEE_UPDATE_FRACTION = 3338477


# ------------------------------------------------------------------------------------------ accounts


def _sandbox_key(seed: int, index: int) -> bytes:
    return keccak(text=f"necto-sandbox-evm-{seed}-{index}")


def _faucet_key(seed: int) -> bytes:
    return keccak(text=f"necto-sandbox-evm-faucet-{seed}")


def sandbox_evm_keys(seed: int = 0) -> tuple[str, ...]:
    """The private keys (``0x``-hex) of the accounts genesis funds for ``seed``, index order."""
    return tuple("0x" + _sandbox_key(seed, i).hex() for i in range(SANDBOX_EVM_ACCOUNTS))


def sandbox_evm_account(seed: int = 0, index: int = 0) -> tuple[str, str]:
    """``(checksum address, 0x-hex private key)`` of funded sandbox account ``index`` (0 = the router)."""
    if not 0 <= index < SANDBOX_EVM_ACCOUNTS:
        raise ValueError(f"index must be in 0..{SANDBOX_EVM_ACCOUNTS - 1}; only those accounts are funded")
    key = _sandbox_key(seed, index)
    return keys.PrivateKey(key).public_key.to_checksum_address(), "0x" + key.hex()


# ------------------------------------------------------------------------------------------ errors


class RpcError(Exception):
    """A JSON-RPC error object: ``{"code", "message"[, "data"]}``."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_json(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _refused(message: str) -> RpcError:
    return RpcError(-32000, message)


def _bad_arg(index: int, message: str) -> RpcError:
    return RpcError(-32602, f"invalid argument {index}: {message}")


def _revert_error(data: bytes) -> RpcError:
    if not data:
        return RpcError(-32000, "execution reverted")
    message = "execution reverted"
    with contextlib.suppress(Exception):  # undecodable data keeps the bare message, like geth
        if data[:4] == ERROR_SELECTOR:
            message = f"execution reverted: {abi_decode(['string'], data[4:])[0]}"
        elif data[:4] == PANIC_SELECTOR:
            code = abi_decode(["uint256"], data[4:])[0]
            message = f"execution reverted: {PANIC_REASONS.get(code, f'unknown panic code: {code:#x}')}"
    return RpcError(3, message, "0x" + data.hex())


# ------------------------------------------------------------------------------------------ params


def _hex_digits(value: Any, index: int) -> str:
    if not isinstance(value, str):
        raise _bad_arg(index, f"cannot unmarshal {type(value).__name__} into a hex value")
    if not value.startswith(("0x", "0X")):
        raise _bad_arg(index, "hex string without 0x prefix")
    digits = value[2:]
    if any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise _bad_arg(index, "invalid hex string")
    return digits


def _quantity(value: Any, index: int) -> int:
    digits = _hex_digits(value, index)
    if not digits:
        raise _bad_arg(index, 'hex string "0x"')
    if len(digits) > 1 and digits[0] == "0":
        raise _bad_arg(index, "hex number with leading zero digits")
    if len(digits) > 64:
        raise _bad_arg(index, "hex number > 256 bits")
    return int(digits, 16)


def _bytes(value: Any, index: int, length: int | None = None) -> bytes:
    digits = _hex_digits(value, index)
    if len(digits) % 2:
        raise _bad_arg(index, "hex string of odd length")
    raw = bytes.fromhex(digits)
    if length is not None and len(raw) != length:
        raise _bad_arg(index, f"hex string has length {len(digits)}, want {2 * length}")
    return raw


def _address(value: Any, index: int) -> bytes:
    return _bytes(value, index, 20)


def _hash(value: Any, index: int) -> bytes:
    return _bytes(value, index, 32)


def _bool(value: Any, index: int) -> bool:
    if not isinstance(value, bool):
        raise _bad_arg(index, f"cannot unmarshal {json.dumps(value)} into a bool")
    return value


def _count(value: Any, index: int) -> int:
    """geth's HexOrDecimal64 (eth_feeHistory's blockCount): a hex string, a decimal string or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return _quantity(value, index)


@dataclass(frozen=True)
class _CallArgs:
    """geth's TransactionArgs, as far as eth_call / eth_estimateGas use them."""

    sender: bytes
    to: bytes  # b"" = contract creation
    gas: int | None
    value: int
    data: bytes

    @classmethod
    def parse(cls, value: Any, index: int) -> _CallArgs:
        if not isinstance(value, dict):
            raise _bad_arg(index, "transaction arguments must be a JSON object")
        data, call_input = value.get("data"), value.get("input")
        if data is not None and call_input is not None and data != call_input:
            raise _bad_arg(
                index,
                'both "data" and "input" are set and not equal. Please use "input" to pass transaction call data',
            )
        payload = call_input if call_input is not None else data
        for key in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "nonce"):
            if value.get(key) is not None:
                _quantity(value[key], index)  # validated like geth, but calls here are free
        return cls(
            sender=_address(value["from"], index) if value.get("from") is not None else ZERO_ADDRESS,
            to=_address(value["to"], index) if value.get("to") is not None else b"",
            gas=_quantity(value["gas"], index) if value.get("gas") is not None else None,
            value=_quantity(value["value"], index) if value.get("value") is not None else 0,
            data=_bytes(payload, index) if payload is not None else b"",
        )


@dataclass
class _LogQuery:
    from_tag: str | int | None = None
    to_tag: str | int | None = None
    block_hash: bytes | None = None
    addresses: frozenset[bytes] = frozenset()
    topics: tuple[frozenset[bytes] | None, ...] = ()

    @classmethod
    def parse(cls, value: Any, index: int) -> _LogQuery:
        if not isinstance(value, dict):
            raise _bad_arg(index, "filter criteria must be a JSON object")
        block_hash = value.get("blockHash")
        if block_hash is not None and (
            value.get("fromBlock") is not None or value.get("toBlock") is not None
        ):
            raise _bad_arg(
                index, "cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
            )
        address = value.get("address")
        if address is None:
            addresses: list[bytes] = []
        elif isinstance(address, list):
            addresses = [_address(a, index) for a in address]
        else:
            addresses = [_address(address, index)]
        topics_in = value.get("topics") or []
        if not isinstance(topics_in, list):
            raise _bad_arg(index, "topics must be an array")
        if len(topics_in) > MAX_TOPICS:
            raise _refused("exceed max topics")
        topics: list[frozenset[bytes] | None] = []
        for position in topics_in:
            if position is None:
                topics.append(None)
            elif isinstance(position, list):
                alternatives = [_hash(t, index) for t in position if t is not None]
                # [] or [null, ...] in a position matches anything, as in geth
                topics.append(frozenset(alternatives) if alternatives and None not in position else None)
            else:
                topics.append(frozenset([_hash(position, index)]))
        return cls(
            from_tag=_filter_tag(value.get("fromBlock"), index),
            to_tag=_filter_tag(value.get("toBlock"), index),
            block_hash=_hash(block_hash, index) if block_hash is not None else None,
            addresses=frozenset(addresses),
            topics=tuple(topics),
        )

    def matches(self, address: bytes, topics: tuple[bytes, ...]) -> bool:
        if self.addresses and address not in self.addresses:
            return False
        if len(self.topics) > len(topics):
            return False
        return all(
            allowed is None or topic in allowed for allowed, topic in zip(self.topics, topics, strict=False)
        )


def _filter_tag(value: Any, index: int) -> str | int | None:
    if value is None or value in BLOCK_TAGS:
        return value
    return _quantity(value, index)


def _tag(value: Any, index: int) -> str | int | bytes:
    """A block parameter: a tag, a quantity, or an EIP-1898 object (``blockNumber`` / ``blockHash``)."""
    if isinstance(value, dict):
        if value.get("blockHash") is not None:
            return _hash(value["blockHash"], index)
        if value.get("blockNumber") is not None:
            return _tag(value["blockNumber"], index)
        raise _bad_arg(index, "either blockNumber or blockHash must be given")
    if value in BLOCK_TAGS:
        return value
    return _quantity(value, index)


# ------------------------------------------------------------------------------------------ JSON shapes


def _qty(value: int) -> str:
    return hex(value)


def _hexdata(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _addr(value: bytes) -> str | None:
    return "0x" + value.hex() if value else None


def _tx_type(tx: Any) -> int:
    return getattr(tx, "type_id", None) or 0


def _effective_gas_price(tx: Any, base_fee: int) -> int:
    if _tx_type(tx) >= 2:
        return min(tx.max_fee_per_gas, tx.max_priority_fee_per_gas + base_fee)
    return tx.gas_price


def _fee_cap(tx: Any) -> int:
    return tx.max_fee_per_gas if _tx_type(tx) >= 2 else tx.gas_price


def _access_list_json(tx: Any) -> list[dict]:
    return [
        {"address": _addr(address), "storageKeys": [_word(slot) for slot in slots]}
        for address, slots in (tx.access_list or ())
    ]


def _tx_json(tx: Any, block: Any | None, index: int | None) -> dict:
    tx_type = _tx_type(tx)
    body: dict[str, Any] = {
        "blockHash": _hexdata(block.hash) if block is not None else None,
        "blockNumber": _qty(block.number) if block is not None else None,
        "from": _addr(tx.sender),
        "gas": _qty(tx.gas),
        "hash": _hexdata(tx.hash),
        "input": _hexdata(tx.data),
        "nonce": _qty(tx.nonce),
        "to": _addr(tx.to),
        "transactionIndex": _qty(index) if index is not None else None,
        "value": _qty(tx.value),
        "type": _qty(tx_type),
    }
    if tx_type >= 2:
        base_fee = block.header.base_fee_per_gas if block is not None else 0
        body["gasPrice"] = _qty(
            _effective_gas_price(tx, base_fee) if block is not None else tx.max_fee_per_gas
        )
        body["maxFeePerGas"] = _qty(tx.max_fee_per_gas)
        body["maxPriorityFeePerGas"] = _qty(tx.max_priority_fee_per_gas)
    else:
        body["gasPrice"] = _qty(tx.gas_price)
    if tx_type >= 1:
        body["accessList"] = _access_list_json(tx)
        body["chainId"] = _qty(tx.chain_id)
        body["v"] = _qty(tx.y_parity)
        body["yParity"] = _qty(tx.y_parity)
    else:
        if tx.chain_id is not None:
            body["chainId"] = _qty(tx.chain_id)
        body["v"] = _qty(tx.v)
    body["r"] = _qty(tx.r)
    body["s"] = _qty(tx.s)
    return body


def _contract_address(sender: bytes, nonce: int) -> bytes:
    return keccak(rlp.encode([sender, nonce]))[12:]


def _blob_base_fee(excess_blob_gas: int) -> int:
    # EIP-4844 fake_exponential(1, excess, BLOB_BASE_FEE_UPDATE_FRACTION)
    i, output, accum = 1, 0, BLOB_BASE_FEE_UPDATE_FRACTION
    while accum > 0:
        output += accum
        accum = accum * excess_blob_gas // (BLOB_BASE_FEE_UPDATE_FRACTION * i)
        i += 1
    return output // BLOB_BASE_FEE_UPDATE_FRACTION


# ------------------------------------------------------------------------------------------ the node


@dataclass
class _LogEntry:
    tx_index: int
    address: bytes
    topics: tuple[bytes, ...]
    body: dict


@dataclass
class _Filter:
    kind: str  # "logs" | "blocks"
    last_block: int
    query: _LogQuery | None = None


@dataclass
class _MethodSpec:
    handler: Callable[..., Any]
    required: int
    optional: int = 0


@dataclass
class EvmNode:
    """One in-process EVM chain and its JSON-RPC methods. Every public method is thread-safe (one lock)."""

    seed: int = 0
    chain_id: int = ADI_TESTNET_CHAIN_ID
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.sandbox_accounts = [sandbox_evm_account(self.seed, i)[0] for i in range(SANDBOX_EVM_ACCOUNTS)]
        self._faucet = keys.PrivateKey(_faucet_key(self.seed))
        genesis_state = {
            keys.PrivateKey(_sandbox_key(self.seed, i)).public_key.to_canonical_address(): _genesis_account(
                SANDBOX_BALANCE_WEI
            )
            for i in range(SANDBOX_EVM_ACCOUNTS)
        }
        genesis_state[self._faucet.public_key.to_canonical_address()] = _genesis_account(FAUCET_RESERVE_WEI)
        # ADI Chain targets cancun: no EIP-7702 set-code transactions, which eth-tester's default Prague allows.
        self._backend = PyEVMBackend(
            genesis_parameters=PyEVMBackend.generate_genesis_params(),
            genesis_state=genesis_state,
            vm_configuration=((0, CancunVM),),
        )
        # eth-tester hard-codes chain_id on a chain class it builds per backend; py-evm reads it from the
        # class for every VM's ChainContext (the CHAINID opcode). A subclass carries ours. The estimator
        # searches to within 1000 gas (py-evm's default stops within 21000), close to geth's estimates.
        chain = self._backend.chain
        chain.__class__ = type(
            "NectoDevnetChain",
            (type(chain),),
            {"chain_id": self.chain_id, "gas_estimator": staticmethod(binary_gas_search_1000_tolerance)},
        )
        chain.gas_estimator = binary_gas_search_1000_tolerance
        self._tx_location: dict[bytes, tuple[int, int]] = {}
        self._logs_by_block: dict[int, list[_LogEntry]] = {}
        self._blocks_with_logs: list[int] = []
        self._filters: dict[str, _Filter] = {}
        self._methods = self._method_table()

    # ---------------------------------------------------------------- public, thread-safe

    def handle(self, payload: Any) -> Any:
        """Answer a parsed JSON-RPC payload (one request or a batch); None when nothing is owed back."""
        if isinstance(payload, list):
            if not payload:
                return _error_response(None, RpcError(-32600, "empty batch"))
            if len(payload) > BATCH_LIMIT:
                return [_error_response(None, RpcError(-32600, "batch too large"))]
            answers = [self.handle_one(item) for item in payload]
            answers = [a for a in answers if a is not None]
            return answers or None
        return self.handle_one(payload)

    def handle_one(self, request: Any) -> dict | None:
        if (
            not isinstance(request, dict)
            or request.get("jsonrpc") != "2.0"
            or not isinstance(request.get("method"), str)
            or isinstance(request.get("id"), dict | list | bool)
        ):
            request_id = request.get("id") if isinstance(request, dict) else None
            return _error_response(
                request_id if isinstance(request_id, str | int) else None, _INVALID_REQUEST
            )
        notification = "id" not in request
        request_id = request.get("id")
        try:
            result = self.call(request["method"], request.get("params"))
        except RpcError as err:
            return None if notification else _error_response(request_id, err)
        return None if notification else {"jsonrpc": "2.0", "id": request_id, "result": result}

    def call(self, method: str, params: Any = None) -> Any:
        """Run one JSON-RPC method; raises :class:`RpcError`."""
        spec = self._methods.get(method)
        if spec is None:
            raise RpcError(-32601, f"the method {method} does not exist/is not available")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise RpcError(-32602, "non-array args")
        if len(params) > spec.required + spec.optional:
            raise RpcError(-32602, f"too many arguments, want at most {spec.required + spec.optional}")
        if len(params) < spec.required:
            raise RpcError(-32602, f"missing value for required argument {len(params)}")
        with self._lock:
            try:
                return spec.handler(*params)
            except RpcError:
                raise
            except Exception as exc:  # a bug here must not leak a traceback to the client
                logger.exception("devnet EVM: %s failed", method)
                raise RpcError(-32603, f"internal error: {type(exc).__name__}") from exc

    def faucet(self, recipient: bytes) -> dict:
        """Send :data:`FAUCET_DRIP_WEI` to ``recipient`` in a real transaction from the faucet account."""
        with self._lock:
            sender = self._faucet.public_key.to_canonical_address()
            vm = self._backend.chain.get_vm()
            unsigned = vm.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
                chain_id=self.chain_id,
                nonce=vm.state.get_nonce(sender),
                max_priority_fee_per_gas=SUGGESTED_TIP_WEI,
                max_fee_per_gas=SUGGESTED_TIP_WEI + 2 * self._pending_base_fee(),
                gas=21000,
                to=recipient,
                value=FAUCET_DRIP_WEI,
                data=b"",
                access_list=(),
            )
            tx_hash = self._admit(unsigned.as_signed_transaction(self._faucet, chain_id=self.chain_id))
        return {
            "address": to_checksum_address(recipient),
            "credited": [{"denom": "wei", "amount": str(FAUCET_DRIP_WEI)}],
            "tx_hash": _hexdata(tx_hash),
        }

    def info(self) -> dict:
        with self._lock:
            return {
                "chain_id": self.chain_id,
                "block_number": self._head_number(),
                "sandbox_accounts": list(self.sandbox_accounts),
                "faucet_address": self._faucet.public_key.to_checksum_address(),
            }

    # ---------------------------------------------------------------- method table

    def _method_table(self) -> dict[str, _MethodSpec]:
        return {
            "web3_clientVersion": _MethodSpec(lambda: CLIENT_VERSION, 0),
            "web3_sha3": _MethodSpec(lambda data: _hexdata(keccak(_bytes(data, 0))), 1),
            "net_version": _MethodSpec(lambda: str(self.chain_id), 0),
            "net_listening": _MethodSpec(lambda: True, 0),
            "net_peerCount": _MethodSpec(lambda: "0x0", 0),
            "eth_chainId": _MethodSpec(lambda: _qty(self.chain_id), 0),
            "eth_syncing": _MethodSpec(lambda: False, 0),
            "eth_accounts": _MethodSpec(lambda: [], 0),
            "eth_blockNumber": _MethodSpec(lambda: _qty(self._head_number()), 0),
            "eth_getBlockByNumber": _MethodSpec(self._get_block_by_number, 2),
            "eth_getBlockByHash": _MethodSpec(self._get_block_by_hash, 2),
            "eth_getBlockTransactionCountByNumber": _MethodSpec(self._tx_count_by_number, 1),
            "eth_getBlockTransactionCountByHash": _MethodSpec(self._tx_count_by_hash, 1),
            "eth_getBlockReceipts": _MethodSpec(self._get_block_receipts, 1),
            "eth_getTransactionByHash": _MethodSpec(self._get_transaction_by_hash, 1),
            "eth_getTransactionByBlockNumberAndIndex": _MethodSpec(self._tx_by_number_and_index, 2),
            "eth_getTransactionByBlockHashAndIndex": _MethodSpec(self._tx_by_hash_and_index, 2),
            "eth_getTransactionReceipt": _MethodSpec(self._get_transaction_receipt, 1),
            "eth_getBalance": _MethodSpec(self._get_balance, 1, 1),
            "eth_getTransactionCount": _MethodSpec(self._get_transaction_count, 1, 1),
            "eth_getCode": _MethodSpec(self._get_code, 1, 1),
            "eth_getStorageAt": _MethodSpec(self._get_storage_at, 2, 1),
            "eth_gasPrice": _MethodSpec(lambda: _qty(self._pending_base_fee() + SUGGESTED_TIP_WEI), 0),
            "eth_maxPriorityFeePerGas": _MethodSpec(lambda: _qty(SUGGESTED_TIP_WEI), 0),
            "eth_feeHistory": _MethodSpec(self._fee_history, 2, 1),
            "eth_estimateGas": _MethodSpec(self._estimate_gas, 1, 1),
            "eth_call": _MethodSpec(self._call, 1, 1),
            "eth_sendRawTransaction": _MethodSpec(self._send_raw_transaction, 1),
            "eth_getLogs": _MethodSpec(self._get_logs, 1),
            "eth_newFilter": _MethodSpec(self._new_filter, 1),
            "eth_newBlockFilter": _MethodSpec(self._new_block_filter, 0),
            "eth_getFilterChanges": _MethodSpec(self._get_filter_changes, 1),
            "eth_getFilterLogs": _MethodSpec(self._get_filter_logs, 1),
            "eth_uninstallFilter": _MethodSpec(lambda fid: self._filters.pop(str(fid), None) is not None, 1),
        }

    # ---------------------------------------------------------------- chain access

    @property
    def _chain(self) -> Any:
        return self._backend.chain

    def _head_number(self) -> int:
        return self._chain.get_canonical_head().block_number

    def _pending_base_fee(self) -> int:
        return self._chain.header.base_fee_per_gas

    def _number_of(self, tag: str | int | bytes) -> int:
        """The mined block number a block parameter names ("pending" reads as latest: nothing is pending)."""
        if isinstance(tag, bytes):
            return self._block_by_hash(tag).number
        if tag == "earliest":
            return 0
        if isinstance(tag, str):
            return self._head_number()
        if tag > self._head_number():
            raise _refused("header not found")
        return tag

    def _block_by_hash(self, block_hash: bytes) -> Any:
        try:
            block = self._chain.get_block_by_hash(block_hash)
        except Exception:  # py-evm raises HeaderNotFound / BlockNotFound
            raise _refused("header not found") from None
        if block.number > self._head_number():
            raise _refused("header not found")
        return block

    def _state_at(self, tag: Any, index: int) -> Any:
        number = self._number_of(_tag(tag, index))
        header = self._chain.get_canonical_block_header_by_number(number)
        return self._chain.get_vm(header).state

    def _optional_block(self, tag: Any, index: int) -> Any | None:
        """The block a tag names, the pending block for "pending", or None past the head (geth's null)."""
        parsed = _tag(tag, index)
        if parsed == "pending":
            return self._chain.get_block()
        if isinstance(parsed, bytes):
            try:
                return self._block_by_hash(parsed)
            except RpcError:
                return None
        if isinstance(parsed, int) and parsed > self._head_number():
            return None
        return self._chain.get_canonical_block_by_number(self._number_of(parsed))

    def _optional_block_by_hash(self, block_hash: Any, index: int) -> Any | None:
        try:
            return self._block_by_hash(_hash(block_hash, index))
        except RpcError as err:
            if err.code == -32602:
                raise
            return None

    def _receipts(self, block: Any) -> tuple:
        return block.get_receipts(self._chain.chaindb)

    # ---------------------------------------------------------------- blocks and transactions

    def _block_json(self, block: Any, full: bool) -> dict:
        header = block.header
        mined = block.number <= self._head_number()
        body: dict[str, Any] = {
            "baseFeePerGas": _qty(header.base_fee_per_gas),
            "difficulty": _qty(header.difficulty),
            "extraData": _hexdata(header.extra_data),
            "gasLimit": _qty(header.gas_limit),
            "gasUsed": _qty(header.gas_used),
            "hash": _hexdata(header.hash),
            "logsBloom": _hexdata(header.bloom.to_bytes(256, "big")),
            "miner": _addr(header.coinbase) or "0x" + "00" * 20,
            "mixHash": _hexdata(header.mix_hash),
            "nonce": _hexdata(header.nonce),
            "number": _qty(header.block_number),
            "parentHash": _hexdata(header.parent_hash),
            "receiptsRoot": _hexdata(header.receipt_root),
            "sha3Uncles": _hexdata(header.uncles_hash),
            "size": _qty(len(rlp.encode(block))),
            "stateRoot": _hexdata(header.state_root),
            "timestamp": _qty(header.timestamp),
            "transactions": [
                _tx_json(tx, block if mined else None, i if mined else None) if full else _hexdata(tx.hash)
                for i, tx in enumerate(block.transactions)
            ],
            "transactionsRoot": _hexdata(header.transaction_root),
            "uncles": [],
            "withdrawals": [],
            "withdrawalsRoot": _hexdata(header.withdrawals_root),
        }
        if hasattr(header, "blob_gas_used"):
            body["blobGasUsed"] = _qty(header.blob_gas_used)
            body["excessBlobGas"] = _qty(header.excess_blob_gas)
            body["parentBeaconBlockRoot"] = _hexdata(header.parent_beacon_block_root)
        return body

    def _get_block_by_number(self, tag: Any, full: Any) -> dict | None:
        full = _bool(full, 1)
        block = self._optional_block(tag, 0)
        return self._block_json(block, full) if block is not None else None

    def _get_block_by_hash(self, block_hash: Any, full: Any) -> dict | None:
        full = _bool(full, 1)
        block = self._optional_block_by_hash(block_hash, 0)
        return self._block_json(block, full) if block is not None else None

    def _tx_count_by_number(self, tag: Any) -> str | None:
        block = self._optional_block(tag, 0)
        return _qty(len(block.transactions)) if block is not None else None

    def _tx_count_by_hash(self, block_hash: Any) -> str | None:
        block = self._optional_block_by_hash(block_hash, 0)
        return _qty(len(block.transactions)) if block is not None else None

    def _tx_by_number_and_index(self, tag: Any, index: Any) -> dict | None:
        return self._tx_in_block(self._optional_block(tag, 0), _quantity(index, 1))

    def _tx_by_hash_and_index(self, block_hash: Any, index: Any) -> dict | None:
        return self._tx_in_block(self._optional_block_by_hash(block_hash, 0), _quantity(index, 1))

    def _tx_in_block(self, block: Any | None, index: int) -> dict | None:
        if block is None or index >= len(block.transactions) or block.number > self._head_number():
            return None
        return _tx_json(block.transactions[index], block, index)

    def _located(self, tx_hash: Any) -> tuple[Any, int] | None:
        location = self._tx_location.get(_hash(tx_hash, 0))
        if location is None:
            return None
        number, index = location
        return self._chain.get_canonical_block_by_number(number), index

    def _get_transaction_by_hash(self, tx_hash: Any) -> dict | None:
        located = self._located(tx_hash)
        if located is None:
            return None
        block, index = located
        return _tx_json(block.transactions[index], block, index)

    def _receipt_json(self, block: Any, receipts: tuple, index: int) -> dict:
        tx = block.transactions[index]
        receipt = receipts[index]
        previous_cumulative = receipts[index - 1].gas_used if index else 0
        return {
            "blockHash": _hexdata(block.hash),
            "blockNumber": _qty(block.number),
            "contractAddress": _addr(_contract_address(tx.sender, tx.nonce)) if not tx.to else None,
            "cumulativeGasUsed": _qty(receipt.gas_used),
            "effectiveGasPrice": _qty(_effective_gas_price(tx, block.header.base_fee_per_gas)),
            "from": _addr(tx.sender),
            "gasUsed": _qty(receipt.gas_used - previous_cumulative),
            "logs": [entry.body for entry in self._block_logs(block, receipts) if entry.tx_index == index],
            "logsBloom": _hexdata(receipt.bloom.to_bytes(256, "big")),
            "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            "to": _addr(tx.to),
            "transactionHash": _hexdata(tx.hash),
            "transactionIndex": _qty(index),
            "type": _qty(_tx_type(tx)),
        }

    def _get_transaction_receipt(self, tx_hash: Any) -> dict | None:
        located = self._located(tx_hash)
        if located is None:
            return None
        block, index = located
        return self._receipt_json(block, self._receipts(block), index)

    def _get_block_receipts(self, tag: Any) -> list[dict] | None:
        block = self._optional_block(tag, 0)
        if block is None or block.number > self._head_number():
            return None
        receipts = self._receipts(block)
        return [self._receipt_json(block, receipts, i) for i in range(len(block.transactions))]

    # ---------------------------------------------------------------- state

    def _get_balance(self, address: Any, tag: Any = "latest") -> str:
        return _qty(self._state_at(tag, 1).get_balance(_address(address, 0)))

    def _get_transaction_count(self, address: Any, tag: Any = "latest") -> str:
        # Every accepted transaction is mined at once, so "pending" and "latest" agree.
        return _qty(self._state_at(tag, 1).get_nonce(_address(address, 0)))

    def _get_code(self, address: Any, tag: Any = "latest") -> str:
        return _hexdata(self._state_at(tag, 1).get_code(_address(address, 0)))

    def _get_storage_at(self, address: Any, slot: Any, tag: Any = "latest") -> str:
        account = _address(address, 0)
        digits = _hex_digits(slot, 1)
        if len(digits) > 64:
            raise _bad_arg(1, "hex string too long, want at most 32 bytes")
        position = int(digits or "0", 16)
        return _word(self._state_at(tag, 2).get_storage(account, position))

    # ---------------------------------------------------------------- fees

    def _fee_history(self, block_count: Any, newest: Any, percentiles: Any = None) -> dict:
        count = _count(block_count, 0)
        newest_number = self._number_of(_tag(newest, 1))
        if percentiles is not None:
            if not isinstance(percentiles, list) or not all(
                isinstance(p, int | float) and not isinstance(p, bool) for p in percentiles
            ):
                raise _bad_arg(2, "reward percentiles must be an array of numbers")
            for i, p in enumerate(percentiles):
                if not 0 <= p <= 100 or (i and p < percentiles[i - 1]):
                    raise _refused(f"invalid reward percentile: {p}")
        count = max(0, min(count, 1024, newest_number + 1))
        oldest = newest_number - count + 1
        blocks = [self._chain.get_canonical_block_by_number(n) for n in range(oldest, newest_number + 1)]
        if newest_number == self._head_number():
            after = self._chain.header
        else:
            after = self._chain.get_canonical_block_header_by_number(newest_number + 1)
        history: dict[str, Any] = {
            "oldestBlock": _qty(oldest if count else newest_number),
            "baseFeePerGas": [_qty(b.header.base_fee_per_gas) for b in blocks]
            + [_qty(after.base_fee_per_gas)],
            "gasUsedRatio": [b.header.gas_used / b.header.gas_limit for b in blocks],
            "baseFeePerBlobGas": [_qty(_blob_base_fee(b.header.excess_blob_gas)) for b in blocks]
            + [_qty(_blob_base_fee(after.excess_blob_gas))],
            "blobGasUsedRatio": [0.0 for _ in blocks],
        }
        if percentiles:
            history["reward"] = [self._block_rewards(b, percentiles) for b in blocks]
        return history

    def _block_rewards(self, block: Any, percentiles: list) -> list[str]:
        if not block.transactions:
            return ["0x0" for _ in percentiles]
        receipts = self._receipts(block)
        base_fee = block.header.base_fee_per_gas
        used = []
        for i, tx in enumerate(block.transactions):
            gas = receipts[i].gas_used - (receipts[i - 1].gas_used if i else 0)
            used.append((_effective_gas_price(tx, base_fee) - base_fee, gas))
        used.sort()
        rewards, cumulative, i = [], used[0][1], 0
        for p in percentiles:
            threshold = block.header.gas_used * p / 100
            while cumulative < threshold and i < len(used) - 1:
                i += 1
                cumulative += used[i][1]
            rewards.append(_qty(used[i][0]))
        return rewards

    # ---------------------------------------------------------------- execution

    def _spoof(self, args: _CallArgs, state: Any, gas: int) -> Any:
        unsigned = self._chain.get_vm().create_unsigned_transaction(
            nonce=state.get_nonce(args.sender),
            gas_price=0,
            gas=gas,
            to=args.to,
            value=args.value,
            data=args.data,
        )
        return SpoofTransaction(unsigned, from_=args.sender)

    def _call(self, call_args: Any, tag: Any = "latest") -> str:
        args = _CallArgs.parse(call_args, 0)
        header = self._chain.get_canonical_block_header_by_number(self._number_of(_tag(tag, 1)))
        gas = args.gas if args.gas is not None else header.gas_limit
        with self._chain.get_vm(header).in_costless_state() as state:
            spoofed = self._spoof(args, state, gas)
            if gas < spoofed.intrinsic_gas:
                raise _refused(f"intrinsic gas too low: have {gas}, want {spoofed.intrinsic_gas}")
            try:
                computation = state.costless_execute_transaction(spoofed)
            except ValidationError as exc:
                raise _refused(_call_refusal(exc)) from None
        if computation.is_error:
            error = computation.error
            if isinstance(error, Revert):
                raise _revert_error(error.args[0] if error.args else b"")
            raise _refused(_vm_error_message(error))
        return _hexdata(computation.output)

    def _estimate_gas(self, call_args: Any, tag: Any = "latest") -> str:
        args = _CallArgs.parse(call_args, 0)
        header = self._chain.get_canonical_block_header_by_number(self._number_of(_tag(tag, 1)))
        state = self._chain.get_vm(header).state
        try:
            estimate = self._chain.estimate_gas(self._spoof(args, state, header.gas_limit), header)
        except Revert as exc:
            raise _revert_error(exc.args[0] if exc.args else b"") from None
        except OutOfGas:
            raise _refused(f"gas required exceeds allowance ({args.gas or header.gas_limit})") from None
        except VMError as exc:
            raise _refused(_vm_error_message(exc)) from None
        except ValidationError as exc:
            raise _refused(_call_refusal(exc)) from None
        if args.gas is not None and estimate > args.gas:
            raise _refused(f"gas required exceeds allowance ({args.gas})")
        return _qty(estimate)

    def _send_raw_transaction(self, raw_hex: Any) -> str:
        raw = _bytes(raw_hex, 0)
        if not raw:
            raise _refused("typed transaction too short")
        if raw[0] < 0x7F and raw[0] not in (1, 2):
            raise _refused(f"transaction type not supported: tx type {raw[0]} not supported by this pool")
        try:
            tx = self._chain.get_vm().get_transaction_builder().decode(raw)
        except Exception as exc:
            raise _refused(f"rlp: {exc}") from None
        return _hexdata(self._admit(tx))

    def _admit(self, tx: Any) -> bytes:
        """Check a signed transaction the way geth's pool does, then apply and mine it into its own block."""
        if tx.hash in self._tx_location:
            raise _refused("already known")
        chain_id = tx.chain_id
        if chain_id is None:
            raise _refused("only replay-protected (EIP-155) transactions allowed over RPC")
        header = self._chain.header
        if tx.gas > header.gas_limit:
            raise _refused("exceeds block gas limit")
        if _tx_type(tx) >= 2 and tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
            raise _refused("max priority fee per gas higher than max fee per gas")
        if chain_id != self.chain_id:
            raise _refused(
                f"invalid sender: invalid chain id for signer: have {chain_id} want {self.chain_id}"
            )
        try:
            sender = tx.sender
        except Exception:
            raise _refused("invalid sender: invalid transaction v, r, s values") from None
        if tx.gas < tx.intrinsic_gas:
            raise _refused(f"intrinsic gas too low: gas {tx.gas}, minimum needed {tx.intrinsic_gas}")
        state = self._chain.get_vm().state
        next_nonce = state.get_nonce(sender)
        if tx.nonce < next_nonce:
            raise _refused(f"nonce too low: next nonce {next_nonce}, tx nonce {tx.nonce}")
        if tx.nonce > next_nonce:
            raise _refused(f"nonce too high: next nonce {next_nonce}, tx nonce {tx.nonce}")
        balance, cost = state.get_balance(sender), tx.gas * _fee_cap(tx) + tx.value
        if balance < cost:
            raise _refused(
                f"insufficient funds for gas * price + value: balance {balance}, tx cost {cost}, "
                f"overshot {cost - balance}"
            )
        base_fee = header.base_fee_per_gas
        if _fee_cap(tx) < base_fee:
            raise _refused(
                f"max fee per gas less than block base fee: address {to_checksum_address(sender)}, "
                f"maxFeePerGas: {_fee_cap(tx)}, baseFee: {base_fee}"
            )
        try:
            self._chain.apply_transaction(tx)
        except ValidationError as exc:
            raise _refused(str(exc)) from None
        self._backend.mine_blocks()
        self._index_block(self._chain.get_canonical_block_by_number(self._head_number()))
        return tx.hash

    def _index_block(self, block: Any) -> None:
        for index, tx in enumerate(block.transactions):
            self._tx_location[tx.hash] = (block.number, index)
        entries = self._block_logs(block, self._receipts(block))
        if entries:
            self._logs_by_block[block.number] = entries
            self._blocks_with_logs.append(block.number)

    def _block_logs(self, block: Any, receipts: tuple) -> list[_LogEntry]:
        cached = self._logs_by_block.get(block.number)
        if cached is not None:
            return cached
        entries, log_index = [], 0
        for tx_index, (tx, receipt) in enumerate(zip(block.transactions, receipts, strict=True)):
            for log in receipt.logs:
                topics = tuple(t.to_bytes(32, "big") for t in log.topics)
                body = {
                    "address": _addr(log.address),
                    "topics": [_hexdata(t) for t in topics],
                    "data": _hexdata(log.data),
                    "blockNumber": _qty(block.number),
                    "transactionHash": _hexdata(tx.hash),
                    "transactionIndex": _qty(tx_index),
                    "blockHash": _hexdata(block.hash),
                    "logIndex": _qty(log_index),
                    "removed": False,
                }
                entries.append(_LogEntry(tx_index, log.address, topics, body))
                log_index += 1
        return entries

    # ---------------------------------------------------------------- logs and filters

    def _logs(self, query: _LogQuery, after_block: int | None = None) -> list[dict]:
        head = self._head_number()
        if query.block_hash is not None:
            low = high = self._block_by_hash(query.block_hash).number
        else:
            low = _bound(query.from_tag, head)
            high = min(_bound(query.to_tag, head), head)
            if (
                isinstance(query.from_tag, int)
                and isinstance(query.to_tag, int)
                and query.from_tag > query.to_tag
            ):
                raise _refused("invalid block range params")
        if after_block is not None:
            low = max(low, after_block + 1)
        found: list[dict] = []
        start = bisect.bisect_left(self._blocks_with_logs, low)
        stop = bisect.bisect_right(self._blocks_with_logs, high)
        for number in self._blocks_with_logs[start:stop]:
            found.extend(e.body for e in self._logs_by_block[number] if query.matches(e.address, e.topics))
        return found

    def _get_logs(self, criteria: Any) -> list[dict]:
        return self._logs(_LogQuery.parse(criteria, 0))

    def _new_filter(self, criteria: Any) -> str:
        query = _LogQuery.parse(criteria, 0)
        return self._install(_Filter("logs", self._head_number(), query))

    def _new_block_filter(self) -> str:
        return self._install(_Filter("blocks", self._head_number()))

    def _install(self, new: _Filter) -> str:
        filter_id = "0x" + secrets.token_hex(16)
        self._filters[filter_id] = new
        return filter_id

    def _filter(self, filter_id: Any) -> _Filter:
        found = self._filters.get(str(filter_id))
        if found is None:
            raise _refused("filter not found")
        return found

    def _get_filter_changes(self, filter_id: Any) -> list:
        watched = self._filter(filter_id)
        head = self._head_number()
        since, watched.last_block = watched.last_block, head
        if watched.kind == "blocks":
            return [
                _hexdata(self._chain.get_canonical_block_by_number(n).hash)
                for n in range(since + 1, head + 1)
            ]
        assert watched.query is not None
        return self._logs(watched.query, after_block=since)

    def _get_filter_logs(self, filter_id: Any) -> list[dict]:
        watched = self._filter(filter_id)
        if watched.query is None:
            raise _refused("filter not found")
        return self._logs(watched.query)


_INVALID_REQUEST = RpcError(-32600, "invalid request")


def _bound(tag: str | int | None, head: int) -> int:
    """A filter's fromBlock/toBlock: absent and every tag but "earliest" mean the head."""
    if tag == "earliest":
        return 0
    if isinstance(tag, int):
        return tag
    return head


def _error_response(request_id: Any, error: RpcError) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.as_json()}


def _genesis_account(balance: int) -> dict:
    return {"balance": balance, "nonce": 0, "code": b"", "storage": {}}


def _call_refusal(exc: ValidationError) -> str:
    """geth's words for what py-evm refuses before executing a call (gas is free in calls here)."""
    text = str(exc)
    if "balance" in text or "afford" in text:
        return "insufficient funds for transfer"
    if "intrinsic" in text.lower() or "Insufficient gas" in text:
        return "intrinsic gas too low"
    return text


# py-evm's execution errors in geth's words (core/vm/errors.go).
VM_ERROR_MESSAGES: tuple[tuple[type[VMError], str], ...] = (
    (OutOfGas, "out of gas"),
    (InsufficientStack, "stack underflow"),
    (FullStack, "stack limit reached 1024"),
    (InvalidJumpDestination, "invalid jump destination"),
    (StackDepthLimit, "max call depth exceeded"),
    (ContractCreationCollision, "contract address collision"),
    (WriteProtection, "write protection"),
    (OutOfBoundsRead, "return data out of bounds"),
    (ReservedBytesInCode, "invalid code: must not begin with 0xef"),
    (InsufficientFunds, "insufficient balance for transfer"),
)


def _vm_error_message(error: Exception) -> str:
    if isinstance(error, InvalidInstruction):
        opcode = re.match(r"Invalid opcode 0x([0-9a-f]+)", str(error))
        if opcode is None:  # py-evm's words for a jump into the middle of PUSH data
            return "invalid jump destination"
        if int(opcode.group(1), 16) == 0xFE:
            return "invalid opcode: INVALID"
        return f"invalid opcode: opcode 0x{opcode.group(1)} not defined"
    for kind, message in VM_ERROR_MESSAGES:
        if isinstance(error, kind):
            return message
    return str(error) or type(error).__name__


# ------------------------------------------------------------------------------------------ HTTP


def build_evm_app(seed: int = 0, *, chain_id: int = ADI_TESTNET_CHAIN_ID) -> Starlette:
    """A Starlette app: JSON-RPC on ``POST /`` plus the devnet-only faucet and info routes."""
    node = EvmNode(seed=seed, chain_id=chain_id)

    async def rpc(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return Response(f"content length too large ({len(body)}>{MAX_REQUEST_BYTES})", status_code=413)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return JSONResponse(_error_response(None, RpcError(-32700, "parse error")))
        # eth-tester is synchronous: run it off the devnet's shared event loop (the node holds its own lock).
        answer = await asyncio.to_thread(node.handle, payload)
        if answer is None:
            return Response(status_code=200)
        return JSONResponse(answer)

    async def faucet(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            return _bad_request("invalid JSON body")
        try:
            recipient = _address(body.get("address") if isinstance(body, dict) else None, 0)
        except RpcError:
            return _bad_request("address must be a 0x-prefixed 20-byte hex EVM address")
        try:
            return JSONResponse(await asyncio.to_thread(node.faucet, recipient))
        except RpcError as err:  # the faucet's own transfer was refused: a devnet bug, not the caller's
            return JSONResponse({"code": 13, "message": err.message, "details": []}, status_code=500)

    async def info(request: Request) -> JSONResponse:
        return JSONResponse(await asyncio.to_thread(node.info))

    app = Starlette(
        routes=[
            Route("/", rpc, methods=["POST"]),
            Route("/necto-devnet/evm-faucet", faucet, methods=["POST"]),
            Route("/necto-devnet/evm-info", info, methods=["GET"]),
        ]
    )
    app.state.evm = node
    return app


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse({"code": 3, "message": message, "details": []}, status_code=400)


async def _serve(host: str, port: int, seed: int, chain_id: int) -> None:
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY on accepted sockets only then, and without it every
    # response uvicorn writes in two parts waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    url = f"http://[{host}]:{bound}/" if ":" in host else f"http://{host}:{bound}/"
    server = uvicorn.Server(
        uvicorn.Config(build_evm_app(seed, chain_id=chain_id), log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.01)
    address, _ = sandbox_evm_account(seed, 0)
    print(
        json.dumps(
            {
                "url": url,
                "chain_id": chain_id,
                "sandbox_account": address,
                "faucet_url": url + "necto-devnet/evm-faucet",
            }
        ),
        flush=True,
    )
    await task


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devnet.evm", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chain-id", type=int, default=ADI_TESTNET_CHAIN_ID)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.seed, args.chain_id))


if __name__ == "__main__":
    main()
