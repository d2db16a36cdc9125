"""Build, simulate, sign and broadcast Cosmos transactions (SIGN_MODE_DIRECT) against the chain REST API.

Flow: ``prepare`` (account number/sequence, simulate with an empty signature slot, gas x adjustment,
fee capped by ``settings.max_fee_uakt``) -> the caller shows ``PreparedTx.describe()`` (decoded from the
exact body bytes) -> ``sign_and_broadcast`` (sign, hand ``(tx_hash, tx_bytes)`` to ``on_signed`` so the
caller persists them *before* broadcast, broadcast sync, poll for inclusion).

A CheckTx "account sequence mismatch" (code 32) refreshes the account and re-signs once: the rejected tx
never entered the mempool, so this cannot double-spend. An asynchronous signer (a browser wallet, with
``sign_doc_async``) is asked again for the re-sequenced bytes: its first signature covers the old sequence.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

import cosmpy.protos  # noqa: F401  (registers the cosmos.* generated modules)
from cosmos.base.v1beta1 import coin_pb2
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf import any_pb2

from tools.akash import messages
from tools.akash.rest import AkashRest, TxResponse
from tools.akash.signer import AsyncTxSigner, TxSigner, assemble_tx_raw
from tools.errors import BroadcastError, BudgetExceeded, ChainError, InsufficientFunds, PolicyDenied

if TYPE_CHECKING:
    from tools.settings import NectoSettings

__all__ = [
    "OnSigned",
    "PreparedTx",
    "SignedTx",
    "TxClient",
    "build_auth_info",
    "build_tx_body",
    "tx_hash_of",
]

_CODE_SEQUENCE_MISMATCH = 32  # sdk ErrWrongSequence
_CODE_TX_IN_CACHE = 19  # sdk ErrTxInMempoolCache: the same bytes were already accepted
_PUBKEY_TYPE_URL = "/cosmos.crypto.secp256k1.PubKey"

OnSigned = Callable[[str, bytes], Awaitable[None] | None]


# --- pure helpers -------------------------------------------------------------------------------------


def build_tx_body(msgs: Sequence[any_pb2.Any], memo: str = "") -> bytes:
    if len(memo) > 256:
        raise PolicyDenied("the memo is longer than 256 characters")
    return tx_pb2.TxBody(messages=list(msgs), memo=memo).SerializeToString(deterministic=True)


def build_auth_info(
    public_key: bytes, sequence: int, gas_limit: int, fee_amount: int, fee_denom: str = "uakt"
) -> bytes:
    """Single-signer SIGN_MODE_DIRECT ``AuthInfo`` bytes."""
    pub = any_pb2.Any(
        type_url=_PUBKEY_TYPE_URL, value=keys_pb2.PubKey(key=bytes(public_key)).SerializeToString()
    )
    signer_info = tx_pb2.SignerInfo(
        public_key=pub,
        mode_info=tx_pb2.ModeInfo(single=tx_pb2.ModeInfo.Single(mode=signing_pb2.SIGN_MODE_DIRECT)),
        sequence=int(sequence),
    )
    fee = tx_pb2.Fee(
        amount=[coin_pb2.Coin(denom=fee_denom, amount=str(int(fee_amount)))], gas_limit=int(gas_limit)
    )
    return tx_pb2.AuthInfo(signer_infos=[signer_info], fee=fee).SerializeToString(deterministic=True)


def tx_hash_of(tx_bytes: bytes) -> str:
    """The hash the chain will index the tx under: upper-case hex sha256 of the TxRaw bytes."""
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


# --- prepared / signed --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedTx:
    """Everything to sign, fixed: what ``describe()`` shows is exactly what will be signed."""

    body_bytes: bytes
    auth_info_bytes: bytes
    chain_id: str
    account_number: int
    sequence: int
    gas_limit: int
    fee_uakt: int
    fee_denom: str
    memo: str = ""
    msgs: tuple[any_pb2.Any, ...] = field(default=(), repr=False)

    def describe(self) -> dict[str, Any]:
        """Decoded from the exact body bytes (for the confirmation card and server-side checks)."""
        return {
            "chain_id": self.chain_id,
            "account_number": self.account_number,
            "sequence": self.sequence,
            "gas_limit": self.gas_limit,
            "fee": {"denom": self.fee_denom, "amount": self.fee_uakt},
            "memo": tx_pb2.TxBody.FromString(self.body_bytes).memo,
            "messages": messages.describe_messages(self.body_bytes),
        }


@dataclass(frozen=True)
class SignedTx:
    tx_bytes: bytes
    tx_hash: str
    prepared: PreparedTx = field(repr=False)


# --- the client ---------------------------------------------------------------------------------------


class TxClient:
    """Transactions for one signer on one chain (chain id and caps from ``settings``)."""

    def __init__(
        self, rest: AkashRest, signer: TxSigner | AsyncTxSigner, settings: NectoSettings, *, poll_s: float = 1.0
    ) -> None:
        self.rest = rest
        self.signer = signer
        self.settings = settings
        self.poll_s = poll_s
        self._chain_checked = False

    @property
    def chain_id(self) -> str:
        return self.settings.effective_chain_id

    async def _check_chain(self) -> None:
        """Refuse to work against a node of another chain than settings say (a misconfigured endpoint)."""
        if self._chain_checked:
            return
        if self.chain_id not in self.settings.allowed_chain_ids:
            raise PolicyDenied(f"chain id {self.chain_id!r} is not in the allowed chain ids")
        node = await self.rest.node_info()
        if node.chain_id != self.chain_id:
            raise ChainError(
                f"the REST endpoint serves chain {node.chain_id!r}, but settings say {self.chain_id!r}",
                hint="fix NECTO_REST_URL / NECTO_CHAIN_ID so they name the same network",
            )
        self._chain_checked = True

    async def _account(self) -> tuple[int, int]:
        account = await self.rest.account(self.signer.address)
        if account is None:
            raise InsufficientFunds(
                f"the account {self.signer.address} does not exist on chain yet",
                hint="send it some AKT for fees (on sandbox, use the faucet) and try again",
            )
        if account.pubkey is not None and account.pubkey != self.signer.public_key:
            raise PolicyDenied("the on-chain public key of this account differs from the signer's key")
        return account.number, account.sequence

    def _gas_and_fee(self, gas_used: int) -> tuple[int, int]:
        gas_limit = _ceil(Decimal(gas_used) * Decimal(self.settings.gas_adjustment))
        fee = _ceil(Decimal(gas_limit) * Decimal(self.settings.gas_price_uakt))
        if fee > self.settings.max_fee_uakt:
            raise BudgetExceeded(
                f"the fee would be {fee} uakt for {gas_limit} gas, above the cap of {self.settings.max_fee_uakt} uakt",
                hint="split the transaction or raise max_fee_uakt in settings",
            )
        return gas_limit, fee

    async def simulate(
        self, msgs: Sequence[any_pb2.Any], memo: str = "", *, sequence: int | None = None
    ) -> int:
        """Gas used by these messages, simulated with an empty signature (the SDK skips verification)."""
        body = build_tx_body(msgs, memo)
        if sequence is None:
            _, sequence = await self._account()
        auth = build_auth_info(self.signer.public_key, sequence, 0, 0, self.settings.fee_denom)
        return await self.rest.simulate(assemble_tx_raw(body, auth, b""))

    async def prepare(self, msgs: Sequence[any_pb2.Any], memo: str = "") -> PreparedTx:
        """Fix body, gas and fee for ``msgs``; raises ``PolicyDenied``/``BudgetExceeded`` before any signing."""
        msgs = tuple(msgs)
        body = build_tx_body(msgs, memo)
        messages.assert_signable(body, self.signer.address)
        await self._check_chain()
        account_number, sequence = await self._account()
        gas_used = await self.simulate(msgs, memo, sequence=sequence)
        gas_limit, fee = self._gas_and_fee(gas_used)
        return PreparedTx(
            body_bytes=body,
            auth_info_bytes=build_auth_info(
                self.signer.public_key, sequence, gas_limit, fee, self.settings.fee_denom
            ),
            chain_id=self.chain_id,
            account_number=account_number,
            sequence=sequence,
            gas_limit=gas_limit,
            fee_uakt=fee,
            fee_denom=self.settings.fee_denom,
            memo=memo,
            msgs=msgs,
        )

    def sign(self, prepared: PreparedTx) -> SignedTx:
        signature = self.signer.sign_doc(
            prepared.body_bytes, prepared.auth_info_bytes, prepared.chain_id, prepared.account_number
        )
        tx_bytes = assemble_tx_raw(prepared.body_bytes, prepared.auth_info_bytes, signature)
        return SignedTx(tx_bytes=tx_bytes, tx_hash=tx_hash_of(tx_bytes), prepared=prepared)

    async def sign_async(self, prepared: PreparedTx) -> SignedTx:
        """``sign`` for any signer: a browser wallet (``sign_doc_async``) is asked and its answer verified
        by the signer; the TxRaw is assembled from the bytes it actually signed."""
        sign_doc_async = getattr(self.signer, "sign_doc_async", None)
        if sign_doc_async is None:
            return self.sign(prepared)
        signed = await sign_doc_async(prepared)
        tx_bytes = assemble_tx_raw(signed.body_bytes, signed.auth_info_bytes, signed.signature)
        return SignedTx(tx_bytes=tx_bytes, tx_hash=tx_hash_of(tx_bytes), prepared=prepared)

    async def _resequence(self, prepared: PreparedTx, raw_log: str) -> PreparedTx:
        account_number, sequence = await self._account()
        # The REST node may lag the node that ran CheckTx: trust the expected sequence in the log if higher.
        match = re.search(r"expected (\d+), got (\d+)", raw_log)
        if match:
            sequence = max(sequence, int(match.group(1)))
        if sequence == prepared.sequence:
            raise BroadcastError(
                "account sequence mismatch persists after refreshing the account", code=32, raw_log=raw_log
            )
        return replace(
            prepared,
            account_number=account_number,
            sequence=sequence,
            auth_info_bytes=build_auth_info(
                self.signer.public_key, sequence, prepared.gas_limit, prepared.fee_uakt, prepared.fee_denom
            ),
        )

    async def sign_and_broadcast(
        self, prepared: PreparedTx, *, on_signed: OnSigned | None = None
    ) -> TxResponse:
        """Sign, report ``(tx_hash, tx_bytes)`` to ``on_signed`` before broadcasting, broadcast, wait.

        Raises ``BroadcastError`` (CheckTx or DeliverTx code != 0), ``TxTimeout`` (not included within
        ``settings.tx_inclusion_timeout_s``; the tx may still land: look its hash up before re-signing).
        """
        resequenced = False
        while True:
            signed = await self.sign_async(prepared)
            if on_signed is not None:
                result = on_signed(signed.tx_hash, signed.tx_bytes)
                if inspect.isawaitable(result):
                    await result
            try:
                await self.rest.broadcast(signed.tx_bytes)
            except BroadcastError as exc:
                if exc.code == _CODE_SEQUENCE_MISMATCH and not resequenced:
                    resequenced = True
                    prepared = await self._resequence(prepared, exc.raw_log)
                    continue
                if exc.code != _CODE_TX_IN_CACHE:
                    raise
            break
        tx = await self.rest.wait_for_tx(signed.tx_hash, self.settings.tx_inclusion_timeout_s, self.poll_s)
        if tx.code != 0:
            raise BroadcastError(
                f"the transaction {tx.txhash} failed in block {tx.height} (code {tx.code}): {tx.raw_log[:300]}",
                code=tx.code,
                raw_log=tx.raw_log,
            )
        return tx
