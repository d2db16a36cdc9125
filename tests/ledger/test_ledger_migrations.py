"""Ledger migrations: an empty database, a database made by the pre-migration create_all code, downgrade,
models vs migrated schema (autogenerate finds nothing), and several processes starting at once."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, create_engine, event, inspect, text
from sqlalchemy.orm import registry
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel

from tools.errors import NectoError
from tools.ledger import (
    AuditEntry,
    BlockedOffer,
    Deployment,
    Job,
    JobEvent,
    Lease,
    Ledger,
    Plan,
    RoutingDecision,
    TxRecord,
    Wallet,
)
from tools.ledger.migrate import (
    HEAD,
    LEGACY_TABLES,
    MIGRATIONS,
    REVISIONS,
    alembic_config,
    forget,
    upgrade_to_head,
)

ROOT = Path(__file__).resolve().parents[2]
NEW_TABLES = {"routingdecision", "deployment", "lease", "transactions", "wallet"}
NEW_JOB_COLUMNS = {"routing_decision_id", "claimed_by", "claimed_until"}


# --- a frozen copy of the models as they were before migrations (what users' databases were made from) ---
class LegacyModel(SQLModel, registry=registry()):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class LegacyPlan(LegacyModel, table=True):
    __tablename__ = "plan"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    kind: str
    status: str = Field(default="proposed")
    plan_hash: str
    body_json: str
    tx_body_b64: str = ""
    job_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=_now)
    expires_at: datetime | None = None


class LegacyJob(LegacyModel, table=True):
    __tablename__ = "job"
    id: str = Field(primary_key=True)
    owner: str = Field(index=True)
    plan_id: str = Field(index=True, unique=True)
    state: str = Field(default="confirmed", index=True)
    network: str
    chain_id: str
    account: str = ""
    workload: str = ""
    request_json: str = "{}"
    manifest_json: str = ""
    manifest_hash: str = ""
    dseq: int = 0
    gseq: int = 1
    oseq: int = 1
    bseq: int = 0
    provider: str = ""
    provider_name: str = ""
    provider_host: str = ""
    max_price_uact_per_block: str = "0"
    price_uact_per_block: str = ""
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
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    running_at: datetime | None = None
    closed_at: datetime | None = None


class LegacyJobEvent(LegacyModel, table=True):
    __tablename__ = "jobevent"
    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True)
    state: str
    message: str
    data_json: str = "{}"
    at: datetime = Field(default_factory=_now)


class LegacyAuditEntry(LegacyModel, table=True):
    __tablename__ = "auditentry"
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    action: str
    plan_id: str = ""
    plan_hash: str = ""
    tx_hash: str = ""
    result: str = ""
    at: datetime = Field(default_factory=_now)


class LegacyBlockedOffer(LegacyModel, table=True):
    __tablename__ = "blockedoffer"
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(index=True)
    offer_id: str = Field(index=True)
    reason: str
    job_id: str = ""
    at: datetime = Field(default_factory=_now)
    until: datetime


def _make_legacy_database(url: str, *, without: tuple[str, ...] = ()) -> None:
    """What ``Ledger()`` did before migrations (create_all), with one job's history in it."""
    engine = create_engine(url, poolclass=NullPool)
    tables = [t for name, t in LegacyModel.metadata.tables.items() if name not in without]
    LegacyModel.metadata.create_all(engine, tables=tables)
    with Session(engine) as session:
        session.add(LegacyPlan(id="plan_old", owner="alice", kind="deploy", plan_hash="h0", body_json="{}"))
        session.add(LegacyJob(id="job_old", owner="alice", plan_id="plan_old", network="sandbox", chain_id="c",
                              state="running", dseq=42, deposit_uact=5_000_000))
        session.add(LegacyJobEvent(job_id="job_old", state="running", message="Running."))
        session.add(LegacyAuditEntry(owner="alice", action="create deployment", plan_id="plan_old", result="ok"))
        if "blockedoffer" not in without:
            session.add(LegacyBlockedOffer(owner="alice", offer_id="akash:p", reason="down",
                                           until=_now() + timedelta(hours=1)))
        session.commit()
    engine.dispose()


LEDGER_TABLES = {m.__tablename__ for m in (AuditEntry, BlockedOffer, Deployment, Job, JobEvent, Lease, Plan,
                                            RoutingDecision, TxRecord, Wallet)}


def _schema_diff(url: str, metadata: MetaData) -> list:
    """What alembic autogenerate would change to make the database match ``metadata``'s ledger tables
    (other modules may put their own tables on SQLModel.metadata: not this test's business)."""
    def ledger_only(name, type_, _parent) -> bool:
        return type_ != "table" or name in LEDGER_TABLES

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": ledger_only})
        diff = compare_metadata(context, metadata)
    engine.dispose()
    return diff


def _revision(url: str) -> str | None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return revision


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    names = set(inspect(engine).get_table_names())
    engine.dispose()
    return names


def _job_columns(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    names = {c["name"] for c in inspect(engine).get_columns("job")}
    engine.dispose()
    return names


def _alembic(url: str, action, revision: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as connection:
        action(alembic_config(connection), revision)
    engine.dispose()
    forget(url)


# --- tests ---------------------------------------------------------------------------------------------
def test_revision_list_matches_the_scripts():
    script = ScriptDirectory(str(MIGRATIONS))
    assert script.get_heads() == [HEAD]
    assert [r.revision for r in reversed(list(script.walk_revisions()))] == list(REVISIONS)


def test_an_empty_database_gets_every_revision(database_url, open_ledger):
    open_ledger(database_url)
    assert _revision(database_url) == HEAD
    assert _tables(database_url) >= set(LEGACY_TABLES) | NEW_TABLES | {"alembic_version"}
    assert _schema_diff(database_url, SQLModel.metadata) == []


def test_revision_0001_is_exactly_the_old_create_all_schema(database_url):
    _alembic(database_url, command.upgrade, "0001")
    assert _tables(database_url) == set(LEGACY_TABLES) | {"alembic_version"}
    assert _schema_diff(database_url, LegacyModel.metadata) == []


def test_a_database_made_before_migrations_is_stamped_and_keeps_its_rows(database_url, open_ledger):
    _make_legacy_database(database_url)
    assert "alembic_version" not in _tables(database_url)

    ledger = open_ledger(database_url)
    assert _revision(database_url) == HEAD
    assert _schema_diff(database_url, SQLModel.metadata) == []
    job = ledger.get_job("job_old", owner="alice")
    assert (job.state, job.dseq, job.deposit_uact) == ("running", 42, 5_000_000)
    assert (job.routing_decision_id, job.claimed_by, job.claimed_until) == (None, None, None)
    assert ledger.get_plan("plan_old", owner="alice").plan_hash == "h0"
    assert [e.message for e in ledger.events("job_old")] == ["Running."]
    assert [a.action for a in ledger.audit_entries("alice")] == ["create deployment"]
    assert set(ledger.blocked_offers("alice", _now())) == {"akash:p"}
    # ... and it is fully usable: old rows take new columns, new tables take rows.
    ledger.update_job("job_old", claimed_by="w")
    ledger.upsert_deployment(chain_id="c", owner_address="akash1a", dseq=42, network="sandbox", job_id="job_old")
    assert ledger.deployments("akash1a")[0].job_id == "job_old"


def test_a_database_from_before_blockedoffer_gets_the_missing_table(sqlite_url, open_ledger):
    _make_legacy_database(sqlite_url, without=("blockedoffer",))
    ledger = open_ledger(sqlite_url)
    assert _revision(sqlite_url) == HEAD
    assert _schema_diff(sqlite_url, SQLModel.metadata) == []
    assert ledger.job("job_old").dseq == 42
    ledger.block_offer(owner="alice", offer_id="akash:q", reason="down", until=_now() + timedelta(minutes=5))
    assert set(ledger.blocked_offers("alice", _now())) == {"akash:q"}


def test_downgrade_to_0001_and_upgrade_again(database_url, open_ledger):
    _make_legacy_database(database_url)
    ledger = open_ledger(database_url)
    ledger.update_job("job_old", claimed_by="w", routing_decision_id="dec_1")
    ledger.add_routing_decision(RoutingDecision(id="dec_1", owner="alice", policy_version="p1",
                                                snapshot_json="{}", decision_json="{}"))
    ledger.engine.dispose()

    _alembic(database_url, command.downgrade, "0001")
    assert _revision(database_url) == "0001"
    assert not (_tables(database_url) & NEW_TABLES)
    assert not (_job_columns(database_url) & NEW_JOB_COLUMNS)
    assert _schema_diff(database_url, LegacyModel.metadata) == []

    again = open_ledger(database_url)
    assert _revision(database_url) == HEAD
    job = again.job("job_old")
    assert (job.state, job.claimed_by, job.routing_decision_id) == ("running", None, None)
    assert again.routing_decision("dec_1") is None
    assert _schema_diff(database_url, SQLModel.metadata) == []


def test_a_database_migrated_by_a_newer_necto_is_refused(sqlite_url, open_ledger):
    open_ledger(sqlite_url)
    engine = create_engine(sqlite_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    forget(sqlite_url)
    with pytest.raises(NectoError, match="0099"):
        Ledger(sqlite_url)


def test_start_up_on_an_up_to_date_database_only_reads_the_revision(sqlite_url, open_ledger):
    open_ledger(sqlite_url)
    forget(sqlite_url)  # as in a new process: nothing cached
    engine = create_engine(sqlite_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    upgrade_to_head(engine)
    read = len(statements)
    upgrade_to_head(engine)  # cached for this URL: not even a query
    engine.dispose()
    assert all(s.lstrip().upper().startswith(("PRAGMA", "SELECT")) for s in statements), statements
    assert 0 < read == len(statements) <= 3


STARTER = """
import sys
from tools.ledger import Ledger
print("ready", flush=True)
sys.stdin.readline()
Ledger(sys.argv[1])
print("ok", flush=True)
"""


def test_processes_starting_at_once_on_an_empty_database_all_succeed(database_url):
    processes = [
        subprocess.Popen([sys.executable, "-c", STARTER, database_url], cwd=ROOT, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout.readline().strip() == "ready"
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "ok"
    assert _revision(database_url) == HEAD
    assert _schema_diff(database_url, SQLModel.metadata) == []
