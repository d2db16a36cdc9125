"""The deploy state machine: plan -> confirmed -> signed -> broadcast -> bids -> lease -> manifest_sent ->
running | failed | closed.

Every transition is written to the ledger before the next side effect, so a crash at any point resumes
(or cleans up) on restart without paying twice (security.md "Funds are never stranded"):

- the create tx hash is stored before broadcast; on resume, a stored hash or an existing deployment on
  chain means "already created" and nothing is signed again;
- no acceptable bid before the deadline -> the deployment is closed and the deposit refunded;
- lease created but the manifest rejected or the service never ready -> retry, then close;
- the browser wallet did not sign (``WalletError``) -> nothing was broadcast for that step: the job keeps
  its state and the error goes to the caller, so the approved plan resumes once the wallet is back.

Each job signs with its own chain account (``backend_for(job)``): the owner's wallet or the local key.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tools.deploy.backend import Bid, ChainBackend
from tools.errors import BroadcastError, ManifestRejected, NectoError, NoBids, ProviderError
from tools.events import EventBus
from tools.ledger import Job, Ledger
from tools.settings import NectoSettings
from tools.text import display_text
from tools.wallet.errors import WalletError

log = logging.getLogger(__name__)

STATES = ("plan", "confirmed", "signed", "broadcast", "bids", "lease", "manifest_sent", "running", "failed", "closed")

BidChooser = Callable[[list[Bid], Job], Bid | None | Awaitable[Bid | None]]
MAX_LEASE_ATTEMPTS = 3
# States in which a failure is the chosen provider's doing: its offer is blocked for the owner.
PROVIDER_STATES = frozenset({"lease", "manifest_sent"})


class DeployMachine:
    def __init__(
        self,
        *,
        ledger: Ledger,
        backend: ChainBackend,
        settings: NectoSettings,
        events: EventBus,
        choose_bid: BidChooser,
        backend_for: Callable[[Job], ChainBackend] | None = None,
    ) -> None:
        self.ledger = ledger
        self.backend = backend
        # The chain account a job signs with: the owner's browser wallet or the local key (tools.service).
        self.backend_for: Callable[[Job], ChainBackend] = backend_for or (lambda _job: backend)
        self.settings = settings
        self.events = events
        self.choose_bid = choose_bid

    # --- transitions -------------------------------------------------------------------------------
    def _move(self, job: Job, state: str, message: str, data: dict[str, Any] | None = None, **fields: Any) -> Job:
        job = self.ledger.update_job(job.id, state=state, **fields)
        self.ledger.add_event(job.id, state, message, data)
        self.events.publish(
            job.owner, {"kind": "progress", "job_id": job.id, "state": state, "message": message, "data": data or {}}
        )
        log.info("job %s -> %s: %s", job.id, state, message)
        return job

    def _note(self, job: Job, message: str, data: dict[str, Any] | None = None) -> None:
        self.ledger.add_event(job.id, job.state, message, data)
        self.events.publish(
            job.owner, {"kind": "progress", "job_id": job.id, "state": job.state, "message": message, "data": data or {}}
        )

    # --- the happy path, resumable from any stored state ------------------------------------------------
    async def run(self, job: Job, *, tx_body: bytes) -> Job:
        """Drive ``job`` to running (or failed/closed). Safe to call again on the same job after a crash."""
        try:
            if job.state in ("confirmed", "signed", "broadcast"):
                job = await self._create_deployment(job, tx_body)
            if job.state == "bids":
                job = await self._collect_bids_and_lease(job)
            if job.state == "lease":
                job = await self._send_manifest(job)
            if job.state == "manifest_sent":
                job = await self._wait_running(job)
            return job
        except NoBids as exc:
            return await self._fail_and_close(job.id, exc.message, hint=exc.hint)
        except WalletError as exc:
            # The wallet did not sign (rejected, locked, no page open ...): nothing was broadcast for this
            # step, so the job keeps its state and resumes from it once the wallet is back.
            self._note(self.ledger.job(job.id), f"Waiting for your wallet: {exc.message}",
                       {"wallet_error": exc.code, "hint": exc.hint})
            raise
        except NectoError as exc:
            current = self.ledger.job(job.id)
            if current.state in PROVIDER_STATES:
                self._block_provider(current, current.provider, exc.message)
            return await self._fail_and_close(job.id, exc.message, hint=exc.hint)

    async def _create_deployment(self, job: Job, tx_body: bytes) -> Job:
        on_chain = await self.backend_for(job).deployment_state(job.dseq)
        included = None
        if on_chain is None and job.create_tx_hash:
            included = await self.backend_for(job).find_tx(job.create_tx_hash)
            if included is not None:
                # A rail that chose the dseq (Console) and stopped before Necto recorded it: the tx says which.
                job = self._adopt_dseq(job, included.dseq)
                on_chain = await self.backend_for(job).deployment_state(job.dseq)
        if on_chain == "active":
            if job.state in ("signed", "broadcast"):
                return await self._resume_created(job, tx_body, included)
            return self._move(job, "bids", f"Deployment {job.dseq} is on chain; waiting for bids.")
        if on_chain == "closed":
            return self._move(job, "closed", "The deployment was already closed on chain.", closed_at=datetime.now(UTC))
        if job.create_tx_hash and job.state == "broadcast":
            # Broadcast but neither included nor visible: it can still land; never sign a second deposit.
            included = await self._wait_for(lambda: self.backend_for(job).find_tx(job.create_tx_hash), self.settings.tx_inclusion_timeout_s)
            if included is not None:
                return await self._resume_created(self._adopt_dseq(job, included.dseq), tx_body, included)
            raise NectoError(
                "The create transaction was broadcast but never included; nothing else was signed.",
                hint="Check `necto jobs`; if the deployment shows up later, Necto will pick it up.",
            )

        await self.backend_for(job).ensure_funds(need_uact=job.deposit_uact)

        def on_signed(tx_hash: str) -> None:
            nonlocal job
            job = self._move(job, "signed", "Transaction signed.", {"tx_hash": tx_hash}, create_tx_hash=tx_hash)
            self._tx(job, "create deployment", tx_hash, "broadcast")
            job = self._move(job, "broadcast", "Broadcasting the deployment transaction.", {"tx_hash": tx_hash})

        def on_dseq(dseq: int) -> None:
            # The Console rail: Console chose the dseq (its clock in ms) and the deposit is in escrow. Recorded
            # before anything else, so a crash from here on resumes on that deployment (never an untracked one).
            nonlocal job
            job = self._adopt_dseq(job, dseq)

        self.ledger.audit(
            owner=job.owner, action="create deployment", plan_id=job.plan_id, plan_hash=self._plan_hash(job), result="signing"
        )
        included = await self._send(job, "create deployment", tx_body, on_signed, on_dseq=on_dseq)
        job = self._adopt_dseq(job, included.dseq)  # a backend that chose the dseq without reporting it early
        self.ledger.audit(
            owner=job.owner, action="create deployment", plan_id=job.plan_id, plan_hash=self._plan_hash(job),
            tx_hash=included.tx_hash, result=f"included at height {included.height}",
        )
        self.ledger.upsert_deployment(
            chain_id=job.chain_id, owner_address=job.account or self.backend_for(job).address, dseq=job.dseq,
            network=job.network, owner=job.owner, job_id=job.id, state="active", deposit_uact=job.deposit_uact,
            created_height=included.height,
        )
        return self._move(
            job, "bids", f"Deployment {job.dseq} created at height {included.height}; collecting bids.",
            {"tx_hash": included.tx_hash, "height": included.height},
        )

    async def recover_dseq(self, job: Job) -> Job:
        """A job whose create went out on a rail that chooses the dseq (``chooses_dseq``: Console) but that still
        holds Necto's placeholder (it stopped before recording Console's): adopt the dseq its create tx names.
        Read-only on chain; a failed lookup leaves the job as it is for the resume to retry."""
        if job.state not in ("signed", "broadcast") or not job.create_tx_hash:
            return job
        try:
            backend = self.backend_for(job)
            if not getattr(backend, "chooses_dseq", False):
                return job
            if await backend.deployment_state(job.dseq) is not None:
                return job
            included = await backend.find_tx(job.create_tx_hash)
        except NectoError as exc:
            log.warning("could not look up the create tx of job %s: %s", job.id, exc.message)
            return job
        return self._adopt_dseq(job, included.dseq if included is not None else None)

    def _adopt_dseq(self, job: Job, dseq: int | None) -> Job:
        """Follow the dseq the chain backend chose (the Console rail); Necto's own was only a placeholder."""
        if dseq is None or dseq == job.dseq:
            return job
        placeholder = job.dseq
        job = self.ledger.update_job(job.id, dseq=dseq)
        self._note(job, f"Deployment {dseq} was created (the payment rail chose its number).",
                   {"dseq": dseq, "placeholder_dseq": placeholder})
        return job

    async def _resume_created(self, job: Job, tx_body: bytes, included: Any = None) -> Job:
        """A job that stopped after its create went out, whose deployment is on chain: a backend that did not
        sign the approved bytes itself (Console) checks the deployment against them first (closing it if it
        differs); then the create is recorded as included and the job goes on to the bids."""
        confirm = getattr(self.backend_for(job), "confirm_created", None)
        if confirm is not None:
            await confirm(tx_body, job.dseq)
        if included is None and job.create_tx_hash:
            included = await self.backend_for(job).find_tx(job.create_tx_hash)
        if included is not None:
            self._tx(job, "create deployment", included.tx_hash, "included", height=included.height)
            self.ledger.upsert_deployment(
                chain_id=job.chain_id, owner_address=job.account or self.backend_for(job).address, dseq=job.dseq,
                network=job.network, owner=job.owner, job_id=job.id, state="active", deposit_uact=job.deposit_uact,
                created_height=included.height,
            )
        return self._move(job, "bids", f"Deployment {job.dseq} is on chain; waiting for bids.")

    async def _collect_bids_and_lease(self, job: Job) -> Job:
        block_time = float(await self.backend_for(job).block_time_s())
        start_height = await self.backend_for(job).latest_height()
        # Waiting uses the chain's real pace; prices use the pricing block time (mainnet's in the sandbox).
        measure = getattr(self.backend_for(job), "pricing_block_time_s", None)
        pricing_block_time = Decimal(await measure()) if measure else Decimal(str(block_time))
        deadline = time.monotonic() + self.settings.bid_deadline_s
        seen: dict[str, Bid] = {}
        while True:
            bids = [b for b in await self.backend_for(job).bids(job.dseq) if b.raw.get("bid", {}).get("state", "open") == "open"]
            fresh = [b for b in bids if b.provider not in seen]
            for bid in fresh:
                seen[bid.provider] = bid
            height = await self.backend_for(job).latest_height()
            blocks_left = max(0, self.settings.bid_wait_blocks - (height - start_height))
            if fresh:
                self._note(
                    job,
                    f"{len(seen)} bid(s) so far.",
                    {
                        "bids": [
                            {"provider": b.provider, "uact_per_block": str(b.price_uact_per_block),
                             "usd_per_hour": str(_usd_per_hour(b.price_uact_per_block, pricing_block_time))}
                            for b in seen.values()
                        ],
                        "blocks_left": blocks_left,
                    },
                )
            if blocks_left == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(max(0.02, block_time / 2))
        cap = Decimal(job.max_price_uact_per_block)
        acceptable = [b for b in seen.values() if b.price_uact_per_block <= cap and b.denom == "uact"]
        for _attempt in range(MAX_LEASE_ATTEMPTS):
            chosen = self.choose_bid(acceptable, job) if acceptable else None
            if inspect.isawaitable(chosen):
                chosen = await chosen
            if chosen is None and acceptable:
                raise NoBids(
                    f"{len(acceptable)} bid(s) were at or under {cap} uact/block, but none passed the request's "
                    "filters (GPU, region, the filters you set, or providers blocked after a failure).",
                    hint="Relax the filters or the region, or try again later.",
                )
            if chosen is None:
                self._block_silent_preferred(job, seen)
                raise NoBids(
                    f"No provider bid at or under {cap} uact/block within {self.settings.bid_wait_blocks} blocks.",
                    hint="Raise the budget, relax the region or GPU model, or try again later.",
                )
            try:
                return await self._lease(job, chosen)
            except BroadcastError as exc:
                # The chain refused this lease (the bid closed, the provider went away): block that provider
                # and take the next-best bid (pricing.md §3 failover). A timeout is NOT retried: the lease may
                # still land, and a second lease on the same order must never be attempted blind.
                self._block_provider(job, chosen.provider, f"its lease was refused ({exc.message})")
                acceptable = [b for b in acceptable if b.provider != chosen.provider]
                self._note(job, f"The lease with {chosen.provider} was refused ({exc.message}); trying the next bid.")
        raise NoBids(
            f"{MAX_LEASE_ATTEMPTS} leases in a row were refused.",
            hint="Try again later; the providers that refused are skipped for a while.",
        )

    def _block_silent_preferred(self, job: Job, seen: dict[str, Bid]) -> None:
        """The provider the quote recommended did not bid (or bid over the cap): the next quote ranks without it."""
        try:
            body = json.loads(self.ledger.get_plan(job.plan_id, owner=job.owner).body_json)
        except (NectoError, ValueError):
            return
        preferred = body.get("preferred_provider")
        if not preferred:
            return
        bid = seen.get(preferred)
        if bid is None:
            self._block_provider(job, preferred, "it did not bid on your order")
        elif bid.price_uact_per_block > Decimal(job.max_price_uact_per_block):
            self._block_provider(job, preferred, f"it bid {bid.price_uact_per_block} uact/block, over your max price")

    def _block_provider(self, job: Job, provider: str, reason: str) -> None:
        """Keep a provider that failed this owner out of quotes and bid choices for a while."""
        if not provider:
            return
        now = datetime.now(UTC)
        self.ledger.block_offer(
            owner=job.owner, offer_id=f"akash:{provider}", job_id=job.id,
            reason=f"{reason[:160]} (job {job.id}, {now:%H:%M} UTC)",
            until=now + timedelta(seconds=self.settings.failed_offer_block_s),
        )

    async def _lease(self, job: Job, chosen: Bid) -> Job:
        info = await self.backend_for(job).provider_info(chosen.provider)
        host_uri = str(info.get("host_uri", ""))
        name = _provider_name(info)
        body = self.backend_for(job).create_lease_body(
            dseq=job.dseq, gseq=chosen.gseq, oseq=chosen.oseq, provider=chosen.provider, bseq=chosen.bseq
        )
        job = self.ledger.update_job(
            job.id, provider=chosen.provider, provider_name=name, provider_host=host_uri, gseq=chosen.gseq,
            oseq=chosen.oseq, bseq=chosen.bseq, price_uact_per_block=str(chosen.price_uact_per_block),
        )
        self._note(job, f"Accepting the bid of {name} at {chosen.price_uact_per_block} uact/block.",
                   {"provider": chosen.provider, "provider_name": name})

        def on_signed(tx_hash: str) -> None:
            self.ledger.update_job(job.id, lease_tx_hash=tx_hash)
            self._tx(job, "create lease", tx_hash, "broadcast")

        included = await self._send(job, "create lease", body, on_signed)
        self.ledger.audit(owner=job.owner, action="create lease", plan_id=job.plan_id, tx_hash=included.tx_hash,
                          result=f"lease with {chosen.provider}")
        deployment = self.ledger.upsert_deployment(
            chain_id=job.chain_id, owner_address=job.account or self.backend_for(job).address, dseq=job.dseq,
            network=job.network, owner=job.owner, job_id=job.id,
        )
        self.ledger.upsert_lease(
            deployment_id=deployment.id, gseq=chosen.gseq, oseq=chosen.oseq, provider=chosen.provider,
            job_id=job.id, price_uact_per_block=str(chosen.price_uact_per_block), state="active",
        )
        return self._move(job, "lease", f"Lease created with {name}.",
                          {"provider": chosen.provider, "provider_name": name, "tx_hash": included.tx_hash})

    async def _send_manifest(self, job: Job) -> Job:
        last_error: NectoError | None = None
        for attempt in range(3):
            try:
                await self.backend_for(job).send_manifest(job.provider_host, job.dseq, job.manifest_json.encode())
                return self._move(job, "manifest_sent", f"Manifest sent to {job.provider_name}; starting the containers.")
            except ManifestRejected as exc:
                # A 422 is usually final (the hashes differ), but a provider whose view of the deployment lags
                # the chain answers it too: one more try, then the deployment is closed (security.md).
                if attempt > 0:
                    raise
                last_error = exc
                self._note(job, f"The provider rejected the manifest ({exc.message}); trying once more.")
                await asyncio.sleep(0.5)
            except ProviderError as exc:
                last_error = exc
                self._note(job, f"The provider did not take the manifest (attempt {attempt + 1}): {exc.message}")
                await asyncio.sleep(0.5 * (attempt + 1))
        assert last_error is not None
        raise last_error

    async def _wait_running(self, job: Job) -> Job:
        deadline = time.monotonic() + self.settings.lease_ready_timeout_s
        block_time = float(await self.backend_for(job).block_time_s())
        while time.monotonic() < deadline:
            try:
                status = await self.backend_for(job).lease_readiness(job.provider_host, job.dseq, job.gseq, job.oseq)
            except ProviderError as exc:
                self._note(job, f"Lease status unavailable for now: {exc.message}")
                status = None
            if status is not None and status.ready:
                return self._move(
                    job, "running", "Running." + (f" {', '.join(status.uris)}" if status.uris else ""),
                    {"uris": status.uris, "forwarded_ports": status.forwarded_ports, "provider": job.provider_name},
                    uris_json=json.dumps(status.uris), running_at=datetime.now(UTC),
                )
            await asyncio.sleep(max(0.05, block_time))
        raise ProviderError(
            f"{job.provider_name} did not start the service within {self.settings.lease_ready_timeout_s:.0f} s.",
            hint="Necto closed the deployment and refunded the deposit; try again or pick another provider.",
        )

    # --- failure and close --------------------------------------------------------------------------
    async def _fail_and_close(self, job_id: str, reason: str, *, hint: str = "") -> Job:
        job = self.ledger.job(job_id)
        closed_note = ""
        try:
            active = await self.backend_for(job).deployment_state(job.dseq) == "active"
        except NectoError as exc:
            active = False
            closed_note = f" Necto could not check the chain ({exc.message}); `necto close {job.id} --confirm` retries."
        if active:
            try:
                job, refund = await self._close_on_chain(job, reason="cleanup after failure")
                closed_note = f" The deployment was closed; {Decimal(refund) / Decimal(1_000_000)} ACT refunded."
            except NectoError as exc:
                closed_note = f" Closing it failed too ({exc.message}); `necto close {job.id} --confirm` retries."
        return self._move(job, "failed", reason + closed_note, {"hint": hint}, error=reason + closed_note)

    async def close(self, job: Job) -> Job:
        if job.state == "closed":
            return job
        if not job.create_tx_hash and await self.backend_for(job).deployment_state(job.dseq) is None:
            return self._move(job, "closed", "Nothing was on chain; marked closed.", closed_at=datetime.now(UTC))
        job, refund = await self._close_on_chain(job, reason="closed by the owner")
        return self._move(
            job, "closed", f"Deployment {job.dseq} closed; {Decimal(refund) / Decimal(1_000_000)} ACT refunded.",
            {"refund_uact": refund},
        )

    async def _close_on_chain(self, job: Job, *, reason: str) -> tuple[Job, int]:
        if await self.backend_for(job).deployment_state(job.dseq) != "active":
            return job, job.refund_uact or 0
        before = await self.backend_for(job).uact_balance()
        body = self.backend_for(job).close_deployment_body(dseq=job.dseq)

        def on_signed(tx_hash: str) -> None:
            self.ledger.update_job(job.id, close_tx_hash=tx_hash)
            self._tx(job, "close deployment", tx_hash, "broadcast")

        included = await self._send(job, "close deployment", body, on_signed)
        now = datetime.now(UTC)
        deployment = self.ledger.upsert_deployment(
            chain_id=job.chain_id, owner_address=job.account or self.backend_for(job).address, dseq=job.dseq,
            network=job.network, owner=job.owner, job_id=job.id, state="closed", closed_at=now,
        )
        for lease in self.ledger.leases(deployment.id):
            if lease.state == "active":
                self.ledger.upsert_lease(deployment_id=deployment.id, gseq=lease.gseq, oseq=lease.oseq,
                                         provider=lease.provider, state="closed", closed_at=now)
        after = await self.backend_for(job).uact_balance()
        refund = max(0, after - before)  # gas is paid in uakt, so the uact delta is exactly the refund
        self.ledger.audit(owner=job.owner, action="close deployment", plan_id=job.plan_id, tx_hash=included.tx_hash,
                          result=reason)
        job = self.ledger.update_job(job.id, refund_uact=refund, closed_at=datetime.now(UTC))
        return job, refund

    # --- helpers ------------------------------------------------------------------------------------
    def _tx(self, job: Job, kind: str, tx_hash: str, status: str, **fields: Any) -> None:
        self.ledger.record_tx(owner=job.owner, job_id=job.id, kind=kind, chain="akash", chain_id=job.chain_id,
                              tx_hash=tx_hash, status=status, **fields)

    async def _send(
        self, job: Job, kind: str, body: bytes, on_signed: Callable[[str], None],
        on_dseq: Callable[[int], None] | None = None,
    ) -> Any:
        """Sign and broadcast, with the transaction's life (broadcast -> included | failed) in the ledger.
        ``on_dseq`` goes to a backend that chooses the dseq itself (``chooses_dseq``: the Console rail)."""
        signed: list[str] = []

        def remember(tx_hash: str) -> None:
            signed.append(tx_hash)
            on_signed(tx_hash)

        extra = {"on_dseq": on_dseq} if on_dseq is not None and getattr(self.backend_for(job), "chooses_dseq", False) else {}
        try:
            included = await self.backend_for(job).sign_and_send(body, on_signed=remember, **extra)
        except NectoError as exc:
            if signed:
                self._tx(job, kind, signed[-1], "failed", error=exc.message[:300])
            raise
        for replaced in signed[:-1]:
            if replaced != included.tx_hash:
                # Re-signed after an account sequence mismatch: CheckTx refused it, so it never reached a block.
                self._tx(job, kind, replaced, "failed", error="replaced: re-signed after an account sequence mismatch")
        self._tx(job, kind, included.tx_hash, "included", height=included.height)
        return included

    def _plan_hash(self, job: Job) -> str:
        plan = self.ledger.get_plan(job.plan_id, owner=job.owner)
        return plan.plan_hash

    @staticmethod
    async def _wait_for(probe, timeout_s: float):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(0.5)
        return None


def _usd_per_hour(uact_per_block: Decimal, block_time_s: Decimal) -> Decimal:
    return (uact_per_block / Decimal(1_000_000) * Decimal(3600) / block_time_s).quantize(Decimal("0.0001"))


def _provider_name(info: dict[str, Any]) -> str:
    for attribute in info.get("attributes", []) or []:
        if attribute.get("key") in ("organization", "name") and display_text(attribute.get("value"), 48):
            return display_text(attribute.get("value"), 48)
    host = display_text(str(info.get("host_uri", "")).split("//")[-1].split(":")[0], 64)
    return host or display_text(info.get("owner", "provider"), 20)
