"""Reconcile the ledger with the chain (security.md "Funds are never stranded").

On start-up and periodically: every open deployment of the signer account is either tracked by a ledger
job and healthy, or surfaced to its owner with a one-click close; escrow running low and leases lost are
reported. Plain logic over what the ledger and ``ChainBackend.open_deployments`` say (no ADK, no
Chainlit): the service turns the report into chat messages, and the close itself is the normal close
plan (``NectoService.create_close_plan(job_id)`` -> card -> approve).

What each finding does to the ledger (every write happens once; a second run writes nothing):

    ok               nothing (tracked, lease active, escrow above the threshold; or a deploy in progress)
    escrow_low       one "escrow low" event on the running job (the first time it is seen low)
    lease_lost       running job, no active lease on chain -> job failed (error + event); the deployment
                     and its escrow are still open -> action "close"
    stranded         failed job whose deployment is still open on chain -> one event -> action "close"
    untracked        open on chain, unknown to the ledger -> a job in state "found" (with an origin plan
                     row, as every job has one) owned by the account's Necto user -> action "close"
    closed_on_chain  running/found job whose deployment is no longer active -> job closed with the reason

A chain query that fails raises ``ChainError`` before anything is written. Run one reconcile at a time
per ledger (the service holds a lock): two concurrent passes could both adopt the same deployment.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from tools.deploy.backend import ChainBackend, ChainDeployment, ChainLease
from tools.deploy.machine import _provider_name
from tools.deploy.plan import MICRO, canonical_json, new_id, plan_hash
from tools.errors import NectoError, PlanNotFound, PolicyDenied
from tools.ledger import Job, Ledger, Plan
from tools.text import display_text

log = logging.getLogger(__name__)

FindingKind = Literal["ok", "escrow_low", "lease_lost", "stranded", "untracked", "closed_on_chain"]
FOUND_STATE = "found"  # a job adopted from the chain: Necto did not start it (or lost its record)
# States in which the deploy machine still owns the job: reconcile reports them and never touches them.
IN_PROGRESS = frozenset({"plan", "confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent"})
# Jobs the ledger believes hold a live deployment: checked against the chain for closed_on_chain.
WATCHED = frozenset({"running", FOUND_STATE})
MARKER = "reconcile"  # key in a job event's data naming the finding it recorded (keeps reruns silent)
SEVERITY = {"untracked": 0, "lease_lost": 1, "stranded": 2, "closed_on_chain": 3, "escrow_low": 4, "ok": 5}


class Finding(BaseModel):
    """One deployment (or ledger job) and what reconcile concluded about it."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    job_id: str
    owner: str  # the Necto user to tell (the job's owner)
    dseq: int
    provider: str  # provider address ("" without a lease)
    provider_name: str
    escrow_left_uact: int | None  # None when the deployment is no longer on chain
    hours_left: float | None  # at the active leases' price; None without an active lease
    message: str  # one sentence for the chat
    action: Literal["close"] | None  # "close": offer the one-click close (service.create_close_plan(job_id))
    new: bool  # first time reported (this run wrote it to the ledger): worth a chat message now


class ReconcileReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: Literal["ok"] = "ok"
    network: str
    chain_id: str
    owner_address: str
    checked_at: datetime
    low_escrow_hours: float
    findings: list[Finding]

    def attention(self, *, only_new: bool = False) -> list[Finding]:
        """Findings that need the owner (everything but ``ok``), most urgent first."""
        chosen = [f for f in self.findings if f.kind != "ok" and (f.new or not only_new)]
        return sorted(chosen, key=lambda f: (SEVERITY[f.kind], f.dseq))

    def for_owner(self, owner: str) -> list[Finding]:
        return [f for f in self.findings if f.owner == owner]


async def reconcile(
    ledger: Ledger,
    backend: ChainBackend,
    *,
    owner_address: str,
    network: str,
    chain_id: str,
    block_time_s: Decimal | float,
    low_escrow_hours: float = 24,
    now: datetime,
    account_owner: str = "local",
    busy_job_ids: Collection[str] = (),
) -> ReconcileReport:
    """Compare the ledger with the chain for the account ``owner_address`` and record what changed.

    Args:
        owner_address: the chain account (must be the backend's signer).
        network, chain_id: which ledger jobs are about this chain.
        block_time_s: seconds per block on this chain, for escrow hours (the chain's real pace).
        low_escrow_hours: escrow lasting fewer hours than this is reported as ``escrow_low``.
        now: the time written to the ledger (closed_at).
        account_owner: the Necto user who owns ``owner_address``; deployments found on chain without a job
            are given to them ("local" for the local signer).
        busy_job_ids: jobs the caller is driving right now (deploy or close in flight): reported, untouched.

    Returns:
        The report: one finding per open deployment of the account, plus one per job found closed.
    """
    if owner_address != backend.address:
        raise PolicyDenied(f"Reconcile was asked about {owner_address} but the signer is {backend.address}.")
    block_time = Decimal(str(block_time_s))
    threshold = Decimal(str(low_escrow_hours))
    deployments = [
        d for d in await backend.open_deployments() if d.owner == owner_address and d.state == "active"
    ]
    jobs = _jobs_by_dseq(
        ledger, network=network, chain_id=chain_id, account=owner_address, dseqs={d.dseq for d in deployments}
    )
    context = _Context(
        ledger,
        backend,
        network=network,
        chain_id=chain_id,
        account=owner_address,
        block_time=block_time,
        threshold=threshold,
        now=now,
        account_owner=account_owner,
        busy=frozenset(busy_job_ids),
    )
    findings = []
    for deployment in sorted(deployments, key=lambda d: d.dseq):
        job = _tracking_job(jobs.get(deployment.dseq, []))
        if job is None:
            findings.append(await context.adopt(deployment))
        else:
            findings.append(context.judge(job, deployment))
    open_dseqs = {d.dseq for d in deployments}
    for job in ledger.open_jobs():
        if (
            job.state not in WATCHED
            or job.id in context.busy
            or job.dseq in open_dseqs
            or job.network != network
            or job.chain_id != chain_id
            or job.account != owner_address
        ):
            continue
        try:
            chain_state = await backend.deployment_state(job.dseq)
        except NectoError as exc:
            log.warning("could not check job %s on chain: %s", job.id, exc.message)
            continue  # unknown is not closed: the next pass looks again
        if chain_state == "active":
            continue  # opened after the listing (or the listing lagged): the next pass judges it
        findings.append(context.closed_on_chain(job, chain_state))
    return ReconcileReport(
        network=network,
        chain_id=chain_id,
        owner_address=owner_address,
        checked_at=now,
        low_escrow_hours=float(low_escrow_hours),
        findings=findings,
    )


def escrow_hours_left(
    escrow_uact: int, price_uact_per_block: Decimal | None, block_time_s: Decimal
) -> Decimal | None:
    """Hours until the escrow runs dry: escrow / price per block * block time / 3600 (None when nothing draws)."""
    if price_uact_per_block is None or price_uact_per_block <= 0:
        return None
    return Decimal(escrow_uact) / price_uact_per_block * block_time_s / Decimal(3600)


# --- internals ----------------------------------------------------------------------------------------


class _Context:
    def __init__(
        self,
        ledger: Ledger,
        backend: ChainBackend,
        *,
        network: str,
        chain_id: str,
        account: str,
        block_time: Decimal,
        threshold: Decimal,
        now: datetime,
        account_owner: str,
        busy: frozenset[str],
    ) -> None:
        self.ledger = ledger
        self.backend = backend
        self.network = network
        self.chain_id = chain_id
        self.account = account
        self.block_time = block_time
        self.threshold = threshold
        self.now = now
        self.account_owner = account_owner
        self.busy = busy

    # --- a deployment a job tracks ----------------------------------------------------------------
    def judge(self, job: Job, deployment: ChainDeployment) -> Finding:
        hours = escrow_hours_left(
            deployment.escrow_left_uact, deployment.price_uact_per_block, self.block_time
        )
        lease = _main_lease(deployment)
        provider = job.provider or (lease.provider if lease else "")
        name = job.provider_name or _short(provider)
        where = f"deployment {deployment.dseq} (job {job.id})"
        escrow = _act(deployment.escrow_left_uact)

        def finding(kind: FindingKind, message: str, *, action: bool, new: bool = False) -> Finding:
            return Finding(
                kind=kind,
                job_id=job.id,
                owner=job.owner,
                dseq=deployment.dseq,
                provider=provider,
                provider_name=name,
                escrow_left_uact=deployment.escrow_left_uact,
                hours_left=_round(hours),
                message=message,
                action="close" if action else None,
                new=new,
            )

        if job.id in self.busy or job.state in IN_PROGRESS:
            return finding("ok", f"{_cap(where)} is being deployed ({job.state}).", action=False)
        if job.state == FOUND_STATE:
            return finding("untracked", _untracked_message(deployment, name, hours), action=True)
        if job.state == "failed":
            recorded = _recorded(self.ledger, job.id)
            if "lease_lost" in recorded:
                return finding(
                    "lease_lost",
                    f"The lease of {where} with {name} ended earlier; {escrow} ACT is still "
                    "in escrow: close the deployment to get it back.",
                    action=True,
                )
            message = (
                f"Job {job.id} failed but deployment {deployment.dseq} is still open on chain with "
                f"{escrow} ACT in escrow"
                + (f" and a lease with {name} still paying" if lease and lease.state == "active" else "")
                + ": close it to get the escrow back."
            )
            new = "stranded" not in recorded
            if new:
                self.ledger.add_event(
                    job.id,
                    job.state,
                    message,
                    {MARKER: "stranded", "escrow_left_uact": deployment.escrow_left_uact},
                )
            return finding("stranded", message, action=True, new=new)
        if job.state != "running":
            return finding("ok", f"{_cap(where)} is {job.state} in the ledger.", action=False)
        if not deployment.active_leases:
            how = _lease_end(deployment)
            message = (
                f"The lease of {where} with {name} ended on chain ({how}); the job is marked failed and "
                f"{escrow} ACT is still in escrow: close the deployment to get it back."
            )
            error = (
                f"The lease ended on chain ({how}); the deployment is still open with {escrow} ACT in escrow."
            )
            self.ledger.update_job(job.id, state="failed", error=error)
            self.ledger.add_event(
                job.id,
                "failed",
                message,
                {
                    MARKER: "lease_lost",
                    "hint": "Close the deployment to get the escrow back, then redeploy.",
                    "escrow_left_uact": deployment.escrow_left_uact,
                    "lease_state": lease.state if lease else None,
                    "lease_reason": lease.reason if lease else None,
                },
            )
            return finding("lease_lost", message, action=True, new=True)
        if hours is not None and hours < self.threshold:
            price = deployment.price_uact_per_block
            message = (
                f"Deployment {deployment.dseq} (job {job.id}) with {name} has {escrow} ACT of escrow left, "
                f"{_hours(hours)} at {_num(price)} uact/block; the provider stops it when that runs out: "
                "top it up or plan a redeploy."
            )
            new = "escrow_low" not in _recorded(self.ledger, job.id)
            if new:
                self.ledger.add_event(
                    job.id,
                    job.state,
                    message,
                    {
                        MARKER: "escrow_low",
                        "escrow_left_uact": deployment.escrow_left_uact,
                        "hours_left": _round(hours),
                    },
                )
            return finding("escrow_low", message, action=False, new=new)
        lasts = f"; escrow lasts {_hours(hours)}" if hours is not None else ""
        return finding("ok", f"{_cap(where)} is running with {name}{lasts}.", action=False)

    # --- a deployment no job tracks ----------------------------------------------------------------
    async def adopt(self, deployment: ChainDeployment) -> Finding:
        """Give an untracked deployment a ledger job, so the normal close plan can close it."""
        lease = _main_lease(deployment)
        provider = lease.provider if lease else ""
        name, host = _short(provider), ""
        if provider:
            try:
                info = await self.backend.provider_info(provider)
                name, host = _provider_name(info) or name, str(info.get("host_uri", ""))
            except NectoError as exc:
                log.warning(
                    "provider %s of untracked deployment %s unknown: %s",
                    provider,
                    deployment.dseq,
                    exc.message,
                )
        hours = escrow_hours_left(
            deployment.escrow_left_uact, deployment.price_uact_per_block, self.block_time
        )
        message = _untracked_message(deployment, name, hours)
        plan_id = f"found:{self.chain_id}:{self.account}:{deployment.dseq}"
        body = {
            "kind": FOUND_STATE,
            "owner": self.account_owner,
            "network": self.network,
            "chain_id": self.chain_id,
            "owner_address": self.account,
            "dseq": deployment.dseq,
            "version": deployment.version,
            "created_height": deployment.created_height,
            "found_at": self.now.isoformat(),
        }
        try:
            self.ledger.get_plan(plan_id, owner=self.account_owner)
        except PlanNotFound:
            # Every job has a plan (the service reads job.plan_id); this one records where the job came from.
            self.ledger.add_plan(
                Plan(
                    id=plan_id,
                    owner=self.account_owner,
                    kind=FOUND_STATE,
                    status="executed",
                    plan_hash=plan_hash(body, b""),
                    body_json=canonical_json(body),
                )
            )
        job = self.ledger.job_for_plan(plan_id)
        new = job is None or job.state == "closed"
        if job is None:
            price = deployment.price_uact_per_block
            try:
                job = self.ledger.add_job(
                    Job(
                        id=new_id("job"),
                        owner=self.account_owner,
                        plan_id=plan_id,
                        state=FOUND_STATE,
                        network=self.network,
                        chain_id=self.chain_id,
                        account=self.account,
                        workload="",
                        manifest_hash=deployment.version,
                        dseq=deployment.dseq,
                        gseq=lease.gseq if lease else 1,
                        oseq=lease.oseq if lease else 1,
                        bseq=lease.bseq if lease else 0,
                        provider=provider,
                        provider_name=name if provider else "",
                        provider_host=host,
                        price_uact_per_block=_num(price) if lease and price else "",
                        note="Found open on chain by reconcile: not started by this Necto, or Necto stopped before "
                        "recording it.",
                    )
                )
            except IntegrityError:  # another pass adopted it a moment ago
                job = self.ledger.job_for_plan(plan_id)
                assert job is not None
                new = False
            else:
                self.ledger.update_plan(plan_id, job_id=job.id)
        elif job.state == "closed":
            # Marked closed while the chain did not show it (a node that lagged or was reset): open again.
            job = self.ledger.update_job(job.id, state=FOUND_STATE, closed_at=None, error="")
        if new:
            self.ledger.add_event(
                job.id,
                FOUND_STATE,
                message,
                {
                    MARKER: "untracked",
                    "escrow_left_uact": deployment.escrow_left_uact,
                    "provider": provider,
                },
            )
        return Finding(
            kind="untracked",
            job_id=job.id,
            owner=job.owner,
            dseq=deployment.dseq,
            provider=provider,
            provider_name=name if provider else "",
            escrow_left_uact=deployment.escrow_left_uact,
            hours_left=_round(hours),
            message=message,
            action="close",
            new=new,
        )

    # --- a job whose deployment is gone ---------------------------------------------------------------
    def closed_on_chain(self, job: Job, chain_state: str | None) -> Finding:
        why = (
            "it was closed on chain: the escrow ran out, or it was closed outside Necto"
            if chain_state == "closed"
            else "it is not on chain any more: the network was reset"
        )
        message = (
            f"Deployment {job.dseq} (job {job.id}) is no longer active ({why}); the job is marked closed."
        )
        self.ledger.update_job(
            job.id, state="closed", closed_at=self.now, error="The deployment is no longer active on chain."
        )
        self.ledger.add_event(
            job.id, "closed", message, {MARKER: "closed_on_chain", "chain_state": chain_state}
        )
        return Finding(
            kind="closed_on_chain",
            job_id=job.id,
            owner=job.owner,
            dseq=job.dseq,
            provider=job.provider,
            provider_name=job.provider_name or _short(job.provider),
            escrow_left_uact=None,
            hours_left=None,
            message=message,
            action=None,
            new=True,
        )


def _jobs_by_dseq(
    ledger: Ledger, *, network: str, chain_id: str, account: str, dseqs: set[int]
) -> dict[int, list[Job]]:
    """Jobs (any owner, any state but closed) about these deployments. Rows without an account predate the
    column: they count as this account's, or reconcile would adopt a deployment a job already tracks."""
    if not dseqs:
        return {}
    # A read through the ledger's own session: no public method selects jobs by dseq across owners.
    with ledger.session() as session:
        rows = session.exec(
            select(Job).where(
                Job.dseq.in_(sorted(dseqs)),
                Job.network == network,
                Job.chain_id == chain_id,
                Job.account.in_([account, ""]),
                Job.state != "closed",
            )
        ).all()
    found: dict[int, list[Job]] = {}
    for job in rows:
        found.setdefault(job.dseq, []).append(job)
    return found


def _tracking_job(jobs: list[Job]) -> Job | None:
    """The job that speaks for a deployment: an open one before a failed one, the newest first."""
    if not jobs:
        return None
    return sorted(jobs, key=lambda j: (j.state != "failed", j.created_at), reverse=True)[0]


def _recorded(ledger: Ledger, job_id: str) -> set[str]:
    kinds = set()
    for event in ledger.events(job_id):
        try:
            data = json.loads(event.data_json or "{}")
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get(MARKER), str):
            kinds.add(data[MARKER])
    return kinds


def _main_lease(deployment: ChainDeployment) -> ChainLease | None:
    """The active lease, else the latest one (to say how it ended)."""
    if deployment.active_leases:
        return deployment.active_leases[0]
    return max(deployment.leases, key=lambda lease: (lease.closed_height, lease.created_height), default=None)


def _lease_end(deployment: ChainDeployment) -> str:
    lease = _main_lease(deployment)
    if lease is None:
        return "there is no lease"
    reason = lease.reason.lower()
    if lease.state == "insufficient_funds" or "insufficient" in reason:
        return "the escrow ran out"
    if "owner" in reason:
        return "it was closed from this account outside Necto"
    if "manifest" in reason:
        return "the provider never received a manifest"
    # Chain reasons read like "lease_closed_unstable" / "lease_closed_reason_decommission".
    detail = display_text(reason.removeprefix("lease_closed_").removeprefix("reason_").replace("_", " "), 40)
    return f"the provider ended it: {detail}" if detail else "the provider ended it"


def _untracked_message(deployment: ChainDeployment, name: str, hours: Decimal | None) -> str:
    lease = _main_lease(deployment)
    if lease is not None and lease.state == "active":
        paying = f" and a lease with {name} paying {_num(deployment.price_uact_per_block)} uact/block"
        if hours is not None:
            paying += f" ({_hours(hours)} left)"
    else:
        paying = " and no active lease"
    return (
        f"Deployment {deployment.dseq} is open on chain with {_act(deployment.escrow_left_uact)} ACT in escrow"
        f"{paying}, but Necto has no record of it (Necto stopped before recording it, or another tool created "
        "it): close it to get the escrow back."
    )


def _act(uact: int) -> str:
    return _num(Decimal(uact) / MICRO)


def _num(value: Decimal | None) -> str:
    if value is None:
        return "?"
    return f"{value.normalize():f}"


def _hours(hours: Decimal) -> str:
    if hours < 1:
        return f"about {max(1, round(hours * 60))} minutes"
    if hours < 10:
        return f"about {hours:.1f} hours"
    return f"about {hours:.0f} hours"


def _round(hours: Decimal | None) -> float | None:
    return None if hours is None else round(float(hours), 2)


def _short(address: str) -> str:
    return f"{address[:10]}…{address[-4:]}" if len(address) > 16 else address


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
