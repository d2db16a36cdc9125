"""Ledger access. One engine per database URL; SQLite files get WAL and a busy timeout so the web
chat, the CLI and background work can share one file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, SQLModel, create_engine, select

from tools.errors import JobNotFound, PlanNotFound
from tools.ledger.models import AuditEntry, BlockedOffer, Job, JobEvent, Plan

TERMINAL_STATES = frozenset({"failed", "closed"})


class Ledger:
    def __init__(self, database_url: str) -> None:
        connect_args: dict[str, Any] = {}
        if database_url.startswith("sqlite:///"):
            path = Path(database_url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            connect_args = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(database_url, connect_args=connect_args, pool_pre_ping=True)
        if database_url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        SQLModel.metadata.create_all(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # --- plans ----------------------------------------------------------------------------------
    def add_plan(self, plan: Plan) -> Plan:
        with self.session() as s:
            s.add(plan)
            s.commit()
            s.refresh(plan)
            return plan

    def get_plan(self, plan_id: str, *, owner: str) -> Plan:
        with self.session() as s:
            plan = s.get(Plan, plan_id)
        if plan is None or plan.owner != owner:
            # Someone else's plan is reported exactly like a missing one.
            raise PlanNotFound(
                f"There is no plan {plan_id!r} for you.",
                hint="Ask for a quote or build the SDL again; plans are created by Necto, not typed in.",
            )
        return plan

    def update_plan(self, plan_id: str, **fields: Any) -> Plan:
        with self.session() as s:
            plan = s.get(Plan, plan_id)
            if plan is None:
                raise PlanNotFound(f"There is no plan {plan_id!r}.")
            for key, value in fields.items():
                setattr(plan, key, value)
            s.add(plan)
            s.commit()
            s.refresh(plan)
            return plan

    # --- jobs -----------------------------------------------------------------------------------
    def add_job(self, job: Job) -> Job:
        with self.session() as s:
            s.add(job)
            s.commit()
            s.refresh(job)
            return job

    def job_for_plan(self, plan_id: str) -> Job | None:
        with self.session() as s:
            return s.exec(select(Job).where(Job.plan_id == plan_id)).first()

    def job(self, job_id: str) -> Job:
        """A job by exact id, for code that already owns it (no owner check: never call with user input)."""
        with self.session() as s:
            job = s.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"There is no job {job_id!r}.")
        return job

    def get_job(self, job_id: str | None, *, owner: str, open_only: bool = False) -> Job:
        with self.session() as s:
            if job_id:
                job = s.get(Job, job_id)
                if job is None:
                    # Accept a unique prefix, as people copy short ids.
                    matches = s.exec(select(Job).where(Job.owner == owner, Job.id.startswith(job_id))).all()
                    job = matches[0] if len(matches) == 1 else None
            else:
                query = select(Job).where(Job.owner == owner)
                if open_only:
                    query = query.where(Job.state.not_in(TERMINAL_STATES))
                job = s.exec(query.order_by(Job.created_at.desc())).first()
        if job is None or job.owner != owner:
            what = f"job {job_id!r}" if job_id else "a job"
            raise JobNotFound(f"I can't find {what} of yours.", hint="`necto jobs` (or 'list my jobs') shows them.")
        return job

    def update_job(self, job_id: str, **fields: Any) -> Job:
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"There is no job {job_id!r}.")
            for key, value in fields.items():
                setattr(job, key, value)
            job.updated_at = datetime.now(UTC)
            s.add(job)
            s.commit()
            s.refresh(job)
            return job

    def list_jobs(self, *, owner: str, limit: int = 20, state: str | None = None) -> list[Job]:
        with self.session() as s:
            query = select(Job).where(Job.owner == owner)
            if state:
                query = query.where(Job.state == state)
            return list(s.exec(query.order_by(Job.created_at.desc()).limit(limit)).all())

    def unfinished_jobs(self) -> list[Job]:
        with self.session() as s:
            return list(s.exec(select(Job).where(Job.state.not_in(TERMINAL_STATES | {"running"}))).all())

    def open_jobs(self, *, owner: str | None = None) -> list[Job]:
        with self.session() as s:
            query = select(Job).where(Job.state.not_in(TERMINAL_STATES))
            if owner is not None:
                query = query.where(Job.owner == owner)
            return list(s.exec(query).all())

    def deposits_since(self, owner: str, since: datetime) -> int:
        with self.session() as s:
            jobs = s.exec(select(Job).where(Job.owner == owner, Job.created_at >= since)).all()
            return sum(j.deposit_uact for j in jobs if j.create_tx_hash)

    # --- history ----------------------------------------------------------------------------------
    def add_event(self, job_id: str, state: str, message: str, data: dict | None = None) -> None:
        with self.session() as s:
            s.add(JobEvent(job_id=job_id, state=state, message=message, data_json=json.dumps(data or {})))
            s.commit()

    def events(self, job_id: str) -> list[JobEvent]:
        with self.session() as s:
            return list(s.exec(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)).all())

    def audit(self, **fields: Any) -> None:
        with self.session() as s:
            s.add(AuditEntry(**fields))
            s.commit()

    def audit_entries(self, owner: str) -> list[AuditEntry]:
        with self.session() as s:
            return list(s.exec(select(AuditEntry).where(AuditEntry.owner == owner).order_by(AuditEntry.id)).all())


    # --- failover: offers blocked after a failed launch -----------------------------------------------
    def block_offer(self, *, owner: str, offer_id: str, reason: str, until: datetime, job_id: str = "") -> None:
        with self.session() as s:
            s.add(BlockedOffer(owner=owner, offer_id=offer_id, reason=reason, until=until, job_id=job_id))
            s.commit()

    def blocked_offers(self, owner: str, now: datetime) -> dict[str, str]:
        """``{offer_id: reason}`` of the owner's blocks still in force at ``now`` (the latest reason wins)."""
        with self.session() as s:
            rows = s.exec(
                select(BlockedOffer).where(BlockedOffer.owner == owner).order_by(BlockedOffer.id)
            ).all()
        blocked: dict[str, str] = {}
        for row in rows:
            until = row.until if row.until.tzinfo else row.until.replace(tzinfo=UTC)
            if until > now:
                blocked[row.offer_id] = row.reason
        return blocked

def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
