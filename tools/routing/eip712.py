"""EIP-712 typed data for a routing decision, signed by Necto's router key.

Domain: ``{name: "Necto ComputeRouter", version: "1", chainId, verifyingContract}`` (the ComputeRouter
address; the zero address when it is not known yet). Primary type::

    RoutingDecision(bytes32 jobId,bytes32 decisionHash,bytes32 requestHash,string policyVersion)

``decisionHash`` and ``requestHash`` are the 32-byte values of ``DecisionRecord.decision_hash`` and
``request_hash(request)`` (tools.routing.decision), the same bytes a tracked job records on chain. ``jobId``
is the job's on-chain key: Necto's id as UTF-8, left-aligned and zero-padded to 32 bytes (Solidity's
``bytes32("job_4d3a8f003f31")``, the layout tools.router uses), or 32 bytes given as such (``job_id_bytes32``).

Signatures are 65 bytes ``r || s || v`` (v = 27 or 28) as ``0x`` hex, what ``ecrecover`` and OpenZeppelin's
``ECDSA.recover`` take; the signed digest is ``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))``
(``decision_digest``).
"""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak

DOMAIN_NAME = "Necto ComputeRouter"
DOMAIN_VERSION = "1"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
PRIMARY_TYPE = "RoutingDecision"
TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    PRIMARY_TYPE: [
        {"name": "jobId", "type": "bytes32"},
        {"name": "decisionHash", "type": "bytes32"},
        {"name": "requestHash", "type": "bytes32"},
        {"name": "policyVersion", "type": "string"},
    ],
}


def as_bytes32(value: bytes | str, what: str = "value") -> bytes:
    """32 raw bytes from bytes or hex (``0x`` optional); ValueError for anything else."""
    if isinstance(value, str):
        text = value.removeprefix("0x").removeprefix("0X")
        try:
            value = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{what} is not hex: {value!r}") from None
    if len(value) != 32:
        raise ValueError(f"{what} must be 32 bytes, got {len(value)}")
    return bytes(value)


def job_id_bytes32(job_id: str | bytes) -> bytes:
    """The job's ``bytes32`` key: 32 bytes pass through; a string is its UTF-8, left-aligned, zero-padded.

    Raises:
        ValueError: bytes that are not 32 long, or a string that is empty, longer than 32 bytes in UTF-8 or
            not printable (it could not round-trip through the contract).
    """
    if isinstance(job_id, bytes):
        return as_bytes32(job_id, "job id")
    raw = job_id.encode("utf-8")
    if not raw or len(raw) > 32 or not job_id.isprintable():
        raise ValueError(f"job id {job_id!r} must be 1 to 32 bytes of printable UTF-8 to fit a bytes32")
    return raw.ljust(32, b"\x00")


def decision_typed_data(
    *,
    job_id: str | bytes,
    decision_hash: bytes | str,
    request_hash: bytes | str,
    policy_version: str,
    chain_id: int,
    verifying_contract: str = ZERO_ADDRESS,
) -> dict[str, Any]:
    """The full EIP-712 message (``types``, ``primaryType``, ``domain``, ``message``) for one decision."""
    return {
        "types": TYPES,
        "primaryType": PRIMARY_TYPE,
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": int(chain_id),
            "verifyingContract": verifying_contract,
        },
        "message": {
            "jobId": job_id_bytes32(job_id),
            "decisionHash": as_bytes32(decision_hash, "decision hash"),
            "requestHash": as_bytes32(request_hash, "request hash"),
            "policyVersion": policy_version,
        },
    }


def _signable(**decision: Any) -> SignableMessage:
    return encode_typed_data(full_message=decision_typed_data(**decision))


# The functions below take the keyword arguments of ``decision_typed_data`` (job_id, decision_hash,
# request_hash, policy_version, chain_id, verifying_contract) as ``**decision``.


def decision_digest(**decision: Any) -> bytes:
    """The 32-byte EIP-712 digest that is signed (what a contract passes to ``ecrecover``)."""
    message = _signable(**decision)
    return keccak(b"\x19" + message.version + message.header + message.body)


def sign_decision(private_key: bytes | str, **decision: Any) -> str:
    """Sign a routing decision with the router key; returns the 65-byte signature as ``0x`` hex."""
    signed = Account.sign_message(_signable(**decision), private_key)
    return "0x" + bytes(signed.signature).hex()


def recover_signer(signature: bytes | str, **decision: Any) -> str:
    """The checksum address that signed this decision (any other message or domain gives another address).

    Raises:
        ValueError: the signature is not 65 bytes of hex or not a valid secp256k1 signature.
    """
    raw = bytes.fromhex(signature.removeprefix("0x")) if isinstance(signature, str) else bytes(signature)
    if len(raw) != 65:
        raise ValueError(f"a signature is 65 bytes (r, s, v), got {len(raw)}")
    message = _signable(**decision)
    try:
        return str(Account.recover_message(message, signature=raw))
    except Exception as exc:  # eth_keys raises BadSignature, ValidationError, ... for garbage
        raise ValueError(f"not a valid signature: {exc}") from exc


__all__ = [
    "DOMAIN_NAME",
    "DOMAIN_VERSION",
    "PRIMARY_TYPE",
    "TYPES",
    "ZERO_ADDRESS",
    "as_bytes32",
    "decision_digest",
    "decision_typed_data",
    "job_id_bytes32",
    "recover_signer",
    "sign_decision",
]
