"""Ledger tables.

Money columns hold integer micro-units (uact, uakt) or decimal strings (per-block prices can be
fractional); never floats. JSON columns hold canonical JSON text produced by code.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Plan(SQLModel, table=True):
    """A plan code built and stored: what will be signed if the user approves it."""

    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    kind: str  # "deploy" | "close"
    status: str = Field(default="proposed")  # proposed | executing | executed | rejected | expired
    plan_hash: str
    body_json: str  # canonical JSON of everything the card shows and the executor needs
    tx_body_b64: str = ""  # the exact TxBody bytes the signer will sign
    job_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None


class Job(SQLModel, table=True):
    """One deployment Necto started (or was asked to track), from plan to closed."""

    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    plan_id: str = Field(index=True, unique=True)
    state: str = Field(default="confirmed", index=True)
    network: str
    chain_id: str
    account: str = ""  # the chain address that owns the deployment
    workload: str = ""
    request_json: str = "{}"
    manifest_json: str = ""
    manifest_hash: str = ""
    dseq: int = Field(default=0, sa_type=BigInteger)  # ~1.8e12 (ms timestamps): past INTEGER
    gseq: int = 1
    oseq: int = 1
    bseq: int = 0
    provider: str = ""  # provider owner address
    provider_name: str = ""
    provider_host: str = ""
    max_price_uact_per_block: str = "0"
    price_uact_per_block: str = ""  # the accepted bid
    deposit_uact: int = Field(default=0, sa_type=BigInteger)
    create_tx_hash: str = ""
    lease_tx_hash: str = ""
    close_tx_hash: str = ""
    uris_json: str = "[]"
    refund_uact: int | None = Field(default=None, sa_type=BigInteger)
    error: str = ""
    note: str = ""
    tracked: bool = False
    recorded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    running_at: datetime | None = None
    closed_at: datetime | None = None
    # Revision 0002: the routing decision that chose this job's offer, and the background-work claim
    # (Ledger.claim_jobs): the worker that holds the job and until when; an expired claim is free.
    routing_decision_id: str | None = None
    claimed_by: str | None = None
    claimed_until: datetime | None = None


class JobEvent(SQLModel, table=True):
    """Every state transition of a job, with a sentence a user can read."""

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    state: str
    message: str
    data_json: str = "{}"
    at: datetime = Field(default_factory=utcnow)


class AuditEntry(SQLModel, table=True):
    """security.md rule 7: who confirmed what, with which plan hash and transaction, and the result."""

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    action: str
    plan_id: str = ""
    plan_hash: str = ""
    tx_hash: str = ""
    result: str = ""
    at: datetime = Field(default_factory=utcnow)


class BlockedOffer(SQLModel, table=True):
    """An offer that failed for this owner (no launch, provider down): excluded from quotes until ``until``.

    SkyPilot's failover idea (pricing.md §3): a failed launch blocks that offer and the next quote re-ranks
    without it. Blocks expire, so a provider that was down for an hour gets another chance later.
    """

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    offer_id: str = Field(index=True)
    reason: str
    job_id: str = ""
    at: datetime = Field(default_factory=utcnow)
    until: datetime


class RoutingDecision(SQLModel, table=True):
    """What the router saw and what it chose, stored verbatim so the choice can be replayed and checked.

    ``snapshot_json`` is the canonical JSON (RFC 8785) of the offers and inputs the router ranked,
    ``decision_json`` the canonical JSON of its answer; each ``*_sha256`` is the hex SHA-256 of the UTF-8
    text beside it (the ledger checks this on insert). A decision is made before there is a job, so
    ``plan_id`` and ``job_id`` are filled in when a plan or job adopts it (``Ledger.link_routing_decision``).
    """

    id: str = Field(primary_key=True)  # "dec_<hex>"
    owner: str = Field(index=True)
    plan_id: str | None = Field(default=None, index=True)
    job_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    policy_version: str
    snapshot_json: str = Field(sa_type=Text)
    snapshot_sha256: str = ""
    decision_json: str = Field(sa_type=Text)
    decision_sha256: str = ""
    chosen_offer_id: str | None = None
    router_signature: str = ""
    trace_ref: str = ""
    on_chain_tx: str = ""  # the EVM transaction that recorded this decision, when there is one


class Deployment(SQLModel, table=True):
    """One Akash deployment Necto knows of, keyed as the chain keys it: (chain_id, owner_address, dseq).

    ``job_id`` is empty for a deployment found on chain that Necto did not start. Escrow figures are the
    last ones read from the chain, in micro-units of the escrow denom (uact).
    """

    __table_args__ = (
        UniqueConstraint("chain_id", "owner_address", "dseq", name="uq_deployment_chain_owner_dseq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(default="", index=True)  # the Necto user
    owner_address: str = Field(index=True)  # the chain account that owns the deployment
    network: str
    chain_id: str
    # Akash dseq values are block heights today but any uint64 is valid on chain.
    dseq: int = Field(sa_type=BigInteger)
    job_id: str | None = Field(default=None, index=True)
    state: str = Field(default="active", index=True)  # active | closed
    deposit_uact: int = Field(default=0, sa_type=BigInteger)
    escrow_balance_uact: int = Field(default=0, sa_type=BigInteger)
    escrow_transferred_uact: int = Field(default=0, sa_type=BigInteger)
    created_height: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    last_seen_at: datetime = Field(default_factory=utcnow)


class Lease(SQLModel, table=True):
    """A lease on one order of a deployment, with the provider whose bid was accepted."""

    __table_args__ = (
        UniqueConstraint("deployment_id", "gseq", "oseq", "provider", name="uq_lease_deployment_order_provider"),
    )

    id: int | None = Field(default=None, primary_key=True)
    deployment_id: int = Field(sa_column=Column(ForeignKey("deployment.id", name="fk_lease_deployment"), nullable=False, index=True))
    dseq: int = Field(sa_type=BigInteger)
    gseq: int = 1
    oseq: int = 1
    provider: str
    job_id: str | None = Field(default=None, index=True)
    price_uact_per_block: str = "0"  # decimal string: per-block prices can be fractional
    state: str = Field(default="active")  # active | closed | insufficient_funds
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    last_seen_at: datetime = Field(default_factory=utcnow)


class TxRecord(SQLModel, table=True):
    """Every transaction Necto signed, on Akash or an EVM chain, and what became of it."""

    __tablename__ = "transactions"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str | None = Field(default=None, index=True)
    owner: str = Field(index=True)
    kind: str  # "create deployment" | "create lease" | "close deployment" | "record job (evm)" | ...
    chain: str  # "akash" | "evm"
    chain_id: str
    tx_hash: str = Field(default="", index=True)
    height: int | None = Field(default=None, sa_type=BigInteger)  # block height (Akash) or number (EVM)
    status: str = "signed"  # signed | broadcast | included | failed
    error: str = ""
    at: datetime = Field(default_factory=utcnow)


class Wallet(SQLModel, table=True):
    """A browser wallet (Keplr, Leap) a user connected in the web chat, after a verified sign-in.

    Only public data: the address, the compressed public key (hex) and the wallet's name. ``is_ledger``
    accounts are remembered but never asked to sign (a Ledger cannot sign in direct mode).
    """

    __table_args__ = (UniqueConstraint("owner", "chain_id", "address", name="uq_wallet_owner_chain_address"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)  # the Necto user (chat user id)
    address: str = Field(index=True)
    public_key_hex: str
    chain_id: str
    wallet: str = "keplr"  # keplr | leap
    is_ledger: bool = False
    connected_at: datetime = Field(default_factory=utcnow)
