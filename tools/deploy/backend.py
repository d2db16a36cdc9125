"""The chain backend interface the deploy state machine talks to.

Akash may move to another chain (akash.md §1): the state machine, the agent and the UI only see this
protocol. ``tools.deploy.akash_backend.AkashBackend`` implements it over the chain REST API, the local
signer and the provider gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class IncludedTx:
    tx_hash: str
    height: int


@dataclass(frozen=True)
class Bid:
    provider: str
    gseq: int
    oseq: int
    bseq: int
    price_uact_per_block: Decimal
    denom: str
    created_height: int
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class LeaseReadiness:
    ready: bool
    uris: list[str]
    forwarded_ports: list[dict[str, Any]]
    services: dict[str, Any]


class ChainBackend(Protocol):
    network: str
    chain_id: str

    @property
    def address(self) -> str: ...

    async def ensure_funds(self, *, need_uact: int) -> None:
        """Make sure the account can pay ``need_uact`` plus fees (sandbox: use the faucet; else raise)."""

    def create_deployment_body(
        self, *, dseq: int, groups: list[dict[str, Any]], manifest_hash: bytes, deposit_uact: int
    ) -> bytes: ...

    def create_lease_body(self, *, dseq: int, gseq: int, oseq: int, provider: str, bseq: int) -> bytes: ...

    def close_deployment_body(self, *, dseq: int) -> bytes: ...

    def describe(self, body: bytes) -> list[dict[str, Any]]:
        """Decode exactly these TxBody bytes into readable messages (for the card and checks)."""

    async def sign_and_send(self, body: bytes, *, on_signed: Callable[[str], None]) -> IncludedTx:
        """Sign ``body`` (after the allow-list check), call ``on_signed(tx_hash)`` before broadcasting,
        broadcast and wait for inclusion."""

    async def find_tx(self, tx_hash: str) -> IncludedTx | None: ...

    async def deployment_state(self, dseq: int) -> str | None:
        """'active' | 'closed' | None (not on chain)."""

    async def lease_state(self, dseq: int) -> str | None: ...

    async def escrow_left_uact(self, dseq: int) -> int | None:
        """What is left of the deployment's escrow deposit (None when the deployment is not on chain)."""

    async def latest_height(self) -> int: ...

    async def bids(self, dseq: int) -> list[Bid]: ...

    async def provider_info(self, provider: str) -> dict[str, Any]: ...

    async def uact_balance(self) -> int: ...

    async def send_manifest(self, host_uri: str, dseq: int, manifest_json: bytes) -> None: ...

    async def lease_readiness(self, host_uri: str, dseq: int, gseq: int, oseq: int) -> LeaseReadiness | None: ...

    def logs(
        self, host_uri: str, dseq: int, gseq: int, oseq: int, *, tail: int, follow: bool, services: list[str] | None
    ) -> AsyncIterator[dict[str, str]]: ...

    async def block_time_s(self) -> Decimal: ...

    async def akt_usd(self) -> Decimal | None:
        """AKT/USD from the chain's oracle (akash.md §6), or None when it has no price."""
