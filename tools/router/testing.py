"""An in-process chain for the ComputeRouter: tests and the sandbox, never a real network.

``EthereumTesterProvider`` turns every revert into an ``eth_tester`` ``TransactionFailed`` whose message
is the repr of the revert bytes, so custom errors never reach web3's decoder. A node (and ADI's RPC)
answers a revert as a JSON-RPC error ``{"code": 3, "message": "execution reverted", "data": "0x..."}``;
``RevertDataTesterProvider`` answers the same way, so the client's revert handling is exercised exactly as
it runs against ADI Chain.
"""

from __future__ import annotations

import ast
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3


def _revert_bytes(exc: BaseException) -> bytes | None:
    # web3 re-raises eth-tester's failure with a text message; the original is the context. It holds the
    # revert bytes, wrapped in a py-evm ``Revert`` (estimate) or as their repr (call).
    for candidate in (exc.__context__, exc):
        if candidate is None or not candidate.args:
            continue
        first = candidate.args[0]
        if isinstance(first, Exception) and first.args:
            first = first.args[0]
        if isinstance(first, str):
            text = first.removeprefix("execution reverted: ")
            if text[:2] in ("b'", 'b"'):
                try:
                    first = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    continue
        if isinstance(first, bytes):
            return first
    return None


class RevertDataTesterProvider(EthereumTesterProvider):
    """``EthereumTesterProvider`` whose reverts come back as JSON-RPC errors carrying the revert data."""

    def make_request(self, method: Any, params: Any) -> Any:
        try:
            return super().make_request(method, params)
        except TransactionFailed as exc:
            data = _revert_bytes(exc)
            if data is None:
                raise
            return {
                "jsonrpc": "2.0",
                "id": self._current_request_id,
                "error": {"code": 3, "message": "execution reverted", "data": "0x" + data.hex()},
            }


def tester_web3() -> Web3:
    return Web3(RevertDataTesterProvider())


def funded_account(w3: Web3, wei: int = 10**20) -> LocalAccount:
    """A fresh local key funded from the tester's (unlocked, test-only) coinbase account."""
    account = Account.create()
    tx_hash = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": account.address, "value": wei})
    w3.eth.wait_for_transaction_receipt(tx_hash)
    return account
