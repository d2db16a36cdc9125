"""Ledger databases for tests: a SQLite file in tmp_path, and a fresh schema on the PostgreSQL server at
127.0.0.1:5432 (dropped afterwards, so concurrent test runs and other tests never see each other's rows).
PostgreSQL tests skip when the server is not reachable; the SQLite run still covers the code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tools.ledger.migrate import forget

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    schema = f"necto_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - no server here
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc.__class__.__name__}")
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        forget(url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """The same test on a SQLite file and on a PostgreSQL schema, both empty."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def open_ledger():
    """``open_ledger(url)`` -> a Ledger whose connections are closed after the test (PostgreSQL has a
    connection limit, and a schema is dropped more easily with no session left on it)."""
    from tools.ledger import Ledger

    opened: list[Ledger] = []

    def _open(url: str) -> Ledger:
        ledger = Ledger(url)
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.engine.dispose()
