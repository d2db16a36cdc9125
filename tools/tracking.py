"""Tracked jobs: Necto's router account records them in the ComputeRouter contract (tools.router).

A job is *tracked* or *untracked* (per job; the default from ``settings.tracking``). Untracked jobs live
only in the ledger. A tracked job's approved plan says so on its confirmation card; when its deployment
runs, the router account records it on the EVM chain (job id, buyer pseudonym, provider, request hash,
routing decision hash, price, dseq) and moves its status as the job ends. The router account pays gas
only, never the user's funds; every transaction it sends is audited in the ledger.

- The router key is a local secp256k1 key in ``<key_dir>/router.key`` (created 0600, never printed), or
  ``settings.router_key_file``. In the sandbox the devnet's EVM faucet funds it.
- The contract: ``settings.router_contract_address``; in the sandbox, deployed on first use and
  remembered in ``<data_dir>/router.json`` (redeployed when the sandbox chain was reset).

Everything here is synchronous web3; the service calls it with ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from tools.errors import RouterError
from tools.router import ComputeRouterClient, OnChainJob, RouterStatus, RouterTx, status_for_ledger_state
from tools.settings import NectoSettings

log = logging.getLogger(__name__)

ROUTER_KEY_FILE = "router.key"
ROUTER_STATE_FILE = "router.json"
MIN_SANDBOX_BALANCE_WEI = 10**18  # top up from the devnet faucet below 1 ETH


def load_or_create_router_key(path: Path) -> LocalAccount:
    """The router account's key file (hex, 0600); created on first use. The key never leaves this process."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise RouterError(
                f"The router key file {path} is readable by others (mode {oct(mode)}).",
                hint=f"chmod 600 {path}",
            )
        return Account.from_key(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    account = Account.create()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(account.key.hex())
    return account


class RouterTracker:
    """Records tracked jobs in the ComputeRouter; built lazily so an unreachable EVM never blocks start-up."""

    def __init__(
        self,
        *,
        rpc_url: str,
        chain_id: int,
        account: LocalAccount,
        contract_address: str | None,
        state_file: Path,
        sandbox_faucet_url: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.account = account
        self.contract_address = contract_address
        self.state_file = state_file
        self.sandbox_faucet_url = sandbox_faucet_url
        self.timeout_s = timeout_s
        self._client: ComputeRouterClient | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self.account.address

    def describe(self) -> str:
        where = "the sandbox EVM" if self.sandbox_faucet_url else f"chain {self.chain_id}"
        contract = self._client.address if self._client else (self.contract_address or "deployed on first use")
        return f"ComputeRouter {contract} on {where} (chain id {self.chain_id})"

    # --- the contract ---------------------------------------------------------------------------------
    def client(self) -> ComputeRouterClient:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> ComputeRouterClient:
        w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": self.timeout_s}))
        options = {"expected_chain_id": self.chain_id}
        if self.sandbox_faucet_url:
            self._fund(w3)
        address = self.contract_address or self._remembered_address()
        if address:
            try:
                return ComputeRouterClient.from_address(w3, address, self.account, **options)
            except RouterError:
                if self.contract_address:
                    raise  # an address from settings must be right; never deploy over it
                log.info("the remembered ComputeRouter %s is gone (sandbox reset); deploying again", address)
        if not self.sandbox_faucet_url:
            raise RouterError(
                "Tracked mode needs the ComputeRouter's address.",
                hint="Set NECTO_ROUTER_CONTRACT_ADDRESS (deploy contracts/ComputeRouter.sol once with the router key).",
            )
        client = ComputeRouterClient.deploy(w3, self.account, **options)
        self._remember(client.address)
        return client

    def _fund(self, w3: Web3) -> None:
        if w3.eth.get_balance(self.account.address) >= MIN_SANDBOX_BALANCE_WEI:
            return
        answer = httpx.post(self.sandbox_faucet_url, json={"address": self.account.address}, timeout=self.timeout_s)
        if answer.status_code != 200:
            raise RouterError(f"The sandbox EVM faucet refused ({answer.status_code}).")

    def _remembered_address(self) -> str | None:
        try:
            record = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if record.get("rpc_url") == self.rpc_url and record.get("chain_id") == self.chain_id:
            return record.get("address")
        return None

    def _remember(self, address: str) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"rpc_url": self.rpc_url, "chain_id": self.chain_id, "address": address}))

    # --- jobs -------------------------------------------------------------------------------------------
    def record(
        self, *, job_id: str, owner: str, provider: str, request_hash: str, decision_hash: str,
        price_uact_per_block: str, dseq: int,
    ) -> RouterTx:
        return self.client().record_job(
            job_id, owner, provider, bytes.fromhex(request_hash), bytes.fromhex(decision_hash),
            price_uact_per_block or "0", dseq,
        )

    def set_status(self, job_id: str, ledger_state: str) -> RouterTx | None:
        """Move the on-chain status to match the ledger; None when it already does."""
        wanted = status_for_ledger_state(ledger_state)
        current = self.get(job_id)
        if current is None or current.status == wanted or wanted == RouterStatus.SUBMITTED:
            return None
        return self.client().update_status(job_id, wanted)

    def get(self, job_id: str) -> OnChainJob | None:
        try:
            return self.client().get_job(job_id)
        except RouterError as exc:
            if exc.error_name == "UnknownJob":
                return None
            raise


def build_tracker(settings: NectoSettings, *, sandbox_base: str | None) -> RouterTracker | None:
    """The tracker settings allow: the sandbox devnet's EVM, or ``evm_rpc_url`` + a contract address."""
    rpc_url = settings.evm_rpc_url or (f"{sandbox_base}/evm/" if sandbox_base else None)
    if rpc_url is None:
        return None
    key_file = settings.router_key_file or (settings.key_dir or settings.data_dir / "keys") / ROUTER_KEY_FILE
    faucet = f"{sandbox_base}/evm/necto-devnet/evm-faucet" if sandbox_base and not settings.evm_rpc_url else None
    return RouterTracker(
        rpc_url=rpc_url,
        chain_id=settings.evm_chain_id,
        account=load_or_create_router_key(key_file),
        contract_address=settings.router_contract_address,
        state_file=settings.data_dir / ROUTER_STATE_FILE,
        sandbox_faucet_url=faucet,
        timeout_s=settings.http_timeout_s,
    )






__all__ = ["RouterTracker", "build_tracker", "load_or_create_router_key"]
