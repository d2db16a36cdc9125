"""The ledger on SQLite (default) and on PostgreSQL (the scale path; the local server at 127.0.0.1:5432)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tools.errors import JobNotFound, PlanNotFound
from tools.ledger import Job, Ledger, Plan
from tools.ledger.migrate import forget

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_ledger():
    """A ledger in a fresh schema of the test database, dropped afterwards: concurrent test runs (and other
    tests) never share rows or migration state. (tests/ledger/conftest.py has the same for its tests.)"""
    schema = f"necto_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - no server here: the SQLite run still covers the code
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc.__class__.__name__}")
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    ledger = Ledger(url)
    try:
        yield ledger
    finally:
        ledger.engine.dispose()
        forget(url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return request.getfixturevalue("postgres_ledger")


def test_plans_jobs_events_and_owner_isolation(ledger):
    suffix = uuid.uuid4().hex[:8]
    plan = ledger.add_plan(Plan(id=f"plan_{suffix}", owner=f"alice_{suffix}", kind="deploy", plan_hash="h", body_json="{}"))
    job = ledger.add_job(Job(id=f"job_{suffix}", owner=plan.owner, plan_id=plan.id, network="sandbox",
                             chain_id="necto-sandbox-1", dseq=1, deposit_uact=500_000))
    ledger.add_event(job.id, "confirmed", "approved")
    ledger.update_job(job.id, state="running", uris_json='["x.ingress.example"]')
    assert ledger.get_job(None, owner=plan.owner).state == "running"
    assert ledger.get_job(job.id[:10], owner=plan.owner).id == job.id  # unique prefix
    assert [e.state for e in ledger.events(job.id)] == ["confirmed"]
    with pytest.raises(JobNotFound):
        ledger.get_job(job.id, owner=f"mallory_{suffix}")
    with pytest.raises(PlanNotFound):
        ledger.get_plan(plan.id, owner=f"mallory_{suffix}")
    assert ledger.job_for_plan(plan.id).id == job.id
    ledger.audit(owner=plan.owner, action="create deployment", plan_id=plan.id, plan_hash="h", result="ok")
    assert [a.action for a in ledger.audit_entries(plan.owner)] == ["create deployment"]
    assert [j.id for j in ledger.list_jobs(owner=plan.owner, state="running")] == [job.id]


def test_one_job_per_plan(ledger):
    suffix = uuid.uuid4().hex[:8]
    ledger.add_plan(Plan(id=f"plan_{suffix}", owner="o", kind="deploy", plan_hash="h", body_json="{}"))
    ledger.add_job(Job(id=f"job_a_{suffix}", owner="o", plan_id=f"plan_{suffix}", network="sandbox", chain_id="c"))
    with pytest.raises(Exception):  # noqa: B017 - the unique constraint is the database's, its error type varies
        ledger.add_job(Job(id=f"job_b_{suffix}", owner="o", plan_id=f"plan_{suffix}", network="sandbox", chain_id="c"))
