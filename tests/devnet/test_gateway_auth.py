"""Provider JWT verification (AEP-64) against upstream vectors, and the offline gateway, without servers."""

from __future__ import annotations

import json
from pathlib import Path

import coincurve
import httpx
import pytest
from devnet_testkit import Wallet

from devnet.chain import Chain
from devnet.providers import (
    AuthError,
    ProviderFleet,
    _adr36_sign_bytes,
    _b64url_decode,
    build_fleet,
    build_gateway_app,
    verify_jwt,
)
from devnet.txdecode import address_from_pubkey

CASES = Path(__file__).resolve().parents[3] / "shared/conformance/jwt/cases_es256k.json"


def _adr36_case() -> dict:
    with open(CASES) as fh:
        cases = json.load(fh)
    return next(c for c in cases if c["description"].startswith("ES256KADR36 - Valid Signature/with scoped"))


def _recover_issuer_key(token: str) -> tuple[str, bytes, dict]:
    """The vectors' issuer key, recovered from the signature (the vector file ships a mnemonic, not a key)."""
    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    message = _adr36_sign_bytes(claims["iss"], f"{header}.{payload}".encode())
    for recovery_id in (0, 1):
        key = coincurve.PublicKey.from_signature_and_message(
            _b64url_decode(signature) + bytes([recovery_id]), message
        )
        if address_from_pubkey(key.format()) == claims["iss"]:
            return claims["iss"], key.format(), claims
    raise AssertionError("issuer key not recoverable")


def test_upstream_es256kadr36_vector_verifies():
    token = _adr36_case()["tokenString"]
    issuer, pubkey, claims = _recover_issuer_key(token)
    chain = Chain()
    chain.ensure_account(issuer, pubkey)
    verified = verify_jwt(token, chain, now=claims["nbf"] + 60)
    assert verified["leases"]["access"] == "scoped"
    with pytest.raises(AuthError, match="expired"):
        verify_jwt(token, chain, now=claims["exp"] + 1)
    header, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(AuthError, match="signature"):
        verify_jwt(f"{header}.{payload}.{flipped}", chain, now=claims["nbf"] + 60)


def test_es256k_token_needs_on_chain_pubkey():
    wallet = Wallet.from_name("jwt-unit")
    chain = Chain()
    chain.ensure_account(wallet.address)
    with pytest.raises(AuthError, match="no public key on chain"):
        verify_jwt(wallet.jwt(), chain)
    chain.accounts[wallet.address].pubkey = wallet.pubkey
    assert verify_jwt(wallet.jwt(), chain)["iss"] == wallet.address
    with pytest.raises(AuthError, match="not valid yet"):
        verify_jwt(wallet.jwt(nbf_offset=3600), chain)
    other = Wallet.from_name("jwt-unit-other")
    with pytest.raises(AuthError, match="signature"):
        verify_jwt(other.jwt(iss=wallet.address), chain)


async def test_flaky_provider_answers_503_while_offline():
    chain = Chain(block_time_s=0.05)
    fleet = ProviderFleet(chain, build_fleet(7, 24))
    flaky = next(p for p in fleet.providers if p.strategy.name == "cheap-flaky")
    offline_height = next(h for h in range(1, 1000) if not flaky.online(h))
    online_height = next(h for h in range(1, 1000) if flaky.online(h))
    transport = httpx.ASGITransport(app=build_gateway_app(flaky, chain))
    async with httpx.AsyncClient(transport=transport, base_url="http://provider") as client:
        chain.height = offline_height
        assert (await client.get("/status")).status_code == 503
        chain.height = online_height
        assert (await client.get("/status")).status_code == 200
    # offline providers do not bid either: their decisions wait until they are back
    assert 0.75 <= sum(flaky.online(h) for h in range(1000)) / 1000 <= 0.85
