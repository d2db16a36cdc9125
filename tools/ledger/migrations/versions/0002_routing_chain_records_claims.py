"""Routing decisions, deployments, leases and transactions; job claims for background work.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-02

Only additions: new tables, and three nullable columns on ``job`` (SQLite adds those in place; batch
mode would copy the table only for the downgrade's column drops).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routingdecision",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("plan_id", sa.String(), nullable=True),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("policy_version", sa.String(), nullable=False),
        sa.Column("snapshot_json", sa.Text(), nullable=False),
        sa.Column("snapshot_sha256", sa.String(), nullable=False),
        sa.Column("decision_json", sa.Text(), nullable=False),
        sa.Column("decision_sha256", sa.String(), nullable=False),
        sa.Column("chosen_offer_id", sa.String(), nullable=True),
        sa.Column("router_signature", sa.String(), nullable=False),
        sa.Column("trace_ref", sa.String(), nullable=False),
        sa.Column("on_chain_tx", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_routingdecision_owner", "routingdecision", ["owner"])
    op.create_index("ix_routingdecision_plan_id", "routingdecision", ["plan_id"])
    op.create_index("ix_routingdecision_job_id", "routingdecision", ["job_id"])

    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("owner_address", sa.String(), nullable=False),
        sa.Column("network", sa.String(), nullable=False),
        sa.Column("chain_id", sa.String(), nullable=False),
        sa.Column("dseq", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("deposit_uact", sa.BigInteger(), nullable=False),
        sa.Column("escrow_balance_uact", sa.BigInteger(), nullable=False),
        sa.Column("escrow_transferred_uact", sa.BigInteger(), nullable=False),
        sa.Column("created_height", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("closed_at", _at(), nullable=True),
        sa.Column("last_seen_at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("chain_id", "owner_address", "dseq", name="uq_deployment_chain_owner_dseq"),
    )
    op.create_index("ix_deployment_owner", "deployment", ["owner"])
    op.create_index("ix_deployment_owner_address", "deployment", ["owner_address"])
    op.create_index("ix_deployment_job_id", "deployment", ["job_id"])
    op.create_index("ix_deployment_state", "deployment", ["state"])

    op.create_table(
        "lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("dseq", sa.BigInteger(), nullable=False),
        sa.Column("gseq", sa.Integer(), nullable=False),
        sa.Column("oseq", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("price_uact_per_block", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("closed_at", _at(), nullable=True),
        sa.Column("last_seen_at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployment.id"], name="fk_lease_deployment"),
        sa.UniqueConstraint("deployment_id", "gseq", "oseq", "provider", name="uq_lease_deployment_order_provider"),
    )
    op.create_index("ix_lease_deployment_id", "lease", ["deployment_id"])
    op.create_index("ix_lease_job_id", "lease", ["job_id"])

    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("chain", sa.String(), nullable=False),
        sa.Column("chain_id", sa.String(), nullable=False),
        sa.Column("tx_hash", sa.String(), nullable=False),
        sa.Column("height", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.Column("at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_transactions_job_id", "transactions", ["job_id"])
    op.create_index("ix_transactions_owner", "transactions", ["owner"])
    op.create_index("ix_transactions_tx_hash", "transactions", ["tx_hash"])

    with op.batch_alter_table("job") as batch:
        batch.add_column(sa.Column("routing_decision_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(), nullable=True))
        batch.add_column(sa.Column("claimed_until", _at(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
        batch.drop_column("routing_decision_id")
    for table in ("transactions", "lease", "deployment", "routingdecision"):
        op.drop_table(table)  # dropping a table drops its indexes
