"""Ledger access. One engine per database URL; SQLite files get WAL and a busy timeout so the web
chat, the CLI and background work can share one file. PostgreSQL is the scale path: several Necto
processes share one database.

Schema: ``Ledger()`` brings the database to the newest alembic revision (``tools.ledger.migrate``), so a
database made by an older Necto (even one from before migrations) is upgraded in place.

Background work is shared by *claims* on jobs (``Job.claimed_by`` / ``Job.claimed_until``): a worker
claims a few unfinished jobs for ``lease_s`` seconds, renews while it works and releases when done; a
claim that is not renewed expires and another worker may take the job. Claims are exclusive across
threads and processes:

- **PostgreSQL**: one transaction ``SELECT id ... WHERE <free> ORDER BY created_at LIMIT n FOR UPDATE
  SKIP LOCKED``, then ``UPDATE ... SET claimed_by, claimed_until`` on exactly those rows. Rows another
  worker is claiming right now are skipped (not waited for); a row claimed and committed meanwhile is
  re-checked by PostgreSQL under the row lock and no longer matches <free>. Times come from the
  database clock (``now()``), so workers on hosts with skewed clocks agree on expiry.
- **SQLite**: ``BEGIN IMMEDIATE`` (the database's single write lock, waited for with busy_timeout) and
  one conditional ``UPDATE ... WHERE id IN (SELECT id ... WHERE <free> LIMIT n) RETURNING``. SQLite runs
  one writer at a time, so two claimers can never both see a job as free. Times are this host's clock
  (every process sharing a SQLite file runs on this host).

<free> is: state in the requested states, and nobody holds it (``claimed_by`` empty or ``claimed_until``
in the past). Claiming, renewing and releasing never touch any other column, so ``update_job`` calls by
the holder are unaffected.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, create_engine, select

from tools.errors import JobNotFound, NectoError, PlanNotFound
from tools.ledger.migrate import upgrade_to_head
from tools.ledger.models import (
    AuditEntry,
    BlockedOffer,
    Deployment,
    Job,
    JobEvent,
    Lease,
    Plan,
    RoutingDecision,
    TxRecord,
    Wallet,
    utcnow,
)

TERMINAL_STATES = frozenset({"failed", "closed"})
# What a restarted worker picks up (the same set as ``unfinished_jobs``): not finished and not running.
RESUMABLE_STATES = frozenset({"plan", "confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent"})


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
        upgrade_to_head(self.engine)

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

    # --- routing decisions ----------------------------------------------------------------------------
    def add_routing_decision(self, decision: RoutingDecision) -> RoutingDecision:
        """Store a decision; empty ``*_sha256`` fields are filled in, given ones must match their JSON."""
        for text_field, hash_field in (("snapshot_json", "snapshot_sha256"), ("decision_json", "decision_sha256")):
            digest = hashlib.sha256(getattr(decision, text_field).encode()).hexdigest()
            given = getattr(decision, hash_field)
            if given and given != digest:
                raise NectoError(f"Routing decision {decision.id}: {hash_field} does not match {text_field}.")
            setattr(decision, hash_field, digest)
        with self.session() as s:
            s.add(decision)
            s.commit()
            s.refresh(decision)
            return decision

    def routing_decision(self, decision_id: str, *, owner: str | None = None) -> RoutingDecision | None:
        """The decision with this id (``None`` if there is none, or it is not ``owner``'s when given)."""
        with self.session() as s:
            decision = s.get(RoutingDecision, decision_id)
        if decision is None or (owner is not None and decision.owner != owner):
            return None
        return decision

    def routing_decisions(self, *, job_id: str | None = None, plan_id: str | None = None) -> list[RoutingDecision]:
        """Decisions for a job or a plan, oldest first."""
        if job_id is None and plan_id is None:
            raise ValueError("routing_decisions needs job_id or plan_id")
        with self.session() as s:
            query = select(RoutingDecision)
            if job_id is not None:
                query = query.where(RoutingDecision.job_id == job_id)
            if plan_id is not None:
                query = query.where(RoutingDecision.plan_id == plan_id)
            return list(s.exec(query.order_by(RoutingDecision.created_at, RoutingDecision.id)).all())

    def update_routing_decision(self, decision_id: str, **fields: Any) -> RoutingDecision:
        """Set evidence gathered after the decision (``router_signature``, ``trace_ref``, ``on_chain_tx``).
        The decided documents and their hashes never change."""
        frozen = {"snapshot_json", "snapshot_sha256", "decision_json", "decision_sha256", "policy_version", "owner"}
        if frozen & set(fields):
            raise NectoError(f"A routing decision's {', '.join(sorted(frozen & set(fields)))} cannot change.")
        with self.session() as s:
            decision = s.get(RoutingDecision, decision_id)
            if decision is None:
                raise NectoError(f"There is no routing decision {decision_id!r}.")
            for name, value in fields.items():
                setattr(decision, name, value)
            s.add(decision)
            s.commit()
            s.refresh(decision)
            return decision

    def link_routing_decision(
        self, decision_id: str, *, job_id: str | None = None, plan_id: str | None = None
    ) -> RoutingDecision:
        """Attach a decision to the plan and/or job it produced; the job also points back at it."""
        with self.session() as s:
            decision = s.get(RoutingDecision, decision_id)
            if decision is None:
                raise NectoError(f"There is no routing decision {decision_id!r}.")
            if plan_id is not None:
                decision.plan_id = plan_id
            if job_id is not None:
                job = s.get(Job, job_id)
                if job is None:
                    raise JobNotFound(f"There is no job {job_id!r}.")
                decision.job_id = job_id
                job.routing_decision_id = decision_id
                job.updated_at = datetime.now(UTC)
                s.add(job)
            s.add(decision)
            s.commit()
            s.refresh(decision)
            return decision

    # --- what is on chain: deployments, leases, transactions -------------------------------------------
    def upsert_deployment(self, *, chain_id: str, owner_address: str, dseq: int, **fields: Any) -> Deployment:
        """Insert or update the deployment (chain_id, owner_address, dseq), atomically.

        On insert, unset columns take the model defaults; on update only ``fields`` change (plus
        ``last_seen_at``), so a chain scan that does not know the job never clears ``job_id``.
        """
        fields.setdefault("last_seen_at", utcnow())
        key = {"chain_id": chain_id, "owner_address": owner_address, "dseq": dseq}
        row = Deployment(**key, **fields)
        self._upsert(Deployment, row, key, fields)
        with self.session() as s:
            return s.exec(select(Deployment).where(*(getattr(Deployment, k) == v for k, v in key.items()))).one()

    def deployments(
        self, owner_address: str, *, chain_id: str | None = None, state: str | None = None
    ) -> list[Deployment]:
        """The deployments of a chain account that the ledger knows, newest dseq first."""
        with self.session() as s:
            query = select(Deployment).where(Deployment.owner_address == owner_address)
            if chain_id is not None:
                query = query.where(Deployment.chain_id == chain_id)
            if state is not None:
                query = query.where(Deployment.state == state)
            return list(s.exec(query.order_by(Deployment.dseq.desc())).all())

    def upsert_lease(self, *, deployment_id: int, gseq: int, oseq: int, provider: str, **fields: Any) -> Lease:
        """Insert or update the lease (deployment, gseq, oseq, provider); same rules as ``upsert_deployment``."""
        with self.session() as s:
            deployment = s.get(Deployment, deployment_id)
        if deployment is None:
            raise NectoError(f"There is no deployment {deployment_id} in the ledger.")
        fields.setdefault("last_seen_at", utcnow())
        key = {"deployment_id": deployment_id, "gseq": gseq, "oseq": oseq, "provider": provider}
        row = Lease(**key, dseq=deployment.dseq, **fields)
        self._upsert(Lease, row, key, fields)
        with self.session() as s:
            return s.exec(select(Lease).where(*(getattr(Lease, k) == v for k, v in key.items()))).one()

    def leases(self, deployment_id: int) -> list[Lease]:
        with self.session() as s:
            return list(s.exec(select(Lease).where(Lease.deployment_id == deployment_id).order_by(Lease.id)).all())

    def record_tx(self, *, owner: str, kind: str, chain: str, chain_id: str, tx_hash: str = "",
                  status: str = "signed", **fields: Any) -> TxRecord:
        """Record a transaction, or move a recorded one on (same chain_id and tx_hash): signed -> broadcast ->
        included | failed. ``fields``: job_id, height, error, at."""
        fields.setdefault("at", utcnow())
        with self.session() as s:
            record = None
            if tx_hash:
                record = s.exec(
                    select(TxRecord).where(TxRecord.chain_id == chain_id, TxRecord.tx_hash == tx_hash)
                ).first()
            if record is None:
                record = TxRecord(owner=owner, kind=kind, chain=chain, chain_id=chain_id, tx_hash=tx_hash,
                                  status=status, **fields)
            else:
                record.status = status
                for name, value in fields.items():
                    setattr(record, name, value)
            s.add(record)
            s.commit()
            s.refresh(record)
            return record

    def transactions(self, *, job_id: str | None = None, owner: str | None = None) -> list[TxRecord]:
        """Recorded transactions of a job or an owner, oldest first."""
        if job_id is None and owner is None:
            raise ValueError("transactions needs job_id or owner")
        with self.session() as s:
            query = select(TxRecord)
            if job_id is not None:
                query = query.where(TxRecord.job_id == job_id)
            if owner is not None:
                query = query.where(TxRecord.owner == owner)
            return list(s.exec(query.order_by(TxRecord.id)).all())

    def _upsert(self, model: type[Deployment] | type[Lease], row: Deployment | Lease,
                key: dict[str, Any], fields: dict[str, Any]) -> None:
        # INSERT ... ON CONFLICT DO UPDATE: two processes seeing the same deployment cannot both insert it.
        unknown = set(fields) - set(model.model_fields)
        if unknown:
            raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
        values = row.model_dump(exclude={"id"})
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = insert(model).values(**values).on_conflict_do_update(
            index_elements=list(key), set_={name: values[name] for name in fields}
        )
        with self.session() as s:
            s.execute(statement)
            s.commit()

    # --- browser wallets ---------------------------------------------------------------------------------
    def save_wallet(
        self, *, owner: str, address: str, public_key_hex: str, chain_id: str, wallet: str, is_ledger: bool
    ) -> Wallet:
        """Remember (or refresh) a wallet ``owner`` connected after a verified sign-in; it becomes the
        owner's current wallet on that chain (the most recently connected one)."""
        with self.session() as s:
            row = s.exec(
                select(Wallet).where(Wallet.owner == owner, Wallet.chain_id == chain_id, Wallet.address == address)
            ).first()
            if row is None:
                row = Wallet(owner=owner, address=address, chain_id=chain_id, public_key_hex=public_key_hex,
                             wallet=wallet, is_ledger=is_ledger)
            else:
                row.public_key_hex, row.wallet, row.is_ledger = public_key_hex, wallet, is_ledger
                row.connected_at = utcnow()
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def current_wallet(self, owner: str, chain_id: str) -> Wallet | None:
        """The wallet ``owner`` connected last on ``chain_id`` (each user sees only their own)."""
        with self.session() as s:
            return s.exec(
                select(Wallet).where(Wallet.owner == owner, Wallet.chain_id == chain_id)
                .order_by(Wallet.connected_at.desc(), Wallet.id.desc())
            ).first()

    def wallets_on_chain(self, chain_id: str) -> list[Wallet]:
        """One row per wallet address connected on ``chain_id`` (its latest connection), for reconcile."""
        with self.session() as s:
            rows = s.exec(
                select(Wallet).where(Wallet.chain_id == chain_id).order_by(Wallet.connected_at.desc(), Wallet.id.desc())
            ).all()
        latest: dict[str, Wallet] = {}
        for row in rows:
            latest.setdefault(row.address, row)
        return list(latest.values())

    def wallet_for_address(self, owner: str, chain_id: str, address: str) -> Wallet | None:
        with self.session() as s:
            return s.exec(
                select(Wallet).where(Wallet.owner == owner, Wallet.chain_id == chain_id, Wallet.address == address)
            ).first()

    # --- background work: claims on jobs (see the module docstring) -------------------------------------
    def claim_jobs(
        self, worker_id: str, states: Iterable[str], *, lease_s: float, limit: int = 10, network: str | None = None
    ) -> list[Job]:
        """Claim up to ``limit`` jobs in ``states`` that nobody holds, for ``lease_s`` seconds; oldest first.

        The returned jobs are this worker's until the claim expires: renew with ``renew_claim`` while
        working, ``release_claim`` when done. Another worker calling at the same moment gets other jobs.
        """
        states = list(states)
        if not states or limit <= 0:
            return []
        lease = timedelta(seconds=lease_s)
        with self.session() as s:
            if self.engine.dialect.name == "postgresql":
                now: Any = func.now()  # the transaction's start on the database clock
            else:
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
                now = datetime.now(UTC)
            free = select(Job.id).where(
                Job.state.in_(states),
                or_(Job.claimed_by.is_(None), Job.claimed_until.is_(None), Job.claimed_until < now),
            )
            if network is not None:
                free = free.where(Job.network == network)
            free = free.order_by(Job.created_at, Job.id).limit(limit)
            claim = update(Job).values(claimed_by=worker_id, claimed_until=now + lease).returning(Job)
            if self.engine.dialect.name == "postgresql":
                ids = list(s.exec(free.with_for_update(skip_locked=True)).all())
                if not ids:
                    s.commit()
                    return []
                claimed = list(s.scalars(claim.where(Job.id.in_(ids))).all())
            else:
                claimed = list(s.scalars(claim.where(Job.id.in_(free.scalar_subquery()))).all())
            s.commit()
        return sorted(claimed, key=lambda job: (job.created_at, job.id))

    def claim_job(self, job_id: str, worker_id: str, *, lease_s: float) -> bool:
        """Claim one job (free, expired, or already this worker's); ``False`` if another worker holds it.
        For the process that creates a job and runs it at once, so no background worker picks it up."""
        with self.session() as s:
            now = self._claim_clock()
            result = s.execute(
                update(Job)
                .where(Job.id == job_id,
                       or_(Job.claimed_by.is_(None), Job.claimed_by == worker_id, Job.claimed_until.is_(None),
                           Job.claimed_until < now))
                .values(claimed_by=worker_id, claimed_until=now + timedelta(seconds=lease_s))
                .execution_options(synchronize_session=False)
            )
            s.commit()
        return result.rowcount == 1

    def renew_claim(self, job_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend this worker's claim by ``lease_s`` from now; ``False`` if another worker has taken the job
        (after this claim expired): stop working on it."""
        with self.session() as s:
            now = self._claim_clock()
            result = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.claimed_by == worker_id)
                .values(claimed_until=now + timedelta(seconds=lease_s))
                .execution_options(synchronize_session=False)
            )
            s.commit()
        return result.rowcount == 1

    def release_claim(self, job_id: str, worker_id: str) -> bool:
        """Give the job back (``False`` if this worker no longer held it)."""
        with self.session() as s:
            result = s.execute(
                update(Job)
                .where(Job.id == job_id, Job.claimed_by == worker_id)
                .values(claimed_by=None, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            s.commit()
        return result.rowcount == 1

    def _claim_clock(self) -> Any:
        # Single-statement UPDATEs are atomic on both databases; only the clock differs (module docstring).
        return func.now() if self.engine.dialect.name == "postgresql" else datetime.now(UTC)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    # Switching a new file to WAL needs an exclusive lock and SQLite answers SQLITE_BUSY at once, without
    # the busy handler, when several processes open the same new file together: retry briefly. The mode is
    # stored in the file, so once any process has set it the others find it set.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.02 * (1 + attempt % 5))
    cursor.close()
