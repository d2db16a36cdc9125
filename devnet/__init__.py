"""Necto's local Akash devnet: chain REST, simulated providers and their gateways (see devnet/WIRE.md).

``start_devnet(...) -> DevnetHandle`` runs everything in a background thread; ``serve_devnet_forever``
and ``main`` run it as a standalone process.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DevnetHandle", "serve_devnet_forever", "start_devnet"]


def __getattr__(name: str) -> Any:
    # Lazy: importing devnet.chain or devnet.txdecode should not pull in uvicorn.
    if name in __all__:
        from devnet import server

        return getattr(server, name)
    raise AttributeError(name)
