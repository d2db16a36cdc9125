"""Ledger tables.

Money columns hold integer micro-units (uact, uakt) or decimal strings (per-block prices can be
fractional); never floats. JSON columns hold canonical JSON text produced by code.
"""

from __future__ import annotations

from datetime import UTC, datetime

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
    dseq: int = 0
    gseq: int = 1
    oseq: int = 1
    bseq: int = 0
    provider: str = ""  # provider owner address
    provider_name: str = ""
    provider_host: str = ""
    max_price_uact_per_block: str = "0"
    price_uact_per_block: str = ""  # the accepted bid
    deposit_uact: int = 0
    create_tx_hash: str = ""
    lease_tx_hash: str = ""
    close_tx_hash: str = ""
    uris_json: str = "[]"
    refund_uact: int | None = None
    error: str = ""
    note: str = ""
    tracked: bool = False
    recorded_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    running_at: datetime | None = None
    closed_at: datetime | None = None


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
