"""The server refuses any signDirect answer whose bytes differ from what was confirmed (real signatures)."""

from __future__ import annotations

import base64

import cosmpy.protos  # noqa: F401
import pytest
from wallet_double import PythonWallet, b64

from tools.akash import messages
from tools.akash.tx import PreparedTx, build_auth_info, build_tx_body
from tools.wallet.errors import WalletMismatch, WrongNetwork
from tools.wallet.keplr import direct_sign_request, verify_direct_response

CHAIN = "necto-sandbox-1"


def prepared_for(wallet: PythonWallet, *, dseq: int = 42, memo: str = "") -> PreparedTx:
    msg = messages.msg_close_deployment(wallet.address, dseq)
    return PreparedTx(
        body_bytes=build_tx_body([msg], memo), auth_info_bytes=build_auth_info(wallet.public_key, 3, 200_000, 5_000),
        chain_id=CHAIN, account_number=7, sequence=3, gas_limit=200_000, fee_uakt=5_000, fee_denom="uakt",
        memo=memo, msgs=(msg,),
    )


def answer(wallet: PythonWallet, prepared: PreparedTx, change=None) -> dict:
    """The wallet's signDirect answer for the request the server built (``change`` edits the doc it signs)."""
    doc = direct_sign_request(prepared, signer_address=wallet.address)["signDoc"]
    return wallet.sign_direct(change(dict(doc)) if change else doc)


def check(wallet: PythonWallet, prepared: PreparedTx, response: dict):
    return verify_direct_response(prepared, response, address=wallet.address, public_key=wallet.public_key)


def test_the_request_carries_the_exact_bytes_and_a_summary_from_code():
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    request = direct_sign_request(prepared, signer_address=wallet.address)
    assert request["kind"] == "direct" and request["chainId"] == CHAIN and request["signer"] == wallet.address
    assert base64.b64decode(request["signDoc"]["bodyBytes"]) == prepared.body_bytes
    assert base64.b64decode(request["signDoc"]["authInfoBytes"]) == prepared.auth_info_bytes
    assert request["signDoc"]["accountNumber"] == "7"
    assert request["summary"]["lines"] == ["Close deployment 42 (the escrow left is refunded)"]
    assert request["summary"]["gas"] == 200_000 and "5000 uakt" in request["summary"]["fee"]


def test_an_honest_answer_gives_the_bytes_to_broadcast():
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    signed = check(wallet, prepared, answer(wallet, prepared))
    assert (signed.body_bytes, signed.auth_info_bytes) == (prepared.body_bytes, prepared.auth_info_bytes)
    assert len(signed.signature) == 64


def _other_body(wallet):
    return b64(prepared_for(wallet, dseq=43).body_bytes)


def _auth(wallet, *, sequence=3, gas=200_000, fee=5_000, denom="uakt", key=None):
    return b64(build_auth_info(key or wallet.public_key, sequence, gas, fee, denom))


@pytest.mark.parametrize(
    ("case", "change", "error", "words"),
    [
        ("changed message", lambda w: {"bodyBytes": _other_body(w)}, WalletMismatch, "changed the messages"),
        ("added memo", lambda w: {"bodyBytes": b64(prepared_for(w, memo="hi").body_bytes)}, WalletMismatch, "memo"),
        ("higher fee", lambda w: {"authInfoBytes": _auth(w, fee=9_000)}, WalletMismatch, "fee or gas"),
        ("more gas", lambda w: {"authInfoBytes": _auth(w, gas=400_000)}, WalletMismatch, "fee or gas"),
        ("fee denom", lambda w: {"authInfoBytes": _auth(w, denom="uact")}, WalletMismatch, "fee or gas"),
        ("sequence", lambda w: {"authInfoBytes": _auth(w, sequence=4)}, WalletMismatch, "sequence"),
        ("chain id", lambda w: {"chainId": "akashnet-2"}, WrongNetwork, "akashnet-2"),
        ("account number", lambda w: {"accountNumber": "8"}, WalletMismatch, "account number"),
    ],
)
def test_a_wallet_that_signs_something_else_is_refused(case, change, error, words):
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    response = answer(wallet, prepared, lambda doc: {**doc, **change(wallet)})
    with pytest.raises(error) as info:
        check(wallet, prepared, response)
    assert words in info.value.message, case
    assert "not broadcast" in info.value.message or "nothing was broadcast" in info.value.message


def test_another_account_signing_is_refused():
    wallet, other = PythonWallet(), PythonWallet()
    prepared = prepared_for(wallet)
    # The other account signs the same bytes and says so honestly ...
    with pytest.raises(WalletMismatch, match="another account"):
        check(wallet, prepared, other.sign_direct(direct_sign_request(prepared, signer_address=wallet.address)["signDoc"]))
    # ... or puts itself in the auth info while claiming the connected key.
    response = answer(wallet, prepared, lambda doc: {**doc, "authInfoBytes": _auth(wallet, key=other.public_key)})
    with pytest.raises(WalletMismatch, match="another signer"):
        check(wallet, prepared, response)
    # ... or forges: the connected key's name on the other key's signature.
    forged = other.sign_direct(direct_sign_request(prepared, signer_address=wallet.address)["signDoc"])
    forged["signature"]["pub_key"]["value"] = b64(wallet.public_key)
    with pytest.raises(WalletMismatch, match="does not verify"):
        check(wallet, prepared, forged)


def test_a_bad_signature_is_refused():
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    response = answer(wallet, prepared)
    raw = bytearray(base64.b64decode(response["signature"]["signature"]))
    raw[5] ^= 1
    response["signature"]["signature"] = b64(bytes(raw))
    with pytest.raises(WalletMismatch, match="does not verify"):
        check(wallet, prepared, response)
    # High-S (the malleable twin of a valid signature) is refused as the chain refuses it.
    good = base64.b64decode(answer(wallet, prepared)["signature"]["signature"])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    high = good[:32] + (n - int.from_bytes(good[32:], "big")).to_bytes(32, "big")
    response["signature"]["signature"] = b64(high)
    with pytest.raises(WalletMismatch, match="does not verify"):
        check(wallet, prepared, response)


def test_a_message_for_another_owner_or_unknown_fields_are_refused():
    wallet, victim = PythonWallet(), PythonWallet()
    prepared = prepared_for(wallet)
    theirs = b64(build_tx_body([messages.msg_close_deployment(victim.address, 42)]))
    with pytest.raises(WalletMismatch, match="would not sign"):
        check(wallet, prepared, answer(wallet, prepared, lambda doc: {**doc, "bodyBytes": theirs}))
    # An unknown field appended to the body: the same messages on screen, more bytes signed.
    padded = b64(prepared.body_bytes + b"\xa2\x06\x01\x00")  # field 100, length 1
    with pytest.raises(WalletMismatch, match="would not sign"):
        check(wallet, prepared, answer(wallet, prepared, lambda doc: {**doc, "bodyBytes": padded}))


@pytest.mark.parametrize("response", [None, {}, {"signed": {}, "signature": {}}, {"signed": "x", "signature": 1}])
def test_garbage_answers_are_refused(response):
    wallet = PythonWallet()
    with pytest.raises(WalletMismatch):
        check(wallet, prepared_for(wallet), response)


def test_a_non_secp256k1_key_is_refused():
    wallet = PythonWallet()
    prepared = prepared_for(wallet)
    response = answer(wallet, prepared)
    response["signature"]["pub_key"] = {"type": "tendermint/PubKeyEd25519", "value": b64(b"\x01" * 32)}
    with pytest.raises(WalletMismatch, match="not secp256k1"):
        check(wallet, prepared, response)
