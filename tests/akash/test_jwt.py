"""Provider JWTs: every conformance vector, byte-identical signatures, round trips, time and key checks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import coincurve
import pytest
from cosmpy.mnemonic import derive_child_key_from_mnemonic

from tools.akash.jwt import (
    InvalidJWT,
    address_from_public_key,
    check_signing_input,
    create_jwt,
    validate_claims,
    verify_jwt,
)
from tools.akash.signer import LocalKeySigner
from tools.settings import NectoSettings

VECTORS = Path("/work/shared/conformance/jwt")
CASES = json.loads((VECTORS / "cases_es256k.json").read_text())
MNEMONIC = (VECTORS / "mnemonic").read_text().strip()
KEY = coincurve.PrivateKey(derive_child_key_from_mnemonic(MNEMONIC, path="m/44'/118'/0'/0/0"))
PUBKEY = KEY.public_key.format(compressed=True)
ADDRESS = address_from_public_key(PUBKEY)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_vector_key_matches_the_vectors_issuer() -> None:
    assert ADDRESS == "akash1qufa3xzrf34qvwyejkhvnc4psf49fftaw0asmh"


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_conformance_vectors(case: dict) -> None:
    token = case["tokenString"]
    claims = json.loads(_b64(token.split(".")[1]))
    now = claims.get("iat", 0)
    if case["mustFail"]:
        with pytest.raises(InvalidJWT):
            verify_jwt(token, PUBKEY, now=now, require_claims=False)
        return
    assert verify_jwt(token, PUBKEY, now=now, require_claims=False) == claims
    assert json.loads(_b64(token.split(".")[0]))["alg"] == case["expected"]["alg"]
    if "iss" in claims:  # the full vector also satisfies the AEP-64 schema
        assert verify_jwt(token, PUBKEY, now=now) == claims
    # RFC 6979: our signer reproduces chain-sdk's signature byte for byte
    header, payload, signature = token.split(".")
    signer = LocalKeySignerLike(KEY)
    assert signer.sign(f"{header}.{payload}".encode(), case["expected"]["alg"]) == _b64(signature)


class LocalKeySignerLike:
    """Signs like LocalKeySigner, with the vector key (create_jwt accepts a raw coincurve key too)."""

    def __init__(self, key: coincurve.PrivateKey) -> None:
        from tools.akash.jwt import _as_signer

        self._signer = _as_signer(key)

    def sign(self, signing_input: bytes, alg: str) -> bytes:
        return self._signer.sign_jwt_input(signing_input, alg=alg)


def test_full_vector_expires() -> None:
    token = next(c for c in CASES if "scoped" in c["description"])["tokenString"]
    claims = json.loads(_b64(token.split(".")[1]))
    with pytest.raises(InvalidJWT, match="expired"):
        verify_jwt(token, PUBKEY, now=claims["exp"])
    with pytest.raises(InvalidJWT, match="not valid yet"):
        verify_jwt(token, PUBKEY, now=claims["nbf"] - 1)


def test_round_trip_with_the_local_signer(tmp_path) -> None:
    signer = LocalKeySigner(NectoSettings(data_dir=tmp_path))
    token = create_jwt(signer, now=1_800_000_000)
    header = json.loads(_b64(token.split(".")[0]))
    assert header == {"alg": "ES256K", "typ": "JWT"}
    assert "=" not in token
    claims = verify_jwt(token, signer.public_key, now=1_800_000_100)
    assert claims == {
        "iss": signer.address,
        "iat": 1_800_000_000,
        "nbf": 1_800_000_000,
        "exp": 1_800_000_900,
        "version": "v1",
        "leases": {"access": "full"},
    }
    signature = _b64(token.split(".")[2])
    assert (
        len(signature) == 64 and int.from_bytes(signature[32:], "big") <= coincurve.utils.GROUP_ORDER_INT // 2
    )

    adr36 = create_jwt(
        signer, now=1_800_000_000, alg="ES256KADR36", leases={"access": "scoped", "scope": ["logs"]}
    )
    assert verify_jwt(adr36, signer.public_key, now=1_800_000_001)["leases"]["scope"] == ["logs"]

    # expired, not yet valid, wrong key, tampered
    with pytest.raises(InvalidJWT, match="expired"):
        verify_jwt(token, signer.public_key, now=1_800_000_900)
    assert verify_jwt(token, signer.public_key, now=1_800_000_905, leeway_s=10)
    with pytest.raises(InvalidJWT, match="not valid yet"):
        verify_jwt(token, signer.public_key, now=1_799_999_999)
    other = LocalKeySigner(NectoSettings(data_dir=tmp_path), "other")
    with pytest.raises(InvalidJWT, match="does not verify"):
        verify_jwt(token, other.public_key, now=1_800_000_100)
    h, p, s = token.split(".")
    forged_claims = json.loads(_b64(p)) | {"exp": 1_900_000_000}
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidJWT, match="does not verify"):
        verify_jwt(f"{h}.{forged}.{s}", signer.public_key, now=1_800_000_100)
    # an ES256K signature presented as ES256KADR36 does not verify either
    h36 = base64.urlsafe_b64encode(b'{"alg":"ES256KADR36","typ":"JWT"}').rstrip(b"=").decode()
    with pytest.raises(InvalidJWT):
        verify_jwt(f"{h36}.{p}.{s}", signer.public_key, now=1_800_000_100)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!.e30.AAAA", "e30.e30.AAAA", "W10.e30." + "A" * 86, 123],
)
def test_malformed_tokens(token) -> None:
    with pytest.raises(InvalidJWT):
        verify_jwt(token, PUBKEY, require_claims=False)


def test_bad_public_key_and_create_arguments(tmp_path) -> None:
    token = CASES[0]["tokenString"]
    with pytest.raises(InvalidJWT, match="public key"):
        verify_jwt(token, b"\x02" + b"\x00" * 32, require_claims=False)
    signer = LocalKeySigner(NectoSettings(data_dir=tmp_path))
    with pytest.raises(InvalidJWT, match="iss"):
        create_jwt(signer, iss=ADDRESS)
    with pytest.raises(InvalidJWT, match="ttl_s"):
        create_jwt(signer, ttl_s=0)
    with pytest.raises(InvalidJWT, match="leases"):
        create_jwt(signer, leases={"access": "everything"})
    with pytest.raises(InvalidJWT, match="scope"):
        create_jwt(signer, leases={"access": "scoped", "scope": ["logs", "logs"]})
    with pytest.raises(TypeError):
        create_jwt(object())


def test_schema_validation() -> None:
    good = {"iss": ADDRESS, "iat": 10, "nbf": 10, "exp": 20, "version": "v1", "leases": {"access": "full"}}
    validate_claims(good)
    granular = {
        "access": "granular",
        "permissions": [
            {"provider": ADDRESS, "access": "full"},
            {
                "provider": "akash1" + "q" * 38,
                "access": "granular",
                "deployments": [{"dseq": 5, "gseq": 1, "oseq": 1, "scope": ["logs"], "services": ["web"]}],
            },
        ],
    }
    validate_claims(good | {"leases": granular})
    for bad in (
        good | {"version": "v2"},
        good | {"extra": 1},
        good | {"iat": 30},
        good | {"iss": "cosmos1abc"},
        {k: v for k, v in good.items() if k != "exp"},
        good | {"leases": {"access": "full", "scope": ["logs"]}},
        good
        | {"leases": {"access": "granular", "permissions": [{"provider": ADDRESS, "access": "full"}] * 2}},
    ):
        with pytest.raises(InvalidJWT):
            validate_claims(bad)


def test_check_signing_input() -> None:
    check_signing_input(b"eyJhbGciOiJFUzI1NksifQ.e30", "ES256K")
    with pytest.raises(InvalidJWT, match="alg"):
        check_signing_input(b"eyJhbGciOiJFUzI1NksifQ.e30", "ES256KADR36")
    with pytest.raises(InvalidJWT):
        check_signing_input(b"\x0a\x02hi", "ES256K")
