"""A stand-in for Keplr that signs with a real secp256k1 key, in Python.

It answers the same requests the page hands ``window.keplr`` (``signDirect`` / ``signArbitrary``), in the
JSON shape the page sends back (bytes as base64), so the server's checks run against real signatures.
``tamper`` lets a test play a wallet that changes what it signs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import coincurve
import cosmpy.protos  # noqa: F401
from cosmos.tx.v1beta1 import tx_pb2

from tools.akash.jwt import address_from_public_key, adr36_sign_bytes

PUBKEY_TYPE = "tendermint/PubKeySecp256k1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign_bytes(key: coincurve.PrivateKey, message: bytes) -> bytes:
    return key.sign_recoverable(message, hasher=lambda m: hashlib.sha256(m).digest())[:64]


class PythonWallet:
    """Keplr's signing API over a coincurve key. ``requests`` records every request it was asked."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.key = coincurve.PrivateKey(secret) if secret else coincurve.PrivateKey()
        self.public_key = self.key.public_key.format(compressed=True)
        self.address = address_from_public_key(self.public_key)
        self.requests: list[dict[str, Any]] = []
        self.tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.refuse: str | None = None  # an error code to answer with instead of signing

    def sign_arbitrary(self, signer: str, data: str) -> dict[str, Any]:
        signature = sign_bytes(self.key, adr36_sign_bytes(signer, data.encode("utf-8")))
        return {"pub_key": {"type": PUBKEY_TYPE, "value": b64(self.public_key)}, "signature": b64(signature)}

    def sign_direct(self, doc: dict[str, Any]) -> dict[str, Any]:
        sign_doc = tx_pb2.SignDoc(
            body_bytes=base64.b64decode(doc["bodyBytes"]), auth_info_bytes=base64.b64decode(doc["authInfoBytes"]),
            chain_id=doc["chainId"], account_number=int(doc["accountNumber"]),
        ).SerializeToString()
        return {
            "signed": dict(doc),
            "signature": {"pub_key": {"type": PUBKEY_TYPE, "value": b64(self.public_key)},
                          "signature": b64(sign_bytes(self.key, sign_doc))},
        }

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """What ``ui/wallet.py``'s ask returns: the wallet's answer, or ``{"error": code}``."""
        self.requests.append(request)
        if self.refuse:
            return {"error": self.refuse, "message": "Request rejected"}
        if request["kind"] == "arbitrary":
            return self.sign_arbitrary(request["signer"], request["data"])
        doc = dict(request["signDoc"])
        if self.tamper is not None:
            doc = self.tamper(doc)
        return self.sign_direct(doc)

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.requests]
