"""The schema Ledger made with SQLModel.metadata.create_all before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2025-06-01

A database made by that code has these tables and no alembic_version; ``tools.ledger.migrate`` stamps it
at 0001. One made before ``blockedoffer`` existed lacks that table (create_all used to add it at start-up),
so this revision creates only the tables that are missing and such a database is upgraded through it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def _at() -> sa.DateTime:
    # sqlmodel's UTCDateTime: timestamptz on PostgreSQL, UTC text on SQLite.
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    if _missing("plan"):
        op.create_table(
            "plan",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("owner", sa.String(), nullable=False),
            sa.Column("kind", sa.String(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("plan_hash", sa.String(), nullable=False),
            sa.Column("body_json", sa.String(), nullable=False),
            sa.Column("tx_body_b64", sa.String(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=True),
            sa.Column("created_at", _at(), nullable=False),
            sa.Column("expires_at", _at(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_plan_job_id", "plan", ["job_id"])
        op.create_index("ix_plan_owner", "plan", ["owner"])
    if _missing("job"):
        op.create_table(
            "job",
            sa.Column("id", sa.String(), nullable=False),
            sa.Column("owner", sa.String(), nullable=False),
            sa.Column("plan_id", sa.String(), nullable=False),
            sa.Column("state", sa.String(), nullable=False),
            sa.Column("network", sa.String(), nullable=False),
            sa.Column("chain_id", sa.String(), nullable=False),
            sa.Column("account", sa.String(), nullable=False),
            sa.Column("workload", sa.String(), nullable=False),
            sa.Column("request_json", sa.String(), nullable=False),
            sa.Column("manifest_json", sa.String(), nullable=False),
            sa.Column("manifest_hash", sa.String(), nullable=False),
            sa.Column("dseq", sa.Integer(), nullable=False),
            sa.Column("gseq", sa.Integer(), nullable=False),
            sa.Column("oseq", sa.Integer(), nullable=False),
            sa.Column("bseq", sa.Integer(), nullable=False),
            sa.Column("provider", sa.String(), nullable=False),
            sa.Column("provider_name", sa.String(), nullable=False),
            sa.Column("provider_host", sa.String(), nullable=False),
            sa.Column("max_price_uact_per_block", sa.String(), nullable=False),
            sa.Column("price_uact_per_block", sa.String(), nullable=False),
            sa.Column("deposit_uact", sa.Integer(), nullable=False),
            sa.Column("create_tx_hash", sa.String(), nullable=False),
            sa.Column("lease_tx_hash", sa.String(), nullable=False),
            sa.Column("close_tx_hash", sa.String(), nullable=False),
            sa.Column("uris_json", sa.String(), nullable=False),
            sa.Column("refund_uact", sa.Integer(), nullable=True),
            sa.Column("error", sa.String(), nullable=False),
            sa.Column("note", sa.String(), nullable=False),
            sa.Column("tracked", sa.Boolean(), nullable=False),
            sa.Column("recorded_at", _at(), nullable=True),
            sa.Column("created_at", _at(), nullable=False),
            sa.Column("updated_at", _at(), nullable=False),
            sa.Column("running_at", _at(), nullable=True),
            sa.Column("closed_at", _at(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        # create_all made the unique plan_id a unique index, not a constraint: keep it that way.
        op.create_index("ix_job_plan_id", "job", ["plan_id"], unique=True)
        op.create_index("ix_job_state", "job", ["state"])
        op.create_index("ix_job_owner", "job", ["owner"])
    if _missing("jobevent"):
        op.create_table(
            "jobevent",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("state", sa.String(), nullable=False),
            sa.Column("message", sa.String(), nullable=False),
            sa.Column("data_json", sa.String(), nullable=False),
            sa.Column("at", _at(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_jobevent_job_id", "jobevent", ["job_id"])
    if _missing("auditentry"):
        op.create_table(
            "auditentry",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("owner", sa.String(), nullable=False),
            sa.Column("action", sa.String(), nullable=False),
            sa.Column("plan_id", sa.String(), nullable=False),
            sa.Column("plan_hash", sa.String(), nullable=False),
            sa.Column("tx_hash", sa.String(), nullable=False),
            sa.Column("result", sa.String(), nullable=False),
            sa.Column("at", _at(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_auditentry_owner", "auditentry", ["owner"])
    if _missing("blockedoffer"):
        op.create_table(
            "blockedoffer",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("owner", sa.String(), nullable=False),
            sa.Column("offer_id", sa.String(), nullable=False),
            sa.Column("reason", sa.String(), nullable=False),
            sa.Column("job_id", sa.String(), nullable=False),
            sa.Column("at", _at(), nullable=False),
            sa.Column("until", _at(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_blockedoffer_offer_id", "blockedoffer", ["offer_id"])
        op.create_index("ix_blockedoffer_owner", "blockedoffer", ["owner"])


def downgrade() -> None:
    for table in ("blockedoffer", "auditentry", "jobevent", "job", "plan"):
        op.drop_table(table)
