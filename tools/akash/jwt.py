"""Provider JWTs (AEP-64): ES256K and ES256KADR36 tokens for the provider gateway (akash.md §5).

- ``ES256K``: ECDSA secp256k1 over sha256(``b64url(header).b64url(claims)``), raw r||s (64 bytes, low-S),
  base64url without padding.
- ``ES256KADR36``: the same signing string wrapped in an ADR-036 amino sign doc (a fake
  ``sign/MsgSignData`` tx with empty chain id, zero account number and sequence), which is what a browser
  wallet's ``signArbitrary`` signs (chain-sdk ``go/util/jwt/es256kadr36.go``). The doc's ``signer`` is the
  bech32 address of the key, so a verifier derives it from the public key.

Deterministic RFC 6979 signing makes our tokens byte-identical to chain-sdk's for the same key and claims
(the conformance vectors in ``shared/conformance/jwt`` check that).

Failures raise ``InvalidJWT`` with a one-line reason; verification never returns partially checked claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import bech32
import coincurve
from coincurve import ecdsa as _ecdsa
from cosmpy.crypto.hashfuncs import ripemd160  # pycryptodome: OpenSSL 3 may lack ripemd160

from tools.errors import NectoError

__all__ = [
    "ALG_ES256K",
    "ALG_ES256KADR36",
    "InvalidJWT",
    "JwtSigner",
    "address_from_public_key",
    "adr36_sign_bytes",
    "check_signing_input",
    "create_jwt",
    "validate_claims",
    "verify_jwt",
]

ALG_ES256K = "ES256K"
ALG_ES256KADR36 = "ES256KADR36"
Alg = Literal["ES256K", "ES256KADR36"]
_ALGS = (ALG_ES256K, ALG_ES256KADR36)
_ADDRESS_PREFIX = "akash"
_MAX_TTL_S = 24 * 3600  # a token is a bearer credential: keep it short-lived
_MAX_TOKEN_LEN = 16_384
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_SCOPES = frozenset(
    {
        "send-manifest", "get-manifest", "logs", "shell", "events", "status",
        "restart", "hostname-migrate", "ip-migrate", "attestation",
    }
)  # fmt: skip
_CLAIM_KEYS = frozenset({"iss", "iat", "nbf", "exp", "jti", "version", "leases"})


class InvalidJWT(NectoError):
    """A provider JWT that is malformed, badly signed, expired, not yet valid or outside the schema."""


@runtime_checkable
class JwtSigner(Protocol):
    """What ``create_jwt`` needs from a key holder (``LocalKeySigner`` implements it)."""

    @property
    def address(self) -> str: ...

    def sign_jwt_input(self, signing_input: bytes, *, alg: Alg = "ES256K") -> bytes: ...


# --- encoding -----------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str, what: str) -> bytes:
    if not segment or any(c not in _B64URL_ALPHABET for c in segment) or len(segment) % 4 == 1:
        raise InvalidJWT(f"the JWT {what} is not base64url without padding")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidJWT(f"the JWT {what} is not base64url") from exc


_B64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    raw = _b64url_decode(segment, what)
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidJWT(f"the JWT {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidJWT(f"the JWT {what} is not a JSON object")
    return value


def _compact_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def address_from_public_key(public_key: bytes, prefix: str = _ADDRESS_PREFIX) -> str:
    """Cosmos secp256k1 address: bech32(prefix, ripemd160(sha256(compressed pubkey)))."""
    compressed = coincurve.PublicKey(bytes(public_key)).format(compressed=True)
    digest = ripemd160(hashlib.sha256(compressed).digest())
    return bech32.bech32_encode(prefix, bech32.convertbits(digest, 8, 5))


def adr36_sign_bytes(signer_address: str, data: bytes) -> bytes:
    """The ADR-036 amino JSON sign doc a wallet's ``signArbitrary(signer, data)`` signs.

    Sorted keys, compact, ``timeout_height`` omitted (zero), fee ``{"amount": [], "gas": "0"}``.
    """
    doc = {
        "account_number": "0",
        "chain_id": "",
        "fee": {"amount": [], "gas": "0"},
        "memo": "",
        "msgs": [
            {
                "type": "sign/MsgSignData",
                "value": {"data": base64.b64encode(bytes(data)).decode("ascii"), "signer": signer_address},
            }
        ],
        "sequence": "0",
    }
    # Go's encoder escapes <, >, & in strings; base64 and bech32 text never contain them.
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


def check_signing_input(signing_input: bytes, alg: Alg) -> None:
    """Refuse to sign anything that is not ``b64url(JSON header).b64url(JSON claims)`` for ``alg``.

    This keeps a key holder's JWT method from becoming a sign-anything oracle (a tx SignDoc is binary
    protobuf and can never pass).
    """
    try:
        text = bytes(signing_input).decode("ascii")
    except UnicodeDecodeError as exc:
        raise InvalidJWT("a JWT signing input is ASCII") from exc
    parts = text.split(".")
    if len(parts) != 2:
        raise InvalidJWT("a JWT signing input has exactly two segments")
    header = _json_segment(parts[0], "header")
    _json_segment(parts[1], "claims")
    if header.get("alg") != alg:
        raise InvalidJWT(f"the JWT header alg {header.get('alg')!r} does not match {alg}")


# --- keys ---------------------------------------------------------------------------------------------


def _sign_digest_compact(key: coincurve.PrivateKey, message: bytes) -> bytes:
    # libsecp256k1 signs with RFC 6979 nonces and always emits low-S.
    return key.sign_recoverable(message, hasher=lambda m: hashlib.sha256(m).digest())[:64]


class _RawKeySigner:
    """Adapter for tests and tooling that hold a raw coincurve key."""

    def __init__(self, key: coincurve.PrivateKey) -> None:
        self._key = key
        self.address = address_from_public_key(key.public_key.format(compressed=True))

    def sign_jwt_input(self, signing_input: bytes, *, alg: Alg = "ES256K") -> bytes:
        check_signing_input(signing_input, alg)
        message = signing_input if alg == ALG_ES256K else adr36_sign_bytes(self.address, signing_input)
        return _sign_digest_compact(self._key, message)

    def __repr__(self) -> str:
        return f"_RawKeySigner(address={self.address!r})"


def _as_signer(signer_or_key: JwtSigner | coincurve.PrivateKey) -> JwtSigner:
    if isinstance(signer_or_key, coincurve.PrivateKey):
        return _RawKeySigner(signer_or_key)
    if hasattr(signer_or_key, "sign_jwt_input") and hasattr(signer_or_key, "address"):
        return signer_or_key
    raise TypeError(
        "create_jwt needs a signer with sign_jwt_input() (e.g. LocalKeySigner) or a coincurve key"
    )


# --- claims -------------------------------------------------------------------------------------------


def _check_address(value: Any, what: str) -> None:
    if not (
        isinstance(value, str) and len(value) == 44 and value.startswith("akash1") and value[6:].isalnum()
    ):
        raise InvalidJWT(f"{what} must be an akash1... address (44 characters)")
    if value != value.lower():
        raise InvalidJWT(f"{what} must be lower case")


def _check_scope(value: Any, what: str) -> None:
    if not isinstance(value, list) or not value:
        raise InvalidJWT(f"{what} must be a non-empty list of actions")
    if len(set(map(str, value))) != len(value) or not all(isinstance(v, str) and v in _SCOPES for v in value):
        raise InvalidJWT(f"{what} must list distinct actions from: {', '.join(sorted(_SCOPES))}")


def _check_int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidJWT(f"{what} must be an integer >= {minimum}")
    return value


def _exact_keys(obj: Mapping[str, Any], required: set[str], optional: set[str], what: str) -> None:
    missing = required - obj.keys()
    extra = obj.keys() - required - optional
    if missing:
        raise InvalidJWT(f"{what} is missing {', '.join(sorted(missing))}")
    if extra:
        raise InvalidJWT(f"{what} has unexpected fields {', '.join(sorted(extra))}")


def _validate_leases(leases: Any) -> None:
    if not isinstance(leases, Mapping):
        raise InvalidJWT("leases must be an object")
    access = leases.get("access")
    if access == "full":
        _exact_keys(leases, {"access"}, set(), "leases")
    elif access == "scoped":
        _exact_keys(leases, {"access", "scope"}, set(), "leases")
        _check_scope(leases["scope"], "leases.scope")
    elif access == "granular":
        _exact_keys(leases, {"access", "permissions"}, set(), "leases")
        permissions = leases["permissions"]
        if not isinstance(permissions, list) or not permissions:
            raise InvalidJWT("leases.permissions must be a non-empty list")
        seen: set[str] = set()
        for i, perm in enumerate(permissions):
            what = f"leases.permissions[{i}]"
            if not isinstance(perm, Mapping):
                raise InvalidJWT(f"{what} must be an object")
            _check_address(perm.get("provider"), f"{what}.provider")
            if perm["provider"] in seen:
                raise InvalidJWT(f"{what}.provider appears twice")
            seen.add(perm["provider"])
            if perm.get("access") == "full":
                _exact_keys(perm, {"provider", "access"}, set(), what)
            elif perm.get("access") == "scoped":
                _exact_keys(perm, {"provider", "access", "scope"}, set(), what)
                _check_scope(perm["scope"], f"{what}.scope")
            elif perm.get("access") == "granular":
                _exact_keys(perm, {"provider", "access", "deployments"}, set(), what)
                deployments = perm["deployments"]
                if not isinstance(deployments, list) or not deployments:
                    raise InvalidJWT(f"{what}.deployments must be a non-empty list")
                for j, dep in enumerate(deployments):
                    dwhat = f"{what}.deployments[{j}]"
                    if not isinstance(dep, Mapping):
                        raise InvalidJWT(f"{dwhat} must be an object")
                    _exact_keys(dep, {"dseq", "scope", "services"}, {"gseq", "oseq"}, dwhat)
                    _check_int(dep["dseq"], f"{dwhat}.dseq", 1)
                    _check_scope(dep["scope"], f"{dwhat}.scope")
                    if "gseq" in dep:
                        _check_int(dep["gseq"], f"{dwhat}.gseq")
                    if "oseq" in dep:
                        if "gseq" not in dep:
                            raise InvalidJWT(f"{dwhat}.oseq requires gseq")
                        _check_int(dep["oseq"], f"{dwhat}.oseq")
                    services = dep["services"]
                    if (
                        not isinstance(services, list)
                        or not services
                        or not all(isinstance(s, str) and s for s in services)
                        or len(set(services)) != len(services)
                    ):
                        raise InvalidJWT(f"{dwhat}.services must list distinct service names")
            else:
                raise InvalidJWT(f"{what}.access must be full, scoped or granular")
    else:
        raise InvalidJWT("leases.access must be full, scoped or granular")


def validate_claims(claims: Mapping[str, Any]) -> None:
    """Check claims against the AEP-64 schema (``shared/conformance/jwt/jwt-schema.json``)."""
    _exact_keys(claims, {"iss", "iat", "nbf", "exp", "version", "leases"}, {"jti"}, "the JWT claims")
    _check_address(claims["iss"], "iss")
    for name in ("iat", "nbf", "exp"):
        _check_int(claims[name], name)
    if claims["version"] != "v1":
        raise InvalidJWT('version must be "v1"')
    if "jti" in claims and not (isinstance(claims["jti"], str) and claims["jti"]):
        raise InvalidJWT("jti must be a non-empty string")
    if not claims["nbf"] <= claims["iat"] <= claims["exp"]:
        raise InvalidJWT("the JWT times must satisfy nbf <= iat <= exp")
    _validate_leases(claims["leases"])


# --- create / verify ----------------------------------------------------------------------------------


def create_jwt(
    signer_or_key: JwtSigner | coincurve.PrivateKey,
    *,
    iss: str | None = None,
    ttl_s: int = 900,
    now: int | None = None,
    leases: Mapping[str, Any] | None = None,
    alg: Alg = "ES256K",
) -> str:
    """A provider JWT for ``iss`` (default: the signer's address), valid from ``now`` for ``ttl_s`` seconds.

    ``leases`` defaults to ``{"access": "full"}``; pass a scoped or granular object to narrow it.
    """
    signer = _as_signer(signer_or_key)
    if alg not in _ALGS:
        raise InvalidJWT(f"unsupported JWT alg {alg!r}")
    iss = signer.address if iss is None else iss
    if iss != signer.address:
        raise InvalidJWT("iss must be the signer's own address (the provider checks iss's on-chain key)")
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 0 < ttl_s <= _MAX_TTL_S:
        raise InvalidJWT(f"ttl_s must be an integer between 1 and {_MAX_TTL_S}")
    issued = int(time.time()) if now is None else int(now)
    claims = {
        "iss": iss,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_s,
        "version": "v1",
        "leases": dict(leases) if leases is not None else {"access": "full"},
    }
    validate_claims(claims)
    signing_input = f"{_b64url(_compact_json({'alg': alg, 'typ': 'JWT'}))}.{_b64url(_compact_json(claims))}"
    signature = signer.sign_jwt_input(signing_input.encode("ascii"), alg=alg)
    if len(signature) != 64:
        raise InvalidJWT("the signer returned a signature that is not 64 bytes (r||s)")
    return f"{signing_input}.{_b64url(signature)}"


def _verify_compact(public_key: coincurve.PublicKey, signature: bytes, message: bytes) -> bool:
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):  # high-S is malleable: refused
        return False
    der = _ecdsa.cdata_to_der(_ecdsa.deserialize_compact(signature))
    try:
        return public_key.verify(der, message, hasher=lambda m: hashlib.sha256(m).digest())
    except (ValueError, TypeError):
        return False


def verify_jwt(
    token: str,
    pubkey_bytes: bytes,
    *,
    now: int | None = None,
    leeway_s: int = 0,
    require_claims: bool = True,
) -> dict[str, Any]:
    """Verify an ES256K or ES256KADR36 token against a secp256k1 public key; return its claims.

    ``exp``/``nbf``/``iat`` are checked whenever present (``now`` defaults to the clock) and ``iss``, when
    present, must be the key's address. With ``require_claims`` (the default) the claims must also match
    the AEP-64 schema; ``False`` only checks the signature and the times present (as golang-jwt does).
    Raises ``InvalidJWT`` on any failure.
    """
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LEN:
        raise InvalidJWT("the JWT is not a string of reasonable length")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise InvalidJWT("a JWT has three dot-separated segments")
    header = _json_segment(parts[0], "header")
    claims = _json_segment(parts[1], "claims")
    signature = _b64url_decode(parts[2], "signature")
    alg = header.get("alg")
    if alg not in _ALGS:
        raise InvalidJWT(f"unsupported JWT alg {alg!r} (expected ES256K or ES256KADR36)")
    if "typ" in header and header["typ"] != "JWT":
        raise InvalidJWT(f"unexpected JWT typ {header['typ']!r}")
    if len(signature) != 64:
        raise InvalidJWT("the JWT signature is not a raw 64-byte r||s")
    try:
        public_key = coincurve.PublicKey(bytes(pubkey_bytes))
    except (ValueError, TypeError) as exc:
        raise InvalidJWT("the public key is not a valid secp256k1 point") from exc
    address = address_from_public_key(public_key.format(compressed=True))
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    message = signing_input if alg == ALG_ES256K else adr36_sign_bytes(address, signing_input)
    if not _verify_compact(public_key, signature, message):
        raise InvalidJWT("the JWT signature does not verify for this public key")

    if require_claims:
        validate_claims(claims)
    if "iss" in claims and claims["iss"] != address:
        raise InvalidJWT("the JWT iss is not the address of the verifying key")
    current = int(time.time()) if now is None else int(now)
    if "exp" in claims and current >= _check_int(claims["exp"], "exp") + leeway_s:
        raise InvalidJWT("the JWT has expired")
    if "nbf" in claims and current + leeway_s < _check_int(claims["nbf"], "nbf"):
        raise InvalidJWT("the JWT is not valid yet (nbf is in the future)")
    if "iat" in claims and current + leeway_s < _check_int(claims["iat"], "iat"):
        raise InvalidJWT("the JWT was issued in the future (iat)")
    return claims
