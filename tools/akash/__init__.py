"""Akash chain and provider client (framework-free): REST queries, message builders, signing, txs, JWTs,
provider gateway. Names are re-exported lazily so importing ``tools.akash`` loads no protobufs.

    from tools.akash import AkashRest, TxClient, LocalKeySigner, ProviderGateway, create_jwt
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AkashRest": "rest",
    "TxResponse": "rest",
    "TxClient": "tx",
    "PreparedTx": "tx",
    "LocalKeySigner": "signer",
    "TxSigner": "signer",
    "ProviderGateway": "gateway",
    "LeaseStatus": "gateway",
    "LogLine": "gateway",
    "create_jwt": "jwt",
    "verify_jwt": "jwt",
    "describe_messages": "messages",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tools.akash' has no attribute {name!r}")
    return getattr(importlib.import_module(f"tools.akash.{module}"), name)
