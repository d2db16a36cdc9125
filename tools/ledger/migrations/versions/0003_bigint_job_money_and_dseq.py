"""Job dseq and deposit/refund columns as BIGINT.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

Akash dseqs are block heights or millisecond timestamps (Necto uses Console's convention, ~1.8e12) and
deposits are micro-units: both overflow PostgreSQL's 32-bit INTEGER, which 0001 inherited from the old
``create_all`` schema. SQLite's INTEGER is already 64-bit; batch mode keeps its schema in step anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (("dseq", False), ("deposit_uact", False), ("refund_uact", True))


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        for name, nullable in COLUMNS:
            batch.alter_column(name, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=nullable)


def downgrade() -> None:
    with op.batch_alter_table("job") as batch:
        for name, nullable in COLUMNS:
            batch.alter_column(name, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=nullable)
