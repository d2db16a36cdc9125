"""EIP-712 router signatures over routing decisions: sign, recover, and the digest a contract would compute."""

from __future__ import annotations

import hashlib

import pytest
from eth_abi import encode
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak

from tools.routing.eip712 import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    ZERO_ADDRESS,
    decision_digest,
    decision_typed_data,
    job_id_bytes32,
    recover_signer,
    sign_decision,
)

ROUTER_KEY = "0x" + "4c" * 32
OTHER_KEY = "0x" + "5d" * 32
ROUTER = Account.from_key(ROUTER_KEY).address
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DECISION = hashlib.sha256(b"decision").hexdigest()
REQUEST = "0x" + hashlib.sha256(b"request").hexdigest()
FIELDS = dict(
    job_id="job-7f3a",
    decision_hash=DECISION,
    request_hash=REQUEST,
    policy_version="rank-1",
    chain_id=99999,
    verifying_contract=CONTRACT,
)


def test_sign_and_recover() -> None:
    signature = sign_decision(ROUTER_KEY, **FIELDS)
    assert signature.startswith("0x") and len(bytes.fromhex(signature[2:])) == 65
    assert recover_signer(signature, **FIELDS) == ROUTER
    assert recover_signer(bytes.fromhex(signature[2:]), **FIELDS) == ROUTER
    assert sign_decision(ROUTER_KEY, **FIELDS) == signature  # RFC 6979: deterministic


def test_wrong_key_is_detected() -> None:
    signature = sign_decision(OTHER_KEY, **FIELDS)
    assert recover_signer(signature, **FIELDS) == Account.from_key(OTHER_KEY).address != ROUTER


@pytest.mark.parametrize(
    "change",
    [
        {"decision_hash": hashlib.sha256(b"another decision").hexdigest()},
        {"request_hash": bytes(32)},
        {"policy_version": "rank-2"},
        {"job_id": "job-other"},
        {"chain_id": 36900},
        {"verifying_contract": ZERO_ADDRESS},
    ],
)
def test_any_changed_field_recovers_another_address(change) -> None:
    signature = sign_decision(ROUTER_KEY, **FIELDS)
    assert recover_signer(signature, **{**FIELDS, **change}) != ROUTER


def test_digest_matches_a_hand_encoded_eip712_hash() -> None:
    """What ComputeRouter (or any Solidity verifier) computes with abi.encode and keccak256."""
    domain_type = keccak(
        text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    domain_separator = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [domain_type, keccak(text=DOMAIN_NAME), keccak(text=DOMAIN_VERSION), 99999, CONTRACT],
        )
    )
    decision_type = keccak(
        text="RoutingDecision(bytes32 jobId,bytes32 decisionHash,bytes32 requestHash,string policyVersion)"
    )
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "bytes32", "bytes32"],
            [
                decision_type,
                b"job-7f3a".ljust(32, b"\x00"),  # Solidity's bytes32("job-7f3a")
                bytes.fromhex(DECISION),
                bytes.fromhex(REQUEST[2:]),
                keccak(text="rank-1"),
            ],
        )
    )
    digest = keccak(b"\x19\x01" + domain_separator + struct_hash)
    assert decision_digest(**FIELDS) == digest
    # and the signature is an ecrecover-able (r, s, v) over exactly that digest
    raw = bytes.fromhex(sign_decision(ROUTER_KEY, **FIELDS)[2:])
    assert raw[64] in (27, 28)
    public_key = keys.Signature(raw[:64] + bytes([raw[64] - 27])).recover_public_key_from_msg_hash(digest)
    assert public_key.to_checksum_address() == ROUTER


def test_typed_data_shape() -> None:
    data = decision_typed_data(**FIELDS)
    assert data["primaryType"] == "RoutingDecision"
    assert data["domain"] == {
        "name": "Necto ComputeRouter",
        "version": "1",
        "chainId": 99999,
        "verifyingContract": CONTRACT,
    }
    assert data["message"]["decisionHash"] == bytes.fromhex(DECISION)
    assert decision_typed_data(**{**FIELDS, "verifying_contract": ZERO_ADDRESS})["domain"][
        "verifyingContract"
    ] == (ZERO_ADDRESS)


def test_job_ids_become_bytes32() -> None:
    assert job_id_bytes32("job_4d3a8f003f31") == b"job_4d3a8f003f31" + bytes(16)
    assert job_id_bytes32("j" * 32) == b"j" * 32
    assert job_id_bytes32(b"\x01" * 32) == b"\x01" * 32
    for bad in ("", "j" * 33, "job\x00x", "é" * 17):
        with pytest.raises(ValueError, match="bytes32"):
            job_id_bytes32(bad)
    with pytest.raises(ValueError, match="32 bytes"):
        job_id_bytes32(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        decision_typed_data(**{**FIELDS, "decision_hash": "abcd"})


def test_garbage_signatures_raise_value_error() -> None:
    with pytest.raises(ValueError, match="65 bytes"):
        recover_signer("0x1234", **FIELDS)
    with pytest.raises(ValueError, match="not a valid signature"):
        recover_signer("0x" + "00" * 64 + "1b", **FIELDS)
