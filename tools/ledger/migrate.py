"""Schema migrations for the ledger: alembic scripts shipped in ``tools/ledger/migrations``, run in code.

``Ledger()`` calls :func:`upgrade_to_head` with its engine; there is no alembic.ini at runtime (the
``Config`` is built here, ``script_location`` is this package's directory).

- **Fast path.** A database already at :data:`HEAD` costs one small query, once per engine URL per
  process (the answer is cached); alembic itself is imported only when something has to change.
- **Legacy databases.** Before migrations, ``Ledger`` ran ``SQLModel.metadata.create_all``: such a
  database has the ledger tables and no ``alembic_version``. It is stamped at revision 0001 (which *is*
  that schema) and upgraded from there. If it predates a table that create_all would have added
  (``blockedoffer``), it is upgraded through 0001 instead, which creates only the missing tables.
- **Several processes starting at once.** On PostgreSQL the check and the upgrade run in one transaction
  holding ``pg_advisory_xact_lock`` (keyed by the current schema; DDL is transactional there), so a second
  process waits, then finds the schema at head. On SQLite the same transaction starts with
  ``BEGIN IMMEDIATE``: the file's write lock serializes the processes (SQLite DDL is transactional too).

By hand: ``python -m tools.ledger <alembic command>`` (``current``, ``history``, ``check``, ``downgrade
0001``, ...) against ``NECTO_DATABASE_URL`` or the default SQLite file. A new revision: change the models,
``python -m tools.ledger revision --autogenerate --rev-id 0003 -m "..."``, review the script (SQLite ALTERs
go through batch mode), then add the id to :data:`REVISIONS` (a test checks both lists agree).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from tools.errors import NectoError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
REVISIONS = ("0001", "0002", "0003", "0004")  # oldest first
HEAD = REVISIONS[-1]
LEGACY_TABLES = ("plan", "job", "jobevent", "auditentry", "blockedoffer")  # what create_all made (0001)

_at_head: set[str] = set()
_at_head_lock = threading.Lock()


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An alembic ``Config`` for the packaged scripts, bound to an open connection (or to a URL, for the CLI)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # configparser interpolates %
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database behind ``engine`` to :data:`HEAD` (create it, stamp a legacy one, or do nothing)."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _at_head:
        return
    with _at_head_lock:
        if key in _at_head:
            return
        with engine.connect() as connection:
            current = _current_revision(connection)
        if current != HEAD:
            _check_known(current)
            _upgrade_locked(engine)
        _at_head.add(key)


def forget(engine_or_url: Engine | str) -> None:
    """Drop the "already at head" memory for a database (after a downgrade, or after deleting it)."""
    url = engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url.render_as_string(hide_password=False)
    with _at_head_lock:
        _at_head.discard(url)


def _upgrade_locked(engine: Engine) -> None:
    from alembic import command

    with engine.begin() as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('necto.ledger.migrate:' || current_schema()))"))
        elif dialect == "sqlite":
            # pysqlite leaves DDL outside transactions; taking the write lock first makes the whole upgrade
            # one transaction that a second process waits for (busy_timeout) instead of racing.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        current = _current_revision(connection)  # again, under the lock: another process may have finished
        if current == HEAD:
            return
        _check_known(current)
        config = alembic_config(connection)
        if current is None:
            present = [t for t in LEGACY_TABLES if inspect(connection).has_table(t)]
            if len(present) == len(LEGACY_TABLES):
                log.info("ledger made before migrations: stamping revision 0001")
                command.stamp(config, "0001")
            elif present:
                log.info("ledger made before migrations, without %s: upgrading through 0001",
                         ", ".join(t for t in LEGACY_TABLES if t not in present))
        log.info("ledger schema: upgrading %s -> %s", current or "empty", HEAD)
        command.upgrade(config, HEAD)


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _check_known(revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise NectoError(
            f"The ledger database is at schema revision {revision!r}, which this Necto does not know "
            f"(it knows up to {HEAD}): a newer Necto has migrated it.",
            hint="Upgrade Necto, or point NECTO_DATABASE_URL at another database.",
        )


def main(argv: list[str] | None = None) -> None:
    """``python -m tools.ledger <alembic command> ...`` against the configured ledger database."""
    from alembic.config import CommandLine

    from tools.settings import NectoSettings

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cli = CommandLine(prog="python -m tools.ledger")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    url = NectoSettings().effective_database_url
    cli.run_cmd(alembic_config(url=url), options)
