"""Decode a Cosmos ``TxRaw`` and check its signature, the way a node's CheckTx ante handlers do.

Only SIGN_MODE_DIRECT with one secp256k1 signer is supported (what Keplr, cosmpy and Necto's signer
produce). The signature is checked over ``SignDoc(body_bytes, auth_info_bytes, chain_id, account_number)``
(cosmos-sdk ``x/auth/signing``), i.e. ECDSA secp256k1 over sha256 of the SignDoc bytes, 64-byte r||s,
low-S only (libsecp256k1 rejects high-S, like cosmos-sdk's ``VerifySignature``).

Failures raise :class:`TxError` carrying the Cosmos ABCI ``code``/``codespace``/``raw_log`` a real node
would answer with (cosmos-sdk ``types/errors``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

import bech32
import coincurve
import cosmpy.protos  # noqa: F401  (registers the cosmos.* generated modules)
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf.message import DecodeError, Message

from tools.akash.protogen.akash.bme.v1 import msg_pb2 as bme_msg_pb2
from tools.akash.protogen.akash.cert.v1 import msg_pb2 as cert_msg_pb2
from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
from tools.akash.protogen.akash.escrow.v1 import msg_pb2 as escrow_msg_pb2
from tools.akash.protogen.akash.market.v1beta5 import lease_pb2

__all__ = [
    "MSG_TYPES",
    "SECP256K1_PUBKEY_URL",
    "DecodedTx",
    "TxError",
    "address_from_pubkey",
    "decode_tx",
    "is_valid_address",
    "tx_hash",
    "verify_secp256k1",
]

SECP256K1_PUBKEY_URL = "/cosmos.crypto.secp256k1.PubKey"
BECH32_PREFIX = "akash"
SIGN_MODE_DIRECT = 1
MAX_TX_BYTES = 1_048_576  # CometBFT default max_tx_bytes

# Type URL -> message class: the only messages this devnet executes (akash.md §2).
MSG_TYPES: dict[str, type[Message]] = {
    "/akash.deployment.v1beta4.MsgCreateDeployment": deployment_pb2.MsgCreateDeployment,
    "/akash.deployment.v1beta4.MsgUpdateDeployment": deployment_pb2.MsgUpdateDeployment,
    "/akash.deployment.v1beta4.MsgCloseDeployment": deployment_pb2.MsgCloseDeployment,
    "/akash.market.v1beta5.MsgCreateLease": lease_pb2.MsgCreateLease,
    "/akash.market.v1beta5.MsgCloseLease": lease_pb2.MsgCloseLease,
    "/akash.escrow.v1.MsgAccountDeposit": escrow_msg_pb2.MsgAccountDeposit,
    "/akash.bme.v1.MsgMintACT": bme_msg_pb2.MsgMintACT,
    "/akash.cert.v1.MsgCreateCertificate": cert_msg_pb2.MsgCreateCertificate,
}


class TxError(Exception):
    """A transaction rejected with an ABCI code (``codespace`` "sdk" unless a module's own)."""

    def __init__(self, code: int, raw_log: str, codespace: str = "sdk") -> None:
        super().__init__(raw_log)
        self.code = code
        self.raw_log = raw_log
        self.codespace = codespace


@dataclass
class DecodedTx:
    """A decoded transaction; ``messages`` are ``(type_url, message)`` pairs in body order."""

    tx_bytes: bytes
    txhash: str
    raw: tx_pb2.TxRaw
    body: tx_pb2.TxBody
    auth_info: tx_pb2.AuthInfo
    messages: list[tuple[str, Message]]
    pubkey: bytes | None
    signer_address: str | None
    sequence: int
    gas_limit: int
    fee: dict[str, int] = field(default_factory=dict)


def tx_hash(tx_bytes: bytes) -> str:
    """The CometBFT tx hash: upper-case hex sha256 of the raw bytes."""
    return hashlib.sha256(tx_bytes).hexdigest().upper()


def address_from_pubkey(pubkey: bytes, prefix: str = BECH32_PREFIX) -> str:
    """Bech32 account address of a compressed secp256k1 key: ripemd160(sha256(pubkey))."""
    digest = hashlib.new("ripemd160", hashlib.sha256(pubkey).digest()).digest()
    return bech32.bech32_encode(prefix, bech32.convertbits(digest, 8, 5))


def is_valid_address(address: str, prefix: str = BECH32_PREFIX) -> bool:
    """True for a well-formed 20-byte bech32 account address with the given prefix."""
    if not isinstance(address, str) or len(address) > 90:
        return False
    hrp, data = bech32.bech32_decode(address)
    if hrp != prefix or data is None:
        return False
    raw = bech32.convertbits(data, 5, 8, False)
    return raw is not None and len(raw) == 20


def verify_secp256k1(pubkey: bytes, message: bytes, signature: bytes) -> bool:
    """Verify a raw 64-byte r||s ECDSA signature over sha256(message); high-S signatures fail."""
    if len(signature) != 64:
        return False
    try:
        key = coincurve.PublicKey(pubkey)
        return key.verify(_der(signature[:32], signature[32:]), message)
    except Exception:  # invalid key or signature encoding: not a valid signature
        return False


def _der(r: bytes, s: bytes) -> bytes:
    def _int(value: bytes) -> bytes:
        value = value.lstrip(b"\x00") or b"\x00"
        if value[0] & 0x80:
            value = b"\x00" + value
        return b"\x02" + bytes([len(value)]) + value

    body = _int(r) + _int(s)
    return b"\x30" + bytes([len(body)]) + body


def decode_tx(tx_bytes: bytes) -> DecodedTx:
    """Decode TxRaw, its body, auth info and every message; raise :class:`TxError` (code 2) on garbage.

    Does not check signatures or account state: see :func:`check_signature`.
    """
    if not tx_bytes:
        raise TxError(2, "tx bytes are empty: tx parse error")
    if len(tx_bytes) > MAX_TX_BYTES:
        raise TxError(21, f"tx too large. Max size is {MAX_TX_BYTES}, but got {len(tx_bytes)}: tx too large")
    try:
        raw = tx_pb2.TxRaw.FromString(tx_bytes)
        body = tx_pb2.TxBody.FromString(raw.body_bytes)
        auth_info = tx_pb2.AuthInfo.FromString(raw.auth_info_bytes)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise TxError(2, f"failed to decode tx: {exc}: tx parse error") from None
    if not raw.body_bytes:
        raise TxError(2, "tx body is empty: tx parse error")
    if not body.messages:
        raise TxError(18, "must contain at least one message: invalid request")

    messages: list[tuple[str, Message]] = []
    for any_msg in body.messages:
        cls = MSG_TYPES.get(any_msg.type_url)
        if cls is None:
            raise TxError(2, f"unable to resolve type URL {any_msg.type_url}: tx parse error")
        try:
            messages.append((any_msg.type_url, cls.FromString(any_msg.value)))
        except (DecodeError, ValueError, RuntimeError) as exc:
            raise TxError(2, f"failed to decode {any_msg.type_url}: {exc}: tx parse error") from None

    if len(auth_info.signer_infos) != 1:
        raise TxError(
            4, f"wrong number of signers; expected 1, got {len(auth_info.signer_infos)}: unauthorized"
        )
    if len(raw.signatures) != 1:
        raise TxError(4, f"invalid number of signatures; expected 1, got {len(raw.signatures)}: unauthorized")
    signer_info = auth_info.signer_infos[0]
    pubkey: bytes | None = None
    signer_address: str | None = None
    if signer_info.HasField("public_key"):
        if signer_info.public_key.type_url != SECP256K1_PUBKEY_URL:
            raise TxError(8, f"unsupported public key type {signer_info.public_key.type_url}: invalid pubkey")
        try:
            pubkey = keys_pb2.PubKey.FromString(signer_info.public_key.value).key
        except DecodeError:
            raise TxError(8, "could not decode public key: invalid pubkey") from None
        if len(pubkey) != 33:
            raise TxError(8, f"invalid public key length {len(pubkey)}, expected 33: invalid pubkey")
        signer_address = address_from_pubkey(pubkey)
    mode = signer_info.mode_info.single.mode if signer_info.mode_info.HasField("single") else -1
    if mode != SIGN_MODE_DIRECT:
        raise TxError(4, "only SIGN_MODE_DIRECT is supported: unauthorized")

    fee: dict[str, int] = {}
    for coin in auth_info.fee.amount:
        try:
            amount = int(coin.amount)
        except ValueError:
            raise TxError(10, f"invalid fee amount {coin.amount!r}: invalid coins") from None
        if amount < 0:
            raise TxError(10, f"negative fee {coin.amount}{coin.denom}: invalid coins")
        fee[coin.denom] = fee.get(coin.denom, 0) + amount

    return DecodedTx(
        tx_bytes=tx_bytes,
        txhash=tx_hash(tx_bytes),
        raw=raw,
        body=body,
        auth_info=auth_info,
        messages=messages,
        pubkey=pubkey,
        signer_address=signer_address,
        sequence=signer_info.sequence,
        gas_limit=auth_info.fee.gas_limit,
        fee=fee,
    )


def sign_doc_bytes(tx: DecodedTx, chain_id: str, account_number: int) -> bytes:
    """The SIGN_MODE_DIRECT bytes a signer signs."""
    return tx_pb2.SignDoc(
        body_bytes=tx.raw.body_bytes,
        auth_info_bytes=tx.raw.auth_info_bytes,
        chain_id=chain_id,
        account_number=account_number,
    ).SerializeToString()


def check_signature(tx: DecodedTx, pubkey: bytes, chain_id: str, account_number: int) -> None:
    """Raise the node's "signature verification failed" (code 4) unless the signature is valid."""
    if not verify_secp256k1(pubkey, sign_doc_bytes(tx, chain_id, account_number), tx.raw.signatures[0]):
        raise TxError(
            4,
            f"signature verification failed; please verify account number ({account_number}), "
            f"sequence ({tx.sequence}) and chain-id ({chain_id}): unauthorized",
        )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
