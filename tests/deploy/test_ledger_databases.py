"""The ledger on SQLite (default) and on PostgreSQL (the scale path; the local server at 127.0.0.1:5432)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tools.errors import JobNotFound, PlanNotFound
from tools.ledger import Job, Ledger, Plan

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _postgres_or_skip() -> Ledger:
    try:
        ledger = Ledger(POSTGRES)
        with ledger.engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - no server here: the SQLite run still covers the code
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 not reachable: {exc.__class__.__name__}")
    return ledger


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    if request.param == "sqlite":
        return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return _postgres_or_skip()


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
