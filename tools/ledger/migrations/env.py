"""Alembic environment for the ledger.

At runtime ``tools.ledger.migrate`` hands over an open connection (``config.attributes["connection"]``)
that already holds the migration lock; from the command line (``python -m tools.ledger.migrate ...``)
an engine is built from ``sqlalchemy.url``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import tools.ledger.models  # noqa: F401 - registers the ledger tables on SQLModel.metadata

config = context.config
target_metadata = SQLModel.metadata
# SQLite can ALTER little in place: autogenerate writes batch operations, which copy the table when needed.
options = {"target_metadata": target_metadata, "render_as_batch": True, "compare_type": True}


def run(connection) -> None:
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    run(given)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
