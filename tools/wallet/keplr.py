"""Keplr/Leap ``signDirect``: the request the page hands the wallet, and the check of what comes back.

The server builds every byte (``TxClient.prepare``); the page only passes them to the wallet with
``preferNoSetFee`` and ``preferNoSetMemo`` so the wallet keeps Necto's fee and memo. What the wallet
returns is untrusted: :func:`verify_direct_response` accepts it only if

- the signature's public key is the connected wallet's key, and its address is the connected address;
- the returned chain id and account number are the prepared ones;
- the returned body carries exactly the prepared messages and memo (canonical encodings compared, so a
  re-encoded but equal body passes and anything else fails), with no timeout height or extensions;
- the returned auth info has one signer with that key, SIGN_MODE_DIRECT, the prepared sequence, and
  exactly the prepared fee amount, denom and gas limit (no payer, granter or tip);
- the signature verifies over the SignDoc of the returned bytes (low-S, 64 bytes).

The TxRaw is then assembled from the returned bytes (the signature covers them).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import cosmpy.protos  # noqa: F401  (registers the cosmos.* generated modules)
from cosmos.crypto.secp256k1 import keys_pb2
from cosmos.tx.signing.v1beta1 import signing_pb2
from cosmos.tx.v1beta1 import tx_pb2
from google.protobuf.message import DecodeError

from tools.akash import messages
from tools.akash.jwt import address_from_public_key
from tools.akash.signer import SignedDoc, build_sign_doc, verify_signature
from tools.akash.tx import PreparedTx
from tools.errors import PolicyDenied
from tools.wallet.errors import WalletMismatch, WrongNetwork

__all__ = ["PUBKEY_TYPE", "decode_b64", "direct_sign_request", "public_key_from_wallet", "verify_direct_response"]

PUBKEY_TYPE = "tendermint/PubKeySecp256k1"  # the amino name wallets use in StdSignature.pub_key
_PUBKEY_TYPE_URL = "/cosmos.crypto.secp256k1.PubKey"
_MAX_B64 = 1_000_000  # a deployment body is a few KB; anything this large is not ours


def decode_b64(value: Any, what: str) -> bytes:
    """Standard or URL-safe base64 from the page, or ``WalletMismatch``."""
    if not isinstance(value, str) or not value or len(value) > _MAX_B64:
        raise WalletMismatch(f"The wallet's answer has no usable {what}; it was not broadcast.")
    text = value.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WalletMismatch(f"The wallet's {what} is not base64; it was not broadcast.") from None


def public_key_from_wallet(pub_key: Any) -> bytes:
    """The 33-byte key from a StdSignature ``pub_key`` ({type, value}) or a plain base64 string."""
    if isinstance(pub_key, Mapping):
        if pub_key.get("type", PUBKEY_TYPE) != PUBKEY_TYPE:
            raise WalletMismatch("The wallet signed with a key that is not secp256k1; it was not broadcast.")
        pub_key = pub_key.get("value")
    key = decode_b64(pub_key, "public key")
    if len(key) != 33 or key[0] not in (2, 3):
        raise WalletMismatch("The wallet's public key is not a compressed secp256k1 key; it was not broadcast.")
    return key


def _summary(prepared: PreparedTx) -> dict[str, Any]:
    """A few lines decoded by code from the exact bytes, for the signing prompt (not the model's words)."""
    lines = []
    for message in messages.describe_messages(prepared.body_bytes):
        fields = message["fields"]
        kind = message["type"]
        if kind == "MsgCreateDeployment":
            deposit = ((fields.get("deposit") or {}).get("amount") or {})
            amount = Decimal(deposit.get("amount") or 0) / Decimal(1_000_000)
            lines.append(f"Create deployment {fields['id']['dseq']} with a deposit of {amount:f} ACT")
        elif kind == "MsgCreateLease":
            bid = fields["bid_id"]
            lines.append(f"Create a lease on deployment {bid['dseq']} with provider {bid['provider']}")
        elif kind == "MsgCloseDeployment":
            lines.append(f"Close deployment {fields['id']['dseq']} (the escrow left is refunded)")
        else:
            lines.append(kind)
    fee = Decimal(prepared.fee_uakt) / Decimal(1_000_000)
    return {
        "lines": lines,
        "fee": f"{fee:f} AKT ({prepared.fee_uakt} {prepared.fee_denom})",
        "gas": prepared.gas_limit,
        "memo": prepared.memo,
    }


def direct_sign_request(prepared: PreparedTx, *, signer_address: str) -> dict[str, Any]:
    """The JSON the page hands to ``keplr.signDirect`` (bytes base64, the account number a string)."""
    messages.assert_signable(prepared.body_bytes, signer_address)
    return {
        "kind": "direct",
        "chainId": prepared.chain_id,
        "signer": signer_address,
        "signDoc": {
            "bodyBytes": base64.b64encode(prepared.body_bytes).decode("ascii"),
            "authInfoBytes": base64.b64encode(prepared.auth_info_bytes).decode("ascii"),
            "chainId": prepared.chain_id,
            "accountNumber": str(prepared.account_number),
        },
        "summary": _summary(prepared),
    }


def _same_body(prepared: PreparedTx, body_bytes: bytes, address: str) -> None:
    try:
        messages.assert_signable(body_bytes, address)  # canonical, allow-listed, owned by this address
    except PolicyDenied as exc:
        raise WalletMismatch(f"The wallet returned a transaction Necto would not sign ({exc.message}).") from None
    signed = tx_pb2.TxBody.FromString(body_bytes)
    ours = tx_pb2.TxBody.FromString(prepared.body_bytes)
    # Both are canonical encodings, so equal messages have equal bytes.
    if [(m.type_url, m.value) for m in signed.messages] != [(m.type_url, m.value) for m in ours.messages]:
        raise WalletMismatch("The wallet changed the messages you confirmed; the transaction was not broadcast.")
    if signed.memo != ours.memo:
        raise WalletMismatch("The wallet changed the memo; the transaction was not broadcast.")
    if signed.timeout_height != ours.timeout_height:
        raise WalletMismatch("The wallet added a timeout height; the transaction was not broadcast.")


def _same_auth_info(prepared: PreparedTx, auth_info_bytes: bytes, public_key: bytes) -> None:
    auth_info = tx_pb2.AuthInfo()
    try:
        auth_info.ParseFromString(auth_info_bytes)
    except DecodeError:
        raise WalletMismatch("The wallet's auth info does not decode; the transaction was not broadcast.") from None
    if auth_info.HasField("tip") or auth_info.fee.payer or auth_info.fee.granter:
        raise WalletMismatch("The wallet added a tip, fee payer or fee granter; the transaction was not broadcast.")
    fee = [(c.denom, c.amount) for c in auth_info.fee.amount]
    if fee != [(prepared.fee_denom, str(prepared.fee_uakt))] or auth_info.fee.gas_limit != prepared.gas_limit:
        raise WalletMismatch(
            f"The wallet changed the fee or gas (to {', '.join(a + d for d, a in fee) or 'none'}, "
            f"{auth_info.fee.gas_limit} gas; you confirmed {prepared.fee_uakt}{prepared.fee_denom}, "
            f"{prepared.gas_limit} gas); the transaction was not broadcast.",
            hint="Keep the fee Necto set (the page asks the wallet not to change it), then say 'resume'.",
        )
    if len(auth_info.signer_infos) != 1:
        raise WalletMismatch("The wallet returned several signers; the transaction was not broadcast.")
    info = auth_info.signer_infos[0]
    if info.public_key.type_url != _PUBKEY_TYPE_URL:
        raise WalletMismatch("The wallet's signer is not a secp256k1 key; the transaction was not broadcast.")
    if keys_pb2.PubKey.FromString(info.public_key.value).key != public_key:
        raise WalletMismatch("The wallet put another signer in the transaction; it was not broadcast.")
    if info.mode_info.single.mode != signing_pb2.SIGN_MODE_DIRECT:
        raise WalletMismatch("The wallet did not sign in direct mode; the transaction was not broadcast.")
    if info.sequence != prepared.sequence:
        raise WalletMismatch("The wallet changed the account sequence; the transaction was not broadcast.")


def verify_direct_response(
    prepared: PreparedTx, response: Mapping[str, Any], *, address: str, public_key: bytes
) -> SignedDoc:
    """Check a ``signDirect`` answer against what was prepared (module docstring); the bytes to broadcast.

    ``response``: ``{"signed": {"bodyBytes", "authInfoBytes", "chainId", "accountNumber"},
    "signature": {"pub_key": {"type", "value"}, "signature"}}`` with base64 bytes. Raises ``WalletMismatch``
    (or ``WrongNetwork`` for another chain id) with a sentence saying what differed.
    """
    if not isinstance(response, Mapping):
        raise WalletMismatch("The wallet's answer is not a signed transaction; it was not broadcast.")
    signed = response.get("signed")
    signature_block = response.get("signature")
    if not isinstance(signed, Mapping) or not isinstance(signature_block, Mapping):
        raise WalletMismatch("The wallet's answer is not a signed transaction; it was not broadcast.")

    returned_key = public_key_from_wallet(signature_block.get("pub_key"))
    if returned_key != bytes(public_key) or address_from_public_key(returned_key) != address:
        raise WalletMismatch(
            "The transaction was signed by another account than the connected wallet; it was not broadcast.",
            hint="Switch the wallet back to the account you connected (or reconnect), then say 'resume'.",
        )
    chain_id = signed.get("chainId")
    if chain_id != prepared.chain_id:
        raise WrongNetwork(
            f"The wallet signed for chain {str(chain_id)[:40]!r}, not {prepared.chain_id!r}; nothing was broadcast."
        )
    if str(signed.get("accountNumber")) != str(prepared.account_number):
        raise WalletMismatch("The wallet signed for another account number; the transaction was not broadcast.")

    body_bytes = decode_b64(signed.get("bodyBytes"), "transaction body")
    auth_info_bytes = decode_b64(signed.get("authInfoBytes"), "auth info")
    _same_body(prepared, body_bytes, address)
    _same_auth_info(prepared, auth_info_bytes, returned_key)

    signature = decode_b64(signature_block.get("signature"), "signature")
    doc = build_sign_doc(body_bytes, auth_info_bytes, prepared.chain_id, prepared.account_number)
    if not verify_signature(returned_key, doc, signature):
        raise WalletMismatch("The wallet's signature does not verify; the transaction was not broadcast.")
    return SignedDoc(body_bytes=body_bytes, auth_info_bytes=auth_info_bytes, signature=signature)
