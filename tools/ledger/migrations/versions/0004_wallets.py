"""Browser wallets connected in the web chat.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

One row per (owner, chain id, address): the public key (hex) the sign-in verified, the wallet's name,
whether it is a Ledger account (those cannot sign in direct mode), and when it was last connected. No
secret is ever stored: keys stay in the wallet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("public_key_hex", sa.String(), nullable=False),
        sa.Column("chain_id", sa.String(), nullable=False),
        sa.Column("wallet", sa.String(), nullable=False),
        sa.Column("is_ledger", sa.Boolean(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("owner", "chain_id", "address", name="uq_wallet_owner_chain_address"),
    )
    op.create_index("ix_wallet_owner", "wallet", ["owner"])
    op.create_index("ix_wallet_address", "wallet", ["address"])


def downgrade() -> None:
    op.drop_table("wallet")  # dropping a table drops its indexes
