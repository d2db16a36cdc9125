"""The devnet's chain state machine: accounts, bank, deployments, market, escrow, blocks, mempool.

Framework-free and deterministic given the seed (block timestamps aside). Everything is counted in
blocks; :meth:`Chain.produce_block` is driven by a timer in ``devnet/server.py`` or called directly in
tests. All public methods take the chain lock, so tests may call them from another thread.

Rules follow akash.md §1-2 (chain v2, BME):

- gas is paid in ``uakt`` and the **minimum gas price is 0.0025 uakt** (Keplr's registry value): CheckTx
  rejects a fee below ``ceil(gas_limit * 0.0025)`` with code 13;
- deployments are priced and funded in ``uact``; deposit >= 500000uact; hash exactly 32 bytes; groups
  non-empty; per-unit limits from chain-sdk ``validation_config.go``;
- a block runs, in order: escrow payments of every active lease (BeginBlock), then the mempool's txs
  (DeliverTx), then the market hook (simulated providers bid) and the BME mint settlement (EndBlock).
  A lease created at height H and closed at height C has paid ``(C - H) * price`` (Akash settles per
  block elapsed since creation);
- escrow amounts are DecCoins (18 decimals); refunds and provider withdrawals credit whole micro-units
  (the fraction stays in the escrow, as Akash truncates on withdrawal);
- messages carrying fields their proto does not define are refused at decode (cosmos-sdk's unknown-field
  rejection, code 2), so ``MsgUpdateDeployment {1 id, 3 hash}`` cannot smuggle groups or prices: resources
  are immutable;
- ``MsgCreateCertificate`` is validated like x/cert (``devnet/certs.py``: PEM types, self-signature with the
  given key, CN = owner) and certificates are keyed by (owner, serial); providers' server certificates are
  published at registration. Cert codespace codes (verify against chain-sdk ``go/node/cert/v1/errors.go``):
  3 certificate exists, 6 invalid certificate value, 7 invalid pubkey value.

Tx flow: :meth:`Chain.broadcast` = CheckTx (decode, signature, sequence, fee) then the tx sits in the
mempool and is executed in the next block; results are kept in a tx index (:meth:`Chain.get_tx`).
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from devnet import certs, txdecode
from devnet.txdecode import DecodedTx, TxError, b64

__all__ = [
    "Account",
    "Bid",
    "Chain",
    "Deployment",
    "Group",
    "Lease",
    "Order",
    "ResourceUnitSpec",
    "TxRecord",
    "dec_str",
]

MIN_GAS_PRICE_UAKT = Decimal("0.0025")
MIN_DEPOSIT_UACT = 500_000
MAX_BIDS_PER_ORDER = 20
MAX_GROUPS = 20
MAX_UNITS_PER_GROUP = 20
MAX_UNIT_CPU_MILLI = 384_000
MAX_UNIT_GPU = 24
MAX_UNIT_MEMORY = 2 * 1024**4
MAX_UNIT_STORAGE = 32 * 1024**4
MAX_UNIT_COUNT = 50
DEC_PRECISION = Decimal(10) ** 18
DEC_QUANT = Decimal(1).scaleb(-18)
GAS_BASE = 80_000
GAS_PER_MSG = 30_000
GAS_PER_BYTE = 10
MINT_DELAY_BLOCKS = 3
MIN_MINT_UACT = 10_000_000  # BME default minimum mint: 10 ACT

URL_CREATE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCreateDeployment"
URL_UPDATE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgUpdateDeployment"
URL_CLOSE_DEPLOYMENT = "/akash.deployment.v1beta4.MsgCloseDeployment"
URL_CREATE_LEASE = "/akash.market.v1beta5.MsgCreateLease"
URL_CLOSE_LEASE = "/akash.market.v1beta5.MsgCloseLease"
URL_ACCOUNT_DEPOSIT = "/akash.escrow.v1.MsgAccountDeposit"
URL_MINT_ACT = "/akash.bme.v1.MsgMintACT"
URL_CREATE_CERTIFICATE = "/akash.cert.v1.MsgCreateCertificate"


def dec_str(value: Decimal | int) -> str:
    """A LegacyDec as REST JSON prints it: 18 fractional digits."""
    return f"{Decimal(value).quantize(DEC_QUANT, rounding=ROUND_DOWN):f}"


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event(kind: str, **attrs: Any) -> dict:
    return {
        "type": kind,
        "attributes": [{"key": k, "value": str(v), "index": True} for k, v in attrs.items()],
    }


# --------------------------------------------------------------------------------------------------
# state records


@dataclass
class Account:
    address: str
    account_number: int
    sequence: int = 0
    pubkey: bytes | None = None


@dataclass
class ResourceUnitSpec:
    """One parsed ResourceUnit of a group (sizes in millicores / bytes / GPU units)."""

    id: int
    cpu_milli: int
    memory_bytes: int
    storage: list[tuple[str, int, dict[str, str]]]
    gpu_units: int
    gpu_attributes: dict[str, str]
    endpoints: list[tuple[str, int]]
    count: int
    price: Decimal  # uact per block, per replica

    def gpu_models(self) -> list[str]:
        """GPU model names accepted by this unit (``*`` = any nvidia model)."""
        models = []
        for key, value in self.gpu_attributes.items():
            parts = key.split("/")
            if len(parts) >= 4 and parts[0] == "vendor" and parts[2] == "model" and value == "true":
                models.append(parts[3])
        return models


@dataclass
class Group:
    owner: str
    dseq: int
    gseq: int
    name: str
    state: str
    spec_json: dict
    units: list[ResourceUnitSpec]
    requirements: list[tuple[str, str]]
    signed_by_all: list[str]
    signed_by_any: list[str]
    created_at: int

    def max_price(self) -> Decimal:
        """The order's price ceiling: sum of unit price x count (GroupSpec.Price())."""
        return sum((u.price * u.count for u in self.units), Decimal(0))


@dataclass
class Deployment:
    owner: str
    dseq: int
    state: str
    hash: bytes
    created_at: int
    groups: list[Group]
    escrow_funds: Decimal
    escrow_transferred: Decimal = Decimal(0)
    escrow_state: str = "open"
    escrow_settled_at: int = 0
    deposits: list[dict] = field(default_factory=list)
    closed_at: int = 0


@dataclass
class Order:
    owner: str
    dseq: int
    gseq: int
    oseq: int
    state: str
    created_at: int
    bids_close_at: int  # no new bids from this height on


@dataclass
class Bid:
    owner: str
    dseq: int
    gseq: int
    oseq: int
    provider: str
    bseq: int
    state: str
    price: Decimal
    created_at: int
    resources_offer: list[dict]
    expires_at: int  # the provider closes an unleased bid at this height

    def key(self) -> tuple:
        return (self.owner, self.dseq, self.gseq, self.oseq, self.provider, self.bseq)


@dataclass
class Lease:
    owner: str
    dseq: int
    gseq: int
    oseq: int
    provider: str
    bseq: int
    state: str
    price: Decimal
    created_at: int
    closed_on: int = 0
    reason: str = ""
    paid: Decimal = Decimal(0)
    credited: int = 0  # whole uact already credited to the provider's bank balance

    def key(self) -> tuple:
        return (self.owner, self.dseq, self.gseq, self.oseq, self.provider, self.bseq)


@dataclass
class ProviderRecord:
    owner: str
    host_uri: str
    attributes: list[tuple[str, str]]
    email: str
    website: str
    auditors: list[str]
    audited_attributes: list[tuple[str, str]]


@dataclass
class TxRecord:
    txhash: str
    height: int
    code: int
    codespace: str
    raw_log: str
    gas_wanted: int
    gas_used: int
    events: list[dict]
    timestamp: str
    tx: DecodedTx


@dataclass
class Block:
    height: int
    time: str
    hash: bytes
    txs: list[bytes]


@dataclass
class PendingMint:
    owner: str
    to: str
    uact: int
    settles_at: int


# --------------------------------------------------------------------------------------------------


class Chain:
    """The devnet chain. See the module docstring for the rules it enforces."""

    def __init__(
        self,
        *,
        chain_id: str = "necto-sandbox-1",
        seed: int = 7,
        block_time_s: float = 1.0,
        bid_window_blocks: int | None = None,
        akt_price_usd: Decimal | str = Decimal("1.25"),
        mints_allowed: bool = True,
        faucet_uakt: int = 25_000_000,
        faucet_uact: int = 100_000_000,
    ) -> None:
        self.chain_id = chain_id
        self.seed = seed
        self.block_time_s = block_time_s
        if bid_window_blocks is None:
            # Akash providers stop bidding ~5 minutes after the order opens; capped so tests stay short.
            bid_window_blocks = min(60, max(5, math.ceil(300 / max(block_time_s, 1e-3))))
        self.bid_window_blocks = bid_window_blocks
        self.akt_price_usd = Decimal(akt_price_usd)
        self.mints_allowed = mints_allowed
        self.faucet_uakt = faucet_uakt
        self.faucet_uact = faucet_uact
        self.lock = threading.RLock()
        self.rng = random.Random(seed)

        self.height = 0
        self.accounts: dict[str, Account] = {}
        self.balances: dict[str, dict[str, int]] = {}
        self.deployments: dict[tuple[str, int], Deployment] = {}
        self.orders: dict[tuple[str, int, int, int], Order] = {}
        self.bids: dict[tuple, Bid] = {}
        self.leases: dict[tuple, Lease] = {}
        self.providers: dict[str, ProviderRecord] = {}
        self.certificates: list[dict] = []
        self.pending_mints: list[PendingMint] = []
        self.blocks: dict[int, Block] = {}
        self.txs: dict[str, TxRecord] = {}
        self.mempool: list[DecodedTx] = []
        self._check_sequences: dict[str, int] = {}
        self._check_fees: dict[str, int] = {}
        self.market_hooks: list[Callable[[Chain, int], None]] = []
        self.vault_uakt_burned = 0
        self.minted_uact = 0
        self._genesis()

    # ---------------------------------------------------------------------------------- genesis
    def _genesis(self) -> None:
        self.height = 1
        self.blocks[1] = Block(
            1, _now_rfc3339(), hashlib.sha256(f"genesis/{self.chain_id}".encode()).digest(), []
        )

    # ---------------------------------------------------------------------------------- accounts
    def ensure_account(self, address: str, pubkey: bytes | None = None) -> Account:
        with self.lock:
            account = self.accounts.get(address)
            if account is None:
                account = Account(address=address, account_number=len(self.accounts) + 1)
                self.accounts[address] = account
                self.balances.setdefault(address, {})
            if pubkey is not None and account.pubkey is None:
                account.pubkey = pubkey
            return account

    def get_account(self, address: str) -> Account | None:
        with self.lock:
            return self.accounts.get(address)

    def balance(self, address: str, denom: str) -> int:
        with self.lock:
            return self.balances.get(address, {}).get(denom, 0)

    def credit(self, address: str, denom: str, amount: int) -> None:
        with self.lock:
            self.ensure_account(address)
            bank = self.balances[address]
            bank[denom] = bank.get(denom, 0) + amount

    def faucet(self, address: str) -> list[dict]:
        """Credit the devnet faucet amounts (uakt for gas, uact for deployments); like sandbox-2's faucet."""
        if not txdecode.is_valid_address(address):
            raise ValueError(f"invalid address {address!r}: expected a bech32 akash1... account address")
        with self.lock:
            credited = []
            for denom, amount in (("uakt", self.faucet_uakt), ("uact", self.faucet_uact)):
                if amount > 0:
                    self.credit(address, denom, amount)
                    credited.append({"denom": denom, "amount": str(amount)})
            return credited

    def register_provider(self, record: ProviderRecord, pubkey: bytes | None = None) -> None:
        with self.lock:
            self.providers[record.owner] = record
            self.ensure_account(record.owner, pubkey)

    # ---------------------------------------------------------------------------------- gas / fees
    @staticmethod
    def estimate_gas(tx: DecodedTx) -> int:
        """Deterministic gas: 80k + 30k per message + 10 per tx byte."""
        return GAS_BASE + GAS_PER_MSG * len(tx.messages) + GAS_PER_BYTE * len(tx.tx_bytes)

    @staticmethod
    def required_fee(gas_limit: int) -> int:
        """Minimum fee in uakt for a gas limit at the devnet's min gas price (0.0025 uakt/gas)."""
        return math.ceil(Decimal(gas_limit) * MIN_GAS_PRICE_UAKT)

    def simulate(self, tx_bytes: bytes) -> int:
        """Gas used by a tx (signature not checked, as in a node's simulate mode). Raises TxError."""
        tx = txdecode.decode_tx(tx_bytes)
        self._reject_unknown_fields(tx)
        with self.lock:
            for url, msg in tx.messages:
                self._validate_basic(url, msg)
            signer = self._msg_signer(tx)
            if signer not in self.accounts:
                raise TxError(9, f"account {signer} not found: unknown address")
        return self.estimate_gas(tx)

    # ---------------------------------------------------------------------------------- CheckTx
    @staticmethod
    def _reject_unknown_fields(tx: DecodedTx) -> None:
        """cosmos-sdk's unknownproto check: a field the message's proto does not define is a decode error."""
        for url, msg in tx.messages:
            known = type(msg)()
            known.CopyFrom(msg)
            known.DiscardUnknownFields()
            if known.ByteSize() != msg.ByteSize():
                name = url.rsplit(".", 1)[-1]
                raise TxError(2, f"errUnknownField {name!r}: the message carries fields its proto does not define: tx parse error")

    def _msg_signer(self, tx: DecodedTx) -> str:
        signers = {self._signer_of(url, msg) for url, msg in tx.messages}
        if len(signers) != 1:
            raise TxError(4, f"tx must have exactly one signer, got {sorted(signers)}: unauthorized")
        return signers.pop()

    @staticmethod
    def _signer_of(url: str, msg: Any) -> str:
        if url in (URL_CREATE_DEPLOYMENT, URL_UPDATE_DEPLOYMENT, URL_CLOSE_DEPLOYMENT):
            return msg.id.owner
        if url == URL_CREATE_LEASE:
            return msg.bid_id.owner
        if url == URL_CLOSE_LEASE:
            return msg.id.owner
        if url == URL_ACCOUNT_DEPOSIT:
            return msg.signer
        if url in (URL_MINT_ACT, URL_CREATE_CERTIFICATE):
            return msg.owner
        raise TxError(2, f"unable to resolve type URL {url}: tx parse error")

    def check_tx(self, tx_bytes: bytes) -> DecodedTx:
        """CheckTx: decode, stateless checks, signer/pubkey, signature, sequence, fee. Raises TxError."""
        tx = txdecode.decode_tx(tx_bytes)
        self._reject_unknown_fields(tx)
        with self.lock:
            for url, msg in tx.messages:
                self._validate_basic(url, msg)
            signer = self._msg_signer(tx)
            if not txdecode.is_valid_address(signer):
                raise TxError(7, f"invalid signer address {signer!r}: invalid address")
            account = self.accounts.get(signer)
            if account is None:
                raise TxError(9, f"account {signer} not found: unknown address")
            pubkey = tx.pubkey or account.pubkey
            if pubkey is None:
                raise TxError(8, f"pubkey on account {signer} is not set: invalid pubkey")
            if account.pubkey is not None and tx.pubkey is not None and tx.pubkey != account.pubkey:
                raise TxError(8, "pubkey does not match the account's public key: invalid pubkey")
            if txdecode.address_from_pubkey(pubkey) != signer:
                raise TxError(
                    8,
                    f"pubKey does not match signer address {signer} with signer index: 0: invalid pubkey",
                )
            expected_seq = self._check_sequences.get(signer, account.sequence)
            if tx.sequence != expected_seq:
                raise TxError(
                    32,
                    f"account sequence mismatch, expected {expected_seq}, got {tx.sequence}: "
                    "incorrect account sequence",
                )
            txdecode.check_signature(tx, pubkey, self.chain_id, account.account_number)
            if tx.gas_limit <= 0:
                raise TxError(41, "invalid gas limit 0: invalid gas limit")
            bad_denoms = sorted(d for d in tx.fee if d != "uakt")
            if bad_denoms:
                raise TxError(
                    13,
                    f"fee denom {bad_denoms[0]} is not accepted, fees are paid in uakt: insufficient fee",
                )
            required = self.required_fee(tx.gas_limit)
            paid = tx.fee.get("uakt", 0)
            if paid < required:
                raise TxError(
                    13, f"insufficient fees; got: {paid}uakt required: {required}uakt: insufficient fee"
                )
            pending_fees = self._check_fees.get(signer, 0)
            available = self.balance(signer, "uakt") - pending_fees
            if paid > available:
                raise TxError(
                    5,
                    f"spendable balance {max(available, 0)}uakt is smaller than {paid}uakt: insufficient funds",
                )
            if tx.txhash in self.txs or any(p.txhash == tx.txhash for p in self.mempool):
                raise TxError(19, "tx already exists in cache")
            self._check_sequences[signer] = expected_seq + 1
            self._check_fees[signer] = pending_fees + paid
            return tx

    def broadcast(self, tx_bytes: bytes) -> dict:
        """BROADCAST_MODE_SYNC: the tx_response of CheckTx (code 0 => in the mempool)."""
        txhash = txdecode.tx_hash(tx_bytes) if tx_bytes else ""
        gas_wanted = 0
        try:
            tx = self.check_tx(tx_bytes)
            gas_wanted = tx.gas_limit
            with self.lock:
                self.mempool.append(tx)
            code, codespace, raw_log = 0, "", ""
        except TxError as err:
            code, codespace, raw_log = err.code, err.codespace, err.raw_log
        return {
            "height": "0",
            "txhash": txhash,
            "codespace": codespace,
            "code": code,
            "data": "",
            "raw_log": raw_log,
            "logs": [],
            "info": "",
            "gas_wanted": str(gas_wanted),
            "gas_used": "0",
            "tx": None,
            "timestamp": "",
            "events": [],
        }

    # ---------------------------------------------------------------------------------- validation
    def _validate_basic(self, url: str, msg: Any) -> None:
        """Stateless checks (ValidateBasic); raises TxError with the module's codespace."""
        if url == URL_CREATE_DEPLOYMENT:
            self._validate_create_deployment(msg)
        elif url == URL_UPDATE_DEPLOYMENT:
            self._validate_deployment_id(msg.id)
            if len(msg.hash) != 32:
                raise TxError(
                    10, f"invalid deployment hash: expected 32 bytes, got {len(msg.hash)}", "deployment"
                )
        elif url == URL_CLOSE_DEPLOYMENT:
            self._validate_deployment_id(msg.id)
        elif url in (URL_CREATE_LEASE, URL_CLOSE_LEASE):
            ident = msg.bid_id if url == URL_CREATE_LEASE else msg.id
            if not txdecode.is_valid_address(ident.owner) or not txdecode.is_valid_address(ident.provider):
                raise TxError(7, "invalid owner or provider address in lease id: invalid address")
            if ident.dseq == 0 or ident.gseq == 0 or ident.oseq == 0:
                raise TxError(2, "invalid lease id: dseq, gseq and oseq must be non-zero", "market")
        elif url == URL_ACCOUNT_DEPOSIT:
            if not txdecode.is_valid_address(msg.signer):
                raise TxError(7, f"invalid signer address {msg.signer!r}: invalid address")
            if msg.id.scope != 1:
                raise TxError(2, "escrow account scope must be deployment", "escrow")
            amount = msg.deposit.amount
            if amount.denom != "uact":
                raise TxError(
                    20,
                    f"invalid deposit denom {amount.denom!r}: deployments are funded in uact",
                    "deployment",
                )
            if _parse_int(amount.amount) is None or _parse_int(amount.amount) <= 0:
                raise TxError(10, f"invalid deposit amount {amount.amount!r}: invalid coins")
        elif url == URL_MINT_ACT:
            if not txdecode.is_valid_address(msg.owner):
                raise TxError(7, f"invalid owner address {msg.owner!r}: invalid address")
            if msg.to and msg.to != msg.owner:
                raise TxError(2, "minted ACT can only be sent to the owner (ACT is not transferable)", "bme")
            if msg.coins_to_burn.denom != "uakt":
                raise TxError(2, f"can only burn uakt, got {msg.coins_to_burn.denom!r}", "bme")
            if (_parse_int(msg.coins_to_burn.amount) or 0) <= 0:
                raise TxError(10, f"invalid amount {msg.coins_to_burn.amount!r}: invalid coins")
        elif url == URL_CREATE_CERTIFICATE:
            if not txdecode.is_valid_address(msg.owner):
                raise TxError(7, f"invalid owner address {msg.owner!r}: invalid address")
            if not msg.cert or not msg.pubkey:
                raise TxError(6, "invalid certificate value: cert and pubkey are required", "cert")

    @staticmethod
    def _validate_deployment_id(ident: Any) -> None:
        if not txdecode.is_valid_address(ident.owner):
            raise TxError(7, f"invalid owner address {ident.owner!r}: invalid address")
        if ident.dseq == 0:
            raise TxError(8, "invalid deployment id: dseq must be non-zero", "deployment")

    def _validate_create_deployment(self, msg: Any) -> None:
        self._validate_deployment_id(msg.id)
        if len(msg.hash) != 32:
            raise TxError(
                10, f"invalid deployment hash: expected 32 bytes, got {len(msg.hash)}", "deployment"
            )
        if not msg.groups:
            raise TxError(7, "invalid groups: deployment must contain at least one group", "deployment")
        if len(msg.groups) > MAX_GROUPS:
            raise TxError(
                7, f"invalid groups: at most {MAX_GROUPS} groups, got {len(msg.groups)}", "deployment"
            )
        deposit = msg.deposit.amount
        if deposit.denom != "uact":
            raise TxError(
                20,
                f"invalid deposit: denom {deposit.denom!r} is not accepted, deployments are funded in uact",
                "deployment",
            )
        amount = _parse_int(deposit.amount)
        if amount is None or amount < MIN_DEPOSIT_UACT:
            raise TxError(
                20,
                f"invalid deposit: {deposit.amount}{deposit.denom} is below the minimum deposit "
                f"{MIN_DEPOSIT_UACT}uact",
                "deployment",
            )
        names = set()
        for group in msg.groups:
            if not group.name:
                raise TxError(19, "invalid group spec: group name is empty", "deployment")
            if group.name in names:
                raise TxError(19, f"invalid group spec: duplicate group name {group.name!r}", "deployment")
            names.add(group.name)
            _parse_group(group)  # raises TxError on a bad unit

    # ---------------------------------------------------------------------------------- blocks
    def produce_block(self) -> int:
        """Produce one block: escrow payments, DeliverTx of the mempool, market hooks, mints."""
        with self.lock:
            self.height += 1
            height = self.height
            timestamp = _now_rfc3339()
            self._begin_block(height)
            txs, self.mempool = self.mempool, []
            for tx in txs:
                self._deliver(tx, height, timestamp)
            self._check_sequences.clear()
            self._check_fees.clear()
            self._end_block(height)
            prev = self.blocks.get(height - 1)
            digest = hashlib.sha256()
            digest.update(prev.hash if prev else b"")
            digest.update(height.to_bytes(8, "big"))
            for tx in txs:
                digest.update(tx.txhash.encode())
            self.blocks[height] = Block(height, timestamp, digest.digest(), [t.tx_bytes for t in txs])
            self.blocks.pop(height - 20_000, None)
            hooks = list(self.market_hooks)
        for hook in hooks:
            with self.lock:
                hook(self, height)
        return height

    def _begin_block(self, height: int) -> None:
        for deployment in self.deployments.values():
            if deployment.state != "active":
                continue
            active = [
                lease
                for lease in self.leases.values()
                if lease.owner == deployment.owner
                and lease.dseq == deployment.dseq
                and lease.state == "active"
                and lease.created_at < height
            ]
            if not active:
                continue
            for lease in active:
                pay = min(lease.price, deployment.escrow_funds)
                deployment.escrow_funds -= pay
                deployment.escrow_transferred += pay
                lease.paid += pay
                self._credit_provider(lease)
                if pay < lease.price:
                    self._overdrawn(deployment, height)
                    break
            deployment.escrow_settled_at = height

    def _credit_provider(self, lease: Lease) -> None:
        whole = int(lease.paid)
        if whole > lease.credited:
            self.credit(lease.provider, "uact", whole - lease.credited)
            lease.credited = whole

    def _overdrawn(self, deployment: Deployment, height: int) -> None:
        deployment.escrow_state = "overdrawn"
        for lease in self.leases.values():
            if lease.owner == deployment.owner and lease.dseq == deployment.dseq and lease.state == "active":
                lease.state = "insufficient_funds"
                lease.closed_on = height
                lease.reason = "lease_closed_insufficient_funds"
                for group in deployment.groups:
                    if group.gseq == lease.gseq:
                        group.state = "insufficient_funds"

    def _end_block(self, height: int) -> None:
        for bid in self.bids.values():
            if bid.state == "open" and height >= bid.expires_at:
                bid.state = "closed"
        still_pending = []
        for mint in self.pending_mints:
            if height >= mint.settles_at:
                self.credit(mint.to, "uact", mint.uact)
                self.minted_uact += mint.uact
            else:
                still_pending.append(mint)
        self.pending_mints = still_pending

    # ---------------------------------------------------------------------------------- DeliverTx
    def _deliver(self, tx: DecodedTx, height: int, timestamp: str) -> None:
        signer = self._msg_signer(tx)
        account = self.ensure_account(signer, tx.pubkey)
        gas_used = self.estimate_gas(tx)
        fee = tx.fee.get("uakt", 0)
        events = [
            _event("tx", fee=f"{fee}uakt", fee_payer=signer),
            _event("tx", acc_seq=f"{signer}/{tx.sequence}"),
            _event("tx", signature=b64(tx.raw.signatures[0])),
        ]
        code, codespace, raw_log = 0, "", ""
        # Ante handler: sequence and fee (the state may have moved since CheckTx).
        if tx.sequence != account.sequence:
            code, codespace = 32, "sdk"
            raw_log = (
                f"account sequence mismatch, expected {account.sequence}, got {tx.sequence}: "
                "incorrect account sequence"
            )
        elif self.balance(signer, "uakt") < fee:
            code, codespace = 5, "sdk"
            raw_log = f"spendable balance {self.balance(signer, 'uakt')}uakt is smaller than {fee}uakt: insufficient funds"
        else:
            self.balances[signer]["uakt"] = self.balance(signer, "uakt") - fee
            account.sequence += 1
            if gas_used > tx.gas_limit:
                code, codespace = 11, "sdk"
                raw_log = f"out of gas in location: txSize; gasWanted: {tx.gas_limit}, gasUsed: {gas_used}: out of gas"
            else:
                snapshot = self._snapshot()
                try:
                    for index, (url, msg) in enumerate(tx.messages):
                        events.append(
                            _event(
                                "message", action=url, sender=signer, module=_module_of(url), msg_index=index
                            )
                        )
                        events.extend(self._execute(url, msg, height))
                except TxError as err:
                    self._restore(snapshot)
                    events = events[:3]
                    code, codespace, raw_log = (
                        err.code,
                        err.codespace,
                        f"failed to execute message; message index: {index}: {err.raw_log}",
                    )
        self.txs[tx.txhash] = TxRecord(
            txhash=tx.txhash,
            height=height,
            code=code,
            codespace=codespace,
            raw_log=raw_log,
            gas_wanted=tx.gas_limit,
            gas_used=gas_used,
            events=events,
            timestamp=timestamp,
            tx=tx,
        )

    def _snapshot(self) -> Any:
        import copy

        return copy.deepcopy(
            (
                self.balances,
                self.deployments,
                self.orders,
                self.bids,
                self.leases,
                self.pending_mints,
                self.certificates,
            )
        )

    def _restore(self, snapshot: Any) -> None:
        (
            self.balances,
            self.deployments,
            self.orders,
            self.bids,
            self.leases,
            self.pending_mints,
            self.certificates,
        ) = snapshot

    def _execute(self, url: str, msg: Any, height: int) -> list[dict]:
        if url == URL_CREATE_DEPLOYMENT:
            return self._exec_create_deployment(msg, height)
        if url == URL_UPDATE_DEPLOYMENT:
            deployment = self._active_deployment(msg.id.owner, msg.id.dseq)
            deployment.hash = bytes(msg.hash)
            return [_akash_event("deployment", "deployment-updated", deployment.owner, deployment.dseq)]
        if url == URL_CLOSE_DEPLOYMENT:
            return self._exec_close_deployment(msg, height)
        if url == URL_CREATE_LEASE:
            return self._exec_create_lease(msg, height)
        if url == URL_CLOSE_LEASE:
            return self._exec_close_lease(msg, height)
        if url == URL_ACCOUNT_DEPOSIT:
            return self._exec_account_deposit(msg, height)
        if url == URL_MINT_ACT:
            return self._exec_mint(msg, height)
        if url == URL_CREATE_CERTIFICATE:
            serial = self._add_certificate(msg.owner, bytes(msg.cert), bytes(msg.pubkey))
            return [
                _event("akash.v1", module="cert", action="certificate-created", owner=msg.owner, serial=serial)
            ]
        raise TxError(2, f"unable to resolve type URL {url}: tx parse error")

    def _add_certificate(self, owner: str, cert_pem: bytes, pubkey_pem: bytes) -> int:
        try:
            cert = certs.validate_certificate(owner, cert_pem, pubkey_pem)
        except certs.CertificateInvalid as err:
            code = 7 if str(err).startswith("invalid pubkey") else 6
            raise TxError(code, str(err), "cert") from None
        serial = cert.serial_number
        if any(c["owner"] == owner and c["serial"] == str(serial) for c in self.certificates):
            raise TxError(3, f"certificate {owner}/{serial} exists: certificate already exists", "cert")
        self.certificates.append(
            {"owner": owner, "serial": str(serial), "state": "valid", "cert": cert_pem, "pubkey": pubkey_pem}
        )
        return serial

    def publish_certificate(self, owner: str, cert_pem: bytes, pubkey_pem: bytes) -> int:
        """Put a certificate on chain directly (genesis-style; providers at registration). Returns the serial."""
        with self.lock:
            self.ensure_account(owner)
            return self._add_certificate(owner, cert_pem, pubkey_pem)

    def valid_certificates(self, owner: str | None = None) -> tuple[bytes, ...]:
        """PEM certificates in state valid (of ``owner``, or all): what a provider accepts from clients."""
        with self.lock:
            return tuple(
                c["cert"]
                for c in self.certificates
                if c["state"] == "valid" and (owner is None or c["owner"] == owner)
            )

    def certificates_json(
        self, *, owner: str | None = None, serial: str | None = None, state: str | None = None
    ) -> list[dict]:
        """``/akash/cert/v1/certificates/list`` rows: ``{certificate: {state, cert, pubkey}, serial}``
        (proto bytes as base64, as REST prints them)."""
        with self.lock:
            return [
                {
                    "certificate": {"state": c["state"], "cert": b64(c["cert"]), "pubkey": b64(c["pubkey"])},
                    "serial": c["serial"],
                }
                for c in self.certificates
                if (owner is None or c["owner"] == owner)
                and (serial is None or c["serial"] == serial)
                and (state is None or c["state"] == state)
            ]

    def _exec_create_deployment(self, msg: Any, height: int) -> list[dict]:
        owner, dseq = msg.id.owner, msg.id.dseq
        if (owner, dseq) in self.deployments:
            raise TxError(3, f"deployment {owner}/{dseq} exists: deployment exists", "deployment")
        deposit = int(msg.deposit.amount.amount)
        if 2 in msg.deposit.sources and 1 not in msg.deposit.sources:
            raise TxError(
                4, "deposit from a grant is not supported by the devnet: unauthorized", "deployment"
            )
        have = self.balance(owner, "uact")
        if have < deposit:
            raise TxError(
                5, f"spendable balance {have}uact is smaller than {deposit}uact: insufficient funds"
            )
        self.balances[owner]["uact"] = have - deposit
        groups = []
        for gseq, spec in enumerate(msg.groups, start=1):
            units, reqs, all_of, any_of = _parse_group(spec)
            groups.append(
                Group(
                    owner=owner,
                    dseq=dseq,
                    gseq=gseq,
                    name=spec.name,
                    state="open",
                    spec_json=group_spec_json(spec),
                    units=units,
                    requirements=reqs,
                    signed_by_all=all_of,
                    signed_by_any=any_of,
                    created_at=height,
                )
            )
            self.orders[(owner, dseq, gseq, 1)] = Order(
                owner, dseq, gseq, 1, "open", height, height + self.bid_window_blocks
            )
        deployment = Deployment(
            owner=owner,
            dseq=dseq,
            state="active",
            hash=bytes(msg.hash),
            created_at=height,
            groups=groups,
            escrow_funds=Decimal(deposit),
            escrow_settled_at=height,
            deposits=[
                {
                    "owner": owner,
                    "height": str(height),
                    "source": "balance",
                    "balance": {"denom": "uact", "amount": dec_str(deposit)},
                }
            ],
        )
        self.deployments[(owner, dseq)] = deployment
        events = [_akash_event("deployment", "deployment-created", owner, dseq, version=msg.hash.hex())]
        for group in groups:
            events.append(_akash_event("deployment", "group-created", owner, dseq, gseq=group.gseq))
            events.append(_akash_event("market", "order-created", owner, dseq, gseq=group.gseq, oseq=1))
        events.append(
            _event(
                "akash.v1",
                module="escrow",
                action="account-created",
                owner=owner,
                xid=f"{owner}/{dseq}",
                amount=f"{deposit}uact",
            )
        )
        return events

    def _active_deployment(self, owner: str, dseq: int) -> Deployment:
        deployment = self.deployments.get((owner, dseq))
        if deployment is None:
            raise TxError(4, f"deployment {owner}/{dseq} not found: deployment not found", "deployment")
        if deployment.state != "active":
            raise TxError(5, f"deployment {owner}/{dseq} closed: deployment closed", "deployment")
        return deployment

    def _exec_close_deployment(self, msg: Any, height: int) -> list[dict]:
        deployment = self._active_deployment(msg.id.owner, msg.id.dseq)
        events = []
        for lease in self.leases.values():
            if (
                lease.owner == deployment.owner
                and lease.dseq == deployment.dseq
                and lease.state in ("active", "insufficient_funds")
            ):
                if lease.state == "active":
                    lease.closed_on = height
                    lease.reason = "lease_closed_owner"
                lease.state = "closed"
                self._close_bid_of(lease)
                events.append(
                    _akash_event(
                        "market",
                        "lease-closed",
                        lease.owner,
                        lease.dseq,
                        gseq=lease.gseq,
                        oseq=lease.oseq,
                        provider=lease.provider,
                    )
                )
        for key, order in self.orders.items():
            if key[0] == deployment.owner and key[1] == deployment.dseq:
                order.state = "closed"
        for bid in self.bids.values():
            if bid.owner == deployment.owner and bid.dseq == deployment.dseq and bid.state == "open":
                bid.state = "closed"
        for group in deployment.groups:
            group.state = "closed"
        refund = int(deployment.escrow_funds)
        deployment.escrow_funds -= refund
        self.credit(deployment.owner, "uact", refund)
        deployment.escrow_state = "closed"
        deployment.escrow_settled_at = height
        deployment.state = "closed"
        deployment.closed_at = height
        events.append(_akash_event("deployment", "deployment-closed", deployment.owner, deployment.dseq))
        events.append(
            _event(
                "akash.v1",
                module="escrow",
                action="account-closed",
                owner=deployment.owner,
                xid=f"{deployment.owner}/{deployment.dseq}",
                refund=f"{refund}uact",
            )
        )
        return events

    def _close_bid_of(self, lease: Lease) -> None:
        bid = self.bids.get(lease.key())
        if bid is not None:
            bid.state = "closed"

    def _exec_create_lease(self, msg: Any, height: int) -> list[dict]:
        ident = msg.bid_id
        key = (ident.owner, ident.dseq, ident.gseq, ident.oseq, ident.provider, ident.bseq)
        bid = self.bids.get(key)
        if bid is None:
            raise TxError(5, f"bid {'/'.join(map(str, key))} not found: unknown bid", "market")
        if bid.state != "open":
            raise TxError(6, f"bid is {bid.state}, expected open: bid not open", "market")
        order = self.orders.get(key[:4])
        if order is None or order.state != "open":
            raise TxError(7, "order not open: order not open", "market")
        deployment = self._active_deployment(ident.owner, ident.dseq)
        group = deployment.groups[ident.gseq - 1]
        if group.state != "open":
            raise TxError(17, f"group is {group.state}: group not open", "deployment")
        lease = Lease(*key, state="active", price=bid.price, created_at=height)
        self.leases[key] = lease
        bid.state = "active"
        for other in self.bids.values():
            if other.key()[:4] == key[:4] and other is not bid and other.state == "open":
                other.state = "lost"
        order.state = "active"
        return [
            _akash_event(
                "market",
                "lease-created",
                ident.owner,
                ident.dseq,
                gseq=ident.gseq,
                oseq=ident.oseq,
                provider=ident.provider,
                price=f"{dec_str(bid.price)}uact",
            )
        ]

    def _exec_close_lease(self, msg: Any, height: int) -> list[dict]:
        ident = msg.id
        key = (ident.owner, ident.dseq, ident.gseq, ident.oseq, ident.provider, ident.bseq)
        lease = self.leases.get(key)
        if lease is None:
            raise TxError(8, f"lease {'/'.join(map(str, key))} not found: unknown lease", "market")
        if lease.state != "active":
            raise TxError(9, f"lease is {lease.state}: lease not active", "market")
        lease.state = "closed"
        lease.closed_on = height
        lease.reason = "lease_closed_owner"
        self._close_bid_of(lease)
        order = self.orders.get(key[:4])
        if order is not None:
            order.state = "closed"
        deployment = self.deployments[(ident.owner, ident.dseq)]
        group = deployment.groups[ident.gseq - 1]
        if group.state == "open":
            group.state = "paused"
        return [
            _akash_event(
                "market",
                "lease-closed",
                ident.owner,
                ident.dseq,
                gseq=ident.gseq,
                oseq=ident.oseq,
                provider=ident.provider,
            )
        ]

    def _exec_account_deposit(self, msg: Any, height: int) -> list[dict]:
        xid = msg.id.xid
        try:
            owner, dseq_text = xid.split("/")
            dseq = int(dseq_text)
        except ValueError:
            raise TxError(2, f"invalid escrow account id {xid!r}: expected owner/dseq", "escrow") from None
        deployment = self.deployments.get((owner, dseq))
        if deployment is None or deployment.state != "active":
            raise TxError(3, f"escrow account {xid} not found or closed: account not found", "escrow")
        amount = int(msg.deposit.amount.amount)
        have = self.balance(msg.signer, "uact")
        if have < amount:
            raise TxError(5, f"spendable balance {have}uact is smaller than {amount}uact: insufficient funds")
        self.balances[msg.signer]["uact"] = have - amount
        deployment.escrow_funds += amount
        deployment.deposits.append(
            {
                "owner": msg.signer,
                "height": str(height),
                "source": "balance",
                "balance": {"denom": "uact", "amount": dec_str(amount)},
            }
        )
        return [
            _event(
                "akash.v1",
                module="escrow",
                action="account-deposit",
                owner=owner,
                dseq=dseq,
                xid=xid,
                amount=f"{amount}uact",
            )
        ]

    def _exec_mint(self, msg: Any, height: int) -> list[dict]:
        if not self.mints_allowed:
            raise TxError(
                3, "mints are halted: vault collateral ratio below the circuit breaker threshold", "bme"
            )
        burn = int(msg.coins_to_burn.amount)
        uact = int(Decimal(burn) * self.akt_price_usd)
        if uact < MIN_MINT_UACT:
            raise TxError(4, f"mint of {uact}uact is below the minimum mint {MIN_MINT_UACT}uact", "bme")
        have = self.balance(msg.owner, "uakt")
        if have < burn:
            raise TxError(5, f"spendable balance {have}uakt is smaller than {burn}uakt: insufficient funds")
        self.balances[msg.owner]["uakt"] = have - burn
        self.vault_uakt_burned += burn
        self.pending_mints.append(
            PendingMint(msg.owner, msg.to or msg.owner, uact, height + MINT_DELAY_BLOCKS)
        )
        return [
            _event(
                "akash.v1",
                module="bme",
                action="mint-requested",
                owner=msg.owner,
                burned=f"{burn}uakt",
                minted=f"{uact}uact",
                settles_at=height + MINT_DELAY_BLOCKS,
            )
        ]

    # ---------------------------------------------------------------------------------- market (providers)
    def place_bid(
        self, provider: str, order_key: tuple[str, int, int, int], price: Decimal, height: int
    ) -> Bid | None:
        """A provider's MsgCreateBid, applied directly in EndBlock. None when the chain refuses it."""
        with self.lock:
            order = self.orders.get(order_key)
            if order is None or order.state != "open" or height >= order.bids_close_at:
                return None
            if provider not in self.providers:
                return None
            key = (*order_key, provider, 0)
            if key in self.bids:
                return None
            if sum(1 for b in self.bids.values() if b.key()[:4] == order_key) >= MAX_BIDS_PER_ORDER:
                return None
            deployment = self.deployments[order_key[:2]]
            group = deployment.groups[order_key[2] - 1]
            if price > group.max_price() or price <= 0:
                return None
            offer = [
                {"resources": ru["resource"], "count": ru["count"]} for ru in group.spec_json["resources"]
            ]
            bid = Bid(
                *key,
                state="open",
                price=price,
                created_at=height,
                resources_offer=offer,
                expires_at=order.created_at + 2 * self.bid_window_blocks,
            )
            self.bids[key] = bid
            return bid

    def open_orders(self) -> list[tuple[Order, Group]]:
        with self.lock:
            result = []
            for key, order in self.orders.items():
                if order.state == "open":
                    deployment = self.deployments[key[:2]]
                    result.append((order, deployment.groups[key[2] - 1]))
            return result

    # ---------------------------------------------------------------------------------- queries
    def get_tx(self, txhash: str) -> TxRecord | None:
        with self.lock:
            return self.txs.get(txhash.upper())

    def wait_blocks(self, count: int, timeout_s: float = 30.0) -> int:
        """Block the calling thread until ``count`` more blocks were produced (timer-driven chains)."""
        import time

        target = self.height + count
        deadline = time.monotonic() + timeout_s
        while self.height < target:
            if time.monotonic() > deadline:
                raise TimeoutError(f"chain did not reach height {target} in {timeout_s}s")
            time.sleep(min(0.01, self.block_time_s / 4))
        return self.height

    def active_lease(self, owner: str, dseq: int, provider: str, gseq: int | None = None) -> Lease | None:
        with self.lock:
            for lease in self.leases.values():
                if (
                    lease.owner == owner
                    and lease.dseq == dseq
                    and lease.provider == provider
                    and lease.state == "active"
                ):
                    if gseq is None or lease.gseq == gseq:
                        return lease
            return None

    def leases_for_provider(self, provider: str, dseq: int) -> list[Lease]:
        with self.lock:
            return [
                lease_
                for lease_ in self.leases.values()
                if lease_.provider == provider and lease_.dseq == dseq
            ]

    # JSON views (REST shapes, WIRE.md) -------------------------------------------------------------
    def account_json(self, account: Account) -> dict:
        return {
            "@type": "/cosmos.auth.v1beta1.BaseAccount",
            "address": account.address,
            "pub_key": {"@type": txdecode.SECP256K1_PUBKEY_URL, "key": b64(account.pubkey)}
            if account.pubkey
            else None,
            "account_number": str(account.account_number),
            "sequence": str(account.sequence),
        }

    def balances_json(self, address: str) -> list[dict]:
        with self.lock:
            bank = self.balances.get(address, {})
            return [{"denom": d, "amount": str(a)} for d, a in sorted(bank.items()) if a > 0]

    def escrow_account_json(self, deployment: Deployment) -> dict:
        return {
            "id": {"scope": "deployment", "xid": f"{deployment.owner}/{deployment.dseq}"},
            "state": {
                "owner": deployment.owner,
                "state": deployment.escrow_state,
                "transferred": [{"denom": "uact", "amount": dec_str(deployment.escrow_transferred)}],
                "settled_at": str(deployment.escrow_settled_at),
                "funds": [{"denom": "uact", "amount": dec_str(deployment.escrow_funds)}],
                "deposits": list(deployment.deposits),
            },
        }

    def deployment_json(self, deployment: Deployment) -> dict:
        return {
            "deployment": {
                "id": {"owner": deployment.owner, "dseq": str(deployment.dseq)},
                "state": deployment.state,
                "hash": b64(deployment.hash),
                "created_at": str(deployment.created_at),
            },
            "groups": [
                {
                    "id": {"owner": g.owner, "dseq": str(g.dseq), "gseq": g.gseq},
                    "state": g.state,
                    "group_spec": g.spec_json,
                    "created_at": str(g.created_at),
                }
                for g in deployment.groups
            ],
            "escrow_account": self.escrow_account_json(deployment),
        }

    def order_json(self, order: Order) -> dict:
        group = self.deployments[(order.owner, order.dseq)].groups[order.gseq - 1]
        return {
            "id": {"owner": order.owner, "dseq": str(order.dseq), "gseq": order.gseq, "oseq": order.oseq},
            "state": order.state,
            "spec": group.spec_json,
            "created_at": str(order.created_at),
        }

    def bid_json(self, bid: Bid) -> dict:
        xid = f"{bid.owner}/{bid.dseq}/{bid.gseq}/{bid.oseq}/{bid.provider}/{bid.bseq}"
        return {
            "bid": {
                "id": _bid_id_json(bid),
                "state": bid.state,
                "price": {"denom": "uact", "amount": dec_str(bid.price)},
                "created_at": str(bid.created_at),
                "resources_offer": bid.resources_offer,
            },
            "escrow_account": {
                "id": {"scope": "bid", "xid": xid},
                "state": {
                    "owner": bid.provider,
                    "state": "open" if bid.state in ("open", "active") else "closed",
                    "transferred": [],
                    "settled_at": str(bid.created_at),
                    "funds": [],
                    "deposits": [],
                },
            },
        }

    def lease_json(self, lease: Lease) -> dict:
        return {
            "lease": {
                "id": _bid_id_json(lease),
                "state": lease.state,
                "price": {"denom": "uact", "amount": dec_str(lease.price)},
                "created_at": str(lease.created_at),
                "closed_on": str(lease.closed_on),
                "reason": lease.reason or "lease_closed_invalid",
            },
            "escrow_payment": {
                "id": {"scope": "deployment", "xid": f"{lease.owner}/{lease.dseq}"},
                "state": {
                    "owner": lease.provider,
                    "state": "open"
                    if lease.state == "active"
                    else ("overdrawn" if lease.state == "insufficient_funds" else "closed"),
                    "rate": {"denom": "uact", "amount": dec_str(lease.price)},
                    "balance": {"denom": "uact", "amount": dec_str(lease.paid - lease.credited)},
                    "unsettled": {"denom": "uact", "amount": dec_str(0)},
                    "withdrawn": {"denom": "uact", "amount": dec_str(lease.credited)},
                },
            },
        }

    def provider_json(self, record: ProviderRecord) -> dict:
        return {
            "owner": record.owner,
            "host_uri": record.host_uri,
            "attributes": [{"key": k, "value": v} for k, v in record.attributes],
            "info": {"email": record.email, "website": record.website},
        }

    def tx_json(self, record: TxRecord) -> dict:
        tx = record.tx
        return {
            "tx": {
                "body": {
                    "messages": [_message_json(url, msg) for url, msg in tx.messages],
                    "memo": tx.body.memo,
                    "timeout_height": str(tx.body.timeout_height),
                    "extension_options": [],
                    "non_critical_extension_options": [],
                },
                "auth_info": json_format.MessageToDict(tx.auth_info, preserving_proto_field_name=True),
                "signatures": [b64(s) for s in tx.raw.signatures],
            },
            "tx_response": {
                "height": str(record.height),
                "txhash": record.txhash,
                "codespace": record.codespace,
                "code": record.code,
                "data": "",
                "raw_log": record.raw_log,
                "logs": [],
                "info": "",
                "gas_wanted": str(record.gas_wanted),
                "gas_used": str(record.gas_used),
                "tx": None,
                "timestamp": record.timestamp,
                "events": record.events,
            },
        }


# --------------------------------------------------------------------------------------------------
# helpers


def _module_of(url: str) -> str:
    return url.split(".")[1] if url.count(".") >= 2 else ""


def _akash_event(module: str, action: str, owner: str, dseq: int, **extra: Any) -> dict:
    return _event("akash.v1", module=module, action=action, owner=owner, dseq=dseq, **extra)


def _bid_id_json(obj: Bid | Lease) -> dict:
    return {
        "owner": obj.owner,
        "dseq": str(obj.dseq),
        "gseq": obj.gseq,
        "oseq": obj.oseq,
        "provider": obj.provider,
        "bseq": obj.bseq,
    }


def _message_json(url: str, msg: Message) -> dict:
    body = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    return {"@type": url, **_dec_coins_as_decimals(body)}


def _dec_coins_as_decimals(node: Any) -> Any:
    """REST JSON prints DecCoin amounts as LegacyDec strings, not as the wire's 10^18 atomics."""
    if isinstance(node, list):
        return [_dec_coins_as_decimals(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _dec_coins_as_decimals(value) for key, value in node.items()}
    price = out.get("price")
    if isinstance(price, dict) and isinstance(price.get("amount"), str) and price["amount"].isdigit():
        out["price"] = {**price, "amount": dec_str(Decimal(int(price["amount"])) / DEC_PRECISION)}
    return out


def _parse_int(text: str) -> int | None:
    if not isinstance(text, str) or not text.isdigit():
        return None
    return int(text)


def _resource_value(value: Any, what: str) -> int:
    try:
        text = bytes(value.val).decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if not text.isdigit():
        raise TxError(
            19, f"invalid group spec: {what} value {text!r} is not a non-negative integer", "deployment"
        )
    return int(text)


def _parse_dec_coin(coin: Any) -> Decimal:
    """DecCoin on the protobuf wire: LegacyDec atomics (value x 10^18) as an integer string."""
    if coin.denom != "uact":
        raise TxError(
            19,
            f"invalid group spec: price denom {coin.denom!r} is not accepted, prices are in uact",
            "deployment",
        )
    text = coin.amount
    try:
        if text.isdigit():
            return Decimal(int(text)) / DEC_PRECISION
        value = Decimal(text)  # tolerate a decimal string (some encoders send the JSON form)
        if value.is_finite() and value >= 0:
            return value
    except (InvalidOperation, AttributeError):
        pass
    raise TxError(19, f"invalid group spec: price amount {text!r} is not a decimal", "deployment")


def _attrs(items: Any) -> dict[str, str]:
    return {a.key: a.value for a in items}


def _parse_group(spec: Any) -> tuple[list[ResourceUnitSpec], list[tuple[str, str]], list[str], list[str]]:
    if not spec.resources:
        raise TxError(19, f"invalid group spec {spec.name!r}: no resources", "deployment")
    if len(spec.resources) > MAX_UNITS_PER_GROUP:
        raise TxError(
            19,
            f"invalid group spec {spec.name!r}: at most {MAX_UNITS_PER_GROUP} resource units",
            "deployment",
        )
    units = []
    for ru in spec.resources:
        res = ru.resource
        cpu = _resource_value(res.cpu.units, "cpu")
        mem = _resource_value(res.memory.quantity, "memory")
        gpu = _resource_value(res.gpu.units, "gpu") if res.HasField("gpu") else 0
        storage = [
            (s.name, _resource_value(s.quantity, "storage"), _attrs(s.attributes)) for s in res.storage
        ]
        if not 1 <= cpu <= MAX_UNIT_CPU_MILLI:
            raise TxError(
                19,
                f"invalid group spec: cpu {cpu} millicores out of range 1..{MAX_UNIT_CPU_MILLI}",
                "deployment",
            )
        if gpu > MAX_UNIT_GPU:
            raise TxError(19, f"invalid group spec: gpu units {gpu} above {MAX_UNIT_GPU}", "deployment")
        if not 1 <= mem <= MAX_UNIT_MEMORY:
            raise TxError(19, f"invalid group spec: memory {mem} bytes out of range (max 2Ti)", "deployment")
        for name, size, _ in storage:
            if size > MAX_UNIT_STORAGE:
                raise TxError(19, f"invalid group spec: storage {name} {size} bytes above 32Ti", "deployment")
        if not 1 <= ru.count <= MAX_UNIT_COUNT:
            raise TxError(
                19, f"invalid group spec: count {ru.count} out of range 1..{MAX_UNIT_COUNT}", "deployment"
            )
        price = _parse_dec_coin(ru.price)
        units.append(
            ResourceUnitSpec(
                id=res.id,
                cpu_milli=cpu,
                memory_bytes=mem,
                storage=storage,
                gpu_units=gpu,
                gpu_attributes=_attrs(res.gpu.attributes),
                endpoints=[
                    (_ENDPOINT_KINDS.get(e.kind, "SHARED_HTTP"), e.sequence_number) for e in res.endpoints
                ],
                count=ru.count,
                price=price,
            )
        )
    reqs = [(a.key, a.value) for a in spec.requirements.attributes]
    return units, reqs, list(spec.requirements.signed_by.all_of), list(spec.requirements.signed_by.any_of)


_ENDPOINT_KINDS = {0: "SHARED_HTTP", 1: "RANDOM_PORT", 2: "LEASED_IP"}


def group_spec_json(spec: Any) -> dict:
    """A GroupSpec in REST JSON (proto names: memory/storage ``quantity``; price as a LegacyDec string)."""

    def attrs(items: Any) -> list[dict]:
        return [{"key": a.key, "value": a.value} for a in items]

    def val(value: Any) -> dict:
        return {"val": bytes(value.val).decode("ascii", "replace")}

    resources = []
    for ru in spec.resources:
        res = ru.resource
        resources.append(
            {
                "resource": {
                    "id": res.id,
                    "cpu": {"units": val(res.cpu.units), "attributes": attrs(res.cpu.attributes)},
                    "memory": {
                        "quantity": val(res.memory.quantity),
                        "attributes": attrs(res.memory.attributes),
                    },
                    "storage": [
                        {"name": s.name, "quantity": val(s.quantity), "attributes": attrs(s.attributes)}
                        for s in res.storage
                    ],
                    "gpu": {
                        "units": val(res.gpu.units) if res.HasField("gpu") else {"val": "0"},
                        "attributes": attrs(res.gpu.attributes),
                    },
                    "endpoints": [
                        {
                            "kind": _ENDPOINT_KINDS.get(e.kind, "SHARED_HTTP"),
                            "sequence_number": e.sequence_number,
                        }
                        for e in res.endpoints
                    ],
                },
                "count": ru.count,
                "price": {"denom": ru.price.denom, "amount": dec_str(_parse_dec_coin(ru.price))},
            }
        )
    return {
        "name": spec.name,
        "requirements": {
            "signed_by": {
                "all_of": list(spec.requirements.signed_by.all_of),
                "any_of": list(spec.requirements.signed_by.any_of),
            },
            "attributes": attrs(spec.requirements.attributes),
        },
        "resources": resources,
    }
