"""Signing: pure SIGN_MODE_DIRECT helpers and ``LocalKeySigner``, the local-key holder (security.md rule 5).

The pure functions (``build_sign_doc``, ``assemble_tx_raw``, ``verify_signature``) are shared with the
browser-wallet path: the server builds the bytes, Keplr signs them, the server verifies and broadcasts.

``LocalKeySigner`` keeps a secp256k1 key in ``<key_dir>/<name>.key`` (directory 0700, file 0600, created
with O_EXCL so it is never readable by others even for an instant). The key never leaves the object: there
is no accessor for it or for a mnemonic, its repr shows only the address, and it refuses to be pickled.
Before signing it re-checks the allow-lists itself (message type URLs, chain id, fee cap), so a bug
upstream cannot turn it into a sign-anything oracle.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import coincurve
import cosmpy.protos  # noqa: F401  (registers the cosmos.* generated modules)
from coincurve import ecdsa as _ecdsa
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf.message import DecodeError

from tools.akash import messages
from tools.akash.jwt import Alg, address_from_public_key, adr36_sign_bytes, check_signing_input
from tools.errors import BudgetExceeded, PolicyDenied

if TYPE_CHECKING:
    from tools.settings import NectoSettings

__all__ = [
    "AsyncTxSigner",
    "LocalKeySigner",
    "SignedDoc",
    "TxSigner",
    "address_from_public_key",
    "assemble_tx_raw",
    "build_sign_doc",
    "check_signable",
    "verify_signature",
]

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@runtime_checkable
class TxSigner(Protocol):
    """What ``TxClient`` and ``create_jwt`` need from a key holder (local key today, other backends later)."""

    @property
    def address(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign_doc(
        self, body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int
    ) -> bytes: ...

    def sign_jwt_input(self, signing_input: bytes, *, alg: Alg = "ES256K") -> bytes: ...


class SignedDoc(NamedTuple):
    """What an asynchronous signer (a browser wallet) returns: the bytes it signed and the signature.

    A wallet may re-encode the body or auth info; the signer has already checked that these bytes carry
    exactly the prepared messages and fee, and the TxRaw must be assembled from them (the signature is
    over them)."""

    body_bytes: bytes
    auth_info_bytes: bytes
    signature: bytes


@runtime_checkable
class AsyncTxSigner(Protocol):
    """A key holder that signs asynchronously (the browser wallet asks the user's page, then verifies)."""

    @property
    def address(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    async def sign_doc_async(self, prepared: Any) -> SignedDoc: ...


# --- pure helpers -------------------------------------------------------------------------------------


def build_sign_doc(body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int) -> bytes:
    """The SIGN_MODE_DIRECT ``SignDoc`` bytes; the signature is ECDSA over sha256 of these."""
    return tx_pb2.SignDoc(
        body_bytes=bytes(body_bytes),
        auth_info_bytes=bytes(auth_info_bytes),
        chain_id=chain_id,
        account_number=int(account_number),
    ).SerializeToString()


def assemble_tx_raw(body_bytes: bytes, auth_info_bytes: bytes, signature: bytes) -> bytes:
    """``TxRaw`` bytes to broadcast (an empty ``signature`` gives the slot simulation needs)."""
    return tx_pb2.TxRaw(
        body_bytes=bytes(body_bytes), auth_info_bytes=bytes(auth_info_bytes), signatures=[bytes(signature)]
    ).SerializeToString()


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check a raw 64-byte low-S secp256k1 signature over sha256(message), as the chain does."""
    if len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        return False
    try:
        der = _ecdsa.cdata_to_der(_ecdsa.deserialize_compact(bytes(signature)))
        return coincurve.PublicKey(bytes(public_key)).verify(der, bytes(message), hasher=_sha256)
    except (ValueError, TypeError):
        return False


def check_signable(
    body_bytes: bytes,
    auth_info_bytes: bytes,
    chain_id: str,
    signer_address: str,
    *,
    allowed_chain_ids: frozenset[str] | tuple[str, ...],
    max_fee: int,
    fee_denom: str,
) -> None:
    """Necto's signing policy, for every key holder (local key or browser wallet): allow-listed chain id,
    message types owned by the signer, one signer, the fee in ``fee_denom`` under ``max_fee``, no tip, fee
    payer or granter. Raises ``PolicyDenied`` / ``BudgetExceeded``."""
    if chain_id not in allowed_chain_ids:
        raise PolicyDenied(f"chain id {chain_id!r} is not in the allowed chain ids")
    messages.assert_signable(body_bytes, signer_address)
    auth_info = tx_pb2.AuthInfo()
    try:
        auth_info.ParseFromString(bytes(auth_info_bytes))
    except DecodeError as exc:
        raise PolicyDenied("the auth info does not decode") from exc
    if auth_info.HasField("tip") or auth_info.fee.payer or auth_info.fee.granter:
        raise PolicyDenied("Necto does not sign transactions with a tip, fee payer or fee granter")
    for coin in auth_info.fee.amount:
        if coin.denom != fee_denom:
            raise PolicyDenied(f"the fee must be paid in {fee_denom}, not {coin.denom}")
        if not coin.amount.isdigit() or int(coin.amount) > max_fee:
            raise BudgetExceeded(f"the fee {coin.amount}{coin.denom} exceeds the cap of {max_fee}{fee_denom}")
    if len(auth_info.signer_infos) != 1:
        raise PolicyDenied("Necto signs single-signer transactions only")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- the local key ------------------------------------------------------------------------------------


def _secure_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise PolicyDenied(f"the key directory {path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        # mkdir's mode is masked by umask and an existing directory may be looser: tighten it.
        os.chmod(path, 0o700)


def _read_key(path: Path) -> coincurve.PrivateKey:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        info = os.fstat(fd)
        if info.st_uid != os.getuid():
            raise PolicyDenied(f"the key file {path} belongs to another user")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise PolicyDenied(
                f"the key file {path} is readable by other users",
                hint=f"run: chmod 600 {path}  (and consider the key compromised if others could read it)",
            )
        text = os.read(fd, 4096).decode("ascii", errors="replace").strip()
    finally:
        os.close(fd)
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise PolicyDenied(f"the key file {path} is not a hex-encoded secp256k1 key")
    secret = bytes.fromhex(text)
    if not 0 < int.from_bytes(secret, "big") < _SECP256K1_N:
        raise PolicyDenied(f"the key file {path} does not hold a valid secp256k1 key")
    return coincurve.PrivateKey(secret)


def _create_key(path: Path) -> coincurve.PrivateKey:
    """Write a new key without a window where the file exists half-written or with loose permissions."""
    key = coincurve.PrivateKey()  # os.urandom-backed
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            os.write(fd, (key.secret.hex() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic and fails if another process created the key meanwhile
        except FileExistsError:
            return _read_key(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


class LocalKeySigner:
    """A secp256k1 key on local disk, generated on first use; signs only what Necto's policy allows."""

    __slots__ = ("_key", "_name", "_address", "_public_key", "_allowed_chain_ids", "_max_fee", "_fee_denom")

    def __init__(self, settings: NectoSettings, name: str = "necto") -> None:
        if not _KEY_NAME.fullmatch(name):
            raise PolicyDenied(f"key name {name!r} must be letters, digits, '.', '_' or '-' (max 64)")
        key_dir = Path(settings.effective_key_dir).expanduser()
        _secure_dir(key_dir)
        path = key_dir / f"{name}.key"
        self._key = _read_key(path) if path.exists() else _create_key(path)
        self._name = name
        self._public_key = self._key.public_key.format(compressed=True)
        self._address = address_from_public_key(self._public_key)
        self._allowed_chain_ids = frozenset(settings.allowed_chain_ids)
        self._max_fee = int(settings.max_fee_uakt)
        self._fee_denom = settings.fee_denom

    @property
    def name(self) -> str:
        return self._name

    @property
    def address(self) -> str:
        return self._address

    @property
    def public_key(self) -> bytes:
        """The 33-byte compressed public key."""
        return self._public_key

    def __repr__(self) -> str:
        return f"LocalKeySigner(name={self._name!r}, address={self._address!r})"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        raise TypeError("LocalKeySigner cannot be pickled or copied (it holds a private key)")

    def sign_doc(
        self, body_bytes: bytes, auth_info_bytes: bytes, chain_id: str, account_number: int
    ) -> bytes:
        """Sign a SIGN_MODE_DIRECT SignDoc; returns the raw 64-byte low-S signature.

        Raises ``PolicyDenied`` for a chain id, message type or signer outside the allow-lists and
        ``BudgetExceeded`` for a fee above ``settings.max_fee_uakt``.
        """
        check_signable(
            body_bytes, auth_info_bytes, chain_id, self._address,
            allowed_chain_ids=self._allowed_chain_ids, max_fee=self._max_fee, fee_denom=self._fee_denom,
        )
        doc = build_sign_doc(body_bytes, auth_info_bytes, chain_id, account_number)
        return self._sign(doc)

    def sign_jwt_input(self, signing_input: bytes, *, alg: Alg = "ES256K") -> bytes:
        """Sign a JWT signing string (``header.claims``) for the provider gateway; nothing else is accepted."""
        check_signing_input(signing_input, alg)
        message = bytes(signing_input) if alg == "ES256K" else adr36_sign_bytes(self._address, signing_input)
        return self._sign(message)

    def _sign(self, message: bytes) -> bytes:
        # libsecp256k1: RFC 6979 nonces, low-S normalised; the recovery byte is dropped.
        signature = self._key.sign_recoverable(message, hasher=_sha256)[:64]
        if (
            int.from_bytes(signature[32:], "big") > _SECP256K1_N // 2
        ):  # never expected; the chain refuses high-S
            raise PolicyDenied("the signing library produced a high-S signature")
        return signature
