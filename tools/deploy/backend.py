"""The chain backend interface the deploy state machine talks to.

Akash may move to another chain (akash.md §1): the state machine, the agent and the UI only see this
protocol. ``tools.deploy.akash_backend.AkashBackend`` implements it over the chain REST API, the local
signer and the provider gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tools.deploy.funding import Balances, BmeState


@dataclass(frozen=True)
class IncludedTx:
    tx_hash: str
    height: int
    # Set when the chain backend, not Necto, chose the deployment's dseq (the Console managed-wallet rail
    # picks it server-side): the job then follows the dseq that is on chain.
    dseq: int | None = None


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
class ChainLease:
    """One lease of a deployment as the chain reports it (any state: active, insufficient_funds, closed)."""

    provider: str
    gseq: int
    oseq: int
    bseq: int
    state: str
    price_per_block: Decimal  # in ``denom`` (uact since chain v2; uakt on leases made before it)
    denom: str
    created_height: int
    closed_height: int = 0
    reason: str = ""  # why it ended, e.g. "lease_closed_insufficient_funds" (empty while active)


@dataclass(frozen=True)
class ChainDeployment:
    """One deployment of the signer account as the chain reports it, with its escrow and leases."""

    owner: str
    dseq: int
    state: str
    escrow_left_uact: int  # what is left of the deposit (whole uact; escrow counts in 18-decimal DecCoins)
    created_height: int
    escrow_state: str = ""  # open | overdrawn | closed
    version: str = ""  # the manifest hash (hex) the deployment was created with
    leases: tuple[ChainLease, ...] = ()

    @property
    def active_leases(self) -> tuple[ChainLease, ...]:
        return tuple(lease for lease in self.leases if lease.state == "active")

    @property
    def price_uact_per_block(self) -> Decimal | None:
        """What the active leases draw from escrow per block (0 without one; None if one is not priced in uact)."""
        active = self.active_leases
        if any(lease.denom != "uact" for lease in active):
            return None
        return sum((lease.price_per_block for lease in active), Decimal(0))


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

    def mint_act_body(self, *, burn_uakt: int) -> bytes:
        """MsgMintACT burning ``burn_uakt`` for ACT to the signer account (akash.md §1)."""

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

    async def balances(self) -> Balances:
        """The signer account's spendable uact and uakt."""

    async def bme_state(self) -> BmeState:
        """Whether the chain mints ACT right now (the BME circuit breaker)."""

    async def send_manifest(self, host_uri: str, dseq: int, manifest_json: bytes) -> None: ...

    async def lease_readiness(self, host_uri: str, dseq: int, gseq: int, oseq: int) -> LeaseReadiness | None: ...

    def logs(
        self, host_uri: str, dseq: int, gseq: int, oseq: int, *, tail: int, follow: bool, services: list[str] | None
    ) -> AsyncIterator[dict[str, str]]: ...

    async def block_time_s(self) -> Decimal: ...

    async def akt_usd(self) -> Decimal | None:
        """AKT/USD from the chain's oracle (akash.md §6), or None when it has no price."""

    async def open_deployments(self) -> list[ChainDeployment]:
        """Every active deployment of the signer account, with its escrow left and its leases (for
        reconciling the ledger with the chain: tools.deploy.reconcile)."""
