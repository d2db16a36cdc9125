"""NectoService: the domain facade the agent tools, the chat and the CLI call.

It owns the settings, the ledger, the event bus, the price sources and the chain backend, and it is the
only place where plans are built, stored, confirmed and executed. Framework-free: ADK and Chainlit sit
on top of it (agent/, ui/).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tools.deploy.backend import Bid, ChainBackend
from tools.deploy.machine import DeployMachine
from tools.deploy.plan import (
    MICRO,
    b64,
    canonical_json,
    card_text,
    close_card,
    deploy_card,
    describe_resources,
    new_id,
    plan_hash,
    price_plan,
    uact_per_block_to_usd_per_hour,
    unb64,
)
from tools.errors import BudgetExceeded, InvalidRequest, NectoError, PolicyDenied, RouterError
from tools.events import EventBus
from tools.ledger import RESUMABLE_STATES, Job, Ledger, Plan
from tools.request import HOURS_PER_MONTH, WORKLOADS, ComputeRequest
from tools.settings import NectoSettings
from tools.text import clean_text

log = logging.getLogger(__name__)

PLAN_TTL = timedelta(minutes=30)
CLAIM_S = 120  # a worker's claim on a job it drives; renewed every CLAIM_S / 3 while it runs


def _filter_keys() -> frozenset[str]:
    from tools.pricing.rank import OfferFilters

    return frozenset(OfferFilters.model_fields)


FILTER_KEYS = _filter_keys()
NON_REQUEST_KEYS = FILTER_KEYS | {"tracked"}


def _source_family(name: str) -> str:
    """The source object that serves ``name``: ``skypilot:runpod`` comes from ``skypilot``."""
    return name.split(":", 1)[0]


class NectoService:
    def __init__(
        self,
        settings: NectoSettings,
        *,
        backend: ChainBackend,
        ledger: Ledger | None = None,
        sources: list[Any] | None = None,
        devnet: Any = None,
        tokens: Any = None,
        tracker: Any = None,
        traces: Any = None,
    ) -> None:
        from tools.pricing.token_service import TokenPriceService
        from tools.routing.traces import LocalTraceStore

        self.settings = settings
        # Tracked jobs are recorded in the ComputeRouter (tools.tracking); None: no EVM chain configured.
        self.tracker = tracker
        # Reasoning traces, content-addressed (a 0G Storage backend can implement the same TraceStore).
        self.traces = traces if traces is not None else LocalTraceStore(settings.trace_dir or settings.data_dir / "traces")
        # Token prices (AKT, RENDER, IO): the oracle first, then CoinGecko when wired (tools.wiring).
        self.tokens = tokens if tokens is not None else TokenPriceService(oracle=lambda: backend.akt_usd())
        self.backend = backend
        self.ledger = ledger or Ledger(settings.effective_database_url)
        self.events = EventBus()
        self.sources = sources if sources is not None else []
        self.devnet = devnet
        self._last_quote: dict[str, dict[str, Any]] = {}
        self.block_time = settings.block_time_s  # seconds per block for pricing; refreshed from the chain
        self._running: dict[str, asyncio.Task] = {}
        self._closing: set[str] = set()  # jobs whose close is landing: reconcile leaves them alone
        # Several Necto processes may share one database: a job is driven only by the worker holding its claim.
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._reconcile_lock: asyncio.Lock | None = None
        self.last_reconcile: Any = None  # the latest ReconcileReport
        # Browser wallets (tools.wallet): sign-in nonces, each chat's "ask the page" function by owner, and one
        # backend per connected wallet (owner, address). Without a wallet an owner signs with ``backend``.
        from tools.wallet.signin import SignInChallenges

        self.signin = SignInChallenges(chain_id=settings.effective_chain_id)
        self._wallet_asks: dict[str, Any] = {}
        self._wallet_backends: dict[tuple[str, str], Any] = {}
        self.machine = DeployMachine(
            ledger=self.ledger, backend=backend, settings=settings, events=self.events, choose_bid=self._choose_bid,
            backend_for=self.backend_for_job,
        )

    async def refresh_block_time(self) -> Decimal:
        """The block time prices are converted with: measured on a real network, mainnet's in the sandbox."""
        measure = getattr(self.backend, "pricing_block_time_s", None)
        if measure is not None:
            try:
                self.block_time = Decimal(await measure())
            except NectoError as exc:
                log.warning("block time unavailable (%s); keeping %s s", exc.message, self.block_time)
        return self.block_time

    # --- quotes ------------------------------------------------------------------------------------
    def build_request(self, args: dict[str, Any]) -> ComputeRequest:
        """A ComputeRequest from what the user said, with the template's defaults for what they didn't.

        Hard-filter keys (``OfferFilters`` fields such as ``min_vram_gib``) are not part of the request and
        are ignored here; ``build_filters`` reads them."""
        from tools.sdl.templates import template_defaults

        args = {k: v for k, v in args.items() if v is not None and k not in NON_REQUEST_KEYS}
        workload = args.get("workload", "custom")
        defaults = template_defaults(workload) if workload in WORKLOADS else {}
        merged = {**defaults, **args}
        if merged.get("gpu_model") and not merged.get("gpu_count"):
            merged["gpu_count"] = 1
        return ComputeRequest.parse(merged)

    def build_filters(self, args: dict[str, Any]) -> Any:
        """The ``OfferFilters`` in ``args`` (None when there are none); a readable error for bad values."""
        from pydantic import ValidationError

        from tools.pricing.rank import OfferFilters

        given = {k: v for k, v in args.items() if k in FILTER_KEYS and v not in (None, [], ())}
        if not given:
            return None
        if "sources" in given:
            given["sources"] = self._known_source_names(given["sources"])
        try:
            return OfferFilters.model_validate(given)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "filter"
            raise InvalidRequest(f"The {field} filter is not valid: {first.get('msg', 'bad value')}.") from None

    def source_names(self) -> list[str]:
        return sorted({str(getattr(source, "name", "")) for source in self.sources})

    def _known_source_names(self, names: Any) -> list[str]:
        names = [names] if isinstance(names, str) else list(names)
        available = self.source_names()
        unknown = [n for n in names if _source_family(str(n).strip().lower()) not in available]
        if unknown:
            raise InvalidRequest(
                f"Unknown price source {', '.join(map(str, unknown))}.",
                hint=f"Connected sources: {', '.join(available) or 'none'} (SkyPilot clouds as skypilot:<cloud>).",
            )
        return [str(n).strip().lower() for n in names]

    async def quote(self, args: dict[str, Any], *, limit: int = 8, owner: str = "local") -> dict[str, Any]:
        """Rank every connected source's offers for the request in ``args`` (ComputeRequest fields plus
        optional hard filters: ``OfferFilters`` fields, e.g. ``min_vram_gib``, ``sources``)."""
        from tools.pricing.quote import gather_quote

        request = self.build_request(args)
        filters = self.build_filters(args)
        sources = self.sources
        if filters is not None and filters.sources:
            families = {_source_family(name) for name in filters.sources}
            sources = [source for source in self.sources if getattr(source, "name", "") in families]
        now = datetime.now(UTC)
        quote = await gather_quote(
            request, sources, now=now, timeout_s=self.settings.http_timeout_s,
            blocked=self.ledger.blocked_offers(owner, now), filters=filters,
        )
        data = quote.to_json()
        offers = data["offers"][:limit]
        best = quote.ranking.best_deployable
        recommendation = next((o for o in data["offers"] if best and o["offer_id"] == best.offer.offer_id), None)
        result = {
            "status": "ok",
            "request": request.model_dump(mode="json"),
            "offers": offers,
            "offers_total": len(data["offers"]),
            "recommendation": recommendation,
            "cheapest_overall": data["offers"][0] if data["offers"] else None,
            "skipped": data["skipped"],
            "excluded_count": len(quote.ranking.excluded),
            "sources": sorted(getattr(source, "name", "?") for source in sources),
            **({"filters": filters.model_dump(mode="json", exclude_defaults=True)} if filters is not None else {}),
            "explanation": quote.ranking.explain(),
        }
        if not data["offers"]:
            result["hint"] = _relax_hint(request)
        self._last_quote[owner] = {"request": request, "offers": {o["offer_id"]: o for o in data["offers"]},
                                   "quote": quote, "block_time": self.block_time}
        return result

    def last_quote_offers(self, owner: str = "local", limit: int = 80) -> list[dict[str, Any]]:
        """The ranked offers (JSON dicts) of ``owner``'s last quote, best first: the chart's points."""
        cached = self._last_quote.get(owner)
        return list(cached["offers"].values())[:limit] if cached else []

    async def normalize_price(self, amount: float, unit: str, akt_usd: float | None) -> dict[str, Any]:
        """Convert a price between Akash per-block units and USD per hour/month (tools.pricing.normalize)."""
        from tools.pricing.normalize import (
            DenomPriceMissing,
            block_price_from_usd_per_hour,
            to_decimal,
            usd_per_hour_from_block_price,
            usd_per_month,
        )

        value = to_decimal(amount, what="the price")
        if value < 0:
            raise InvalidRequest("A price can't be negative.")
        akt_source = "given"
        warnings: list[str] = []
        if unit == "uakt_per_block" and akt_usd is None:
            from tools.pricing.tokens import TokenPriceUnavailable

            try:
                token = await self.tokens.price("AKT")
            except TokenPriceUnavailable as exc:
                log.info("no AKT price: %s", exc.reason)
            else:
                akt_usd = token.usd
                akt_source = f"{token.source}, observed {token.observed_at:%Y-%m-%d %H:%M} UTC"
                if token.stale:
                    akt_source += ", STALE"
                    warnings.append(
                        f"The AKT price is stale ({token.source}, observed {token.observed_at:%Y-%m-%d %H:%M} UTC): "
                        "no fresher price could be fetched, so treat this conversion as approximate."
                    )
        akt = to_decimal(akt_usd, what="the AKT price") if akt_usd is not None else None
        block_time = await self.refresh_block_time()
        inputs = {"amount": str(value), "unit": unit, "block_time_s": str(block_time)}
        try:
            if unit in ("uact_per_block", "act_per_block", "uakt_per_block"):
                micro = value * MICRO if unit == "act_per_block" else value
                denom = "uakt" if unit == "uakt_per_block" else "uact"
                usd_h = usd_per_hour_from_block_price(micro, denom, block_time_s=block_time, akt_usd=akt)
                inputs["denom_usd"] = f"{akt} ({akt_source})" if denom == "uakt" else "1 (ACT is pegged to USD)"
            elif unit in ("usd_per_hour", "cents_per_hour", "usd_per_month"):
                usd_h = value / (100 if unit == "cents_per_hour" else HOURS_PER_MONTH if unit == "usd_per_month" else 1)
            else:
                raise InvalidRequest(f"Unknown price unit {unit!r}.")
        except DenomPriceMissing:
            raise InvalidRequest(
                "Converting uakt needs the AKT price, and neither the chain's oracle nor CoinGecko has one right now.",
                hint="Say the AKT price (e.g. 'at AKT $1.30'), or quote in uact (deployments are priced in "
                "ACT since March 2026).",
            ) from None
        return {
            "status": "ok",
            **({"warnings": warnings} if warnings else {}),
            "usd_per_hour": float(usd_h.quantize(Decimal("0.000001"))),
            "usd_per_month": float(usd_per_month(usd_h).quantize(Decimal("0.01"))),
            "uact_per_block": block_price_from_usd_per_hour(usd_h, block_time_s=block_time),
            "inputs": inputs,
            "formula": "usd/h = amount_per_block / 10^6 * 3600 / block_time_s * denom_usd; month = 730 h",
        }

    # --- deploy plans ------------------------------------------------------------------------------
    async def create_deploy_plan(
        self,
        args: dict[str, Any],
        *,
        port: int | None,
        offer_id: str | None,
        owner: str,
        env: dict[str, str] | None = None,
        model: str | None = None,
    ) -> dict[str, Any]:
        from tools.sdl.compiler import compile_sdl
        from tools.sdl.templates import TemplateVars, render_sdl

        request = self.build_request(args)
        filters = self.build_filters(args)
        tracked = self._tracked_choice(args.get("tracked"))
        if filters is not None and filters.sources and "akash" not in {_source_family(n) for n in filters.sources}:
            raise InvalidRequest(
                f"Necto deploys to Akash, and the filter 'sources: {', '.join(filters.sources)}' leaves Akash out.",
                hint="Drop the source filter to deploy, or ask for a quote to compare those offers.",
            )
        if request.workload == "custom" and not request.image:
            raise InvalidRequest(
                "A custom deployment needs a container image.",
                hint="Say which image, e.g. 'deploy nginx:1.27 on port 80', or pick a template like nextjs or static.",
            )
        env = dict(env or {})
        generated_secrets = _fill_required_secrets(request.workload, env)
        offer = None
        cached = self._last_quote.get(owner)
        if offer_id and cached:
            offer = cached["offers"].get(offer_id)
        if offer is None:
            filter_args = {k: v for k, v in args.items() if k in FILTER_KEYS}
            quoted = await self.quote({**request.model_dump(mode="json"), **filter_args}, limit=1, owner=owner)
            offer = quoted.get("recommendation")
        if offer is not None and not offer.get("deployable", False):
            offer = None
        decision = await self._record_decision(owner, offer)
        expected = Decimal(str(offer["usd_per_hour"])) if offer else None
        block_time = await self.refresh_block_time()
        pricing = price_plan(
            expected_usd_per_hour=expected,
            max_usd_per_hour=request.max_usd_per_hour,
            hours=Decimal(str(request.hours)),
            block_time_s=block_time,
            min_deposit_uact=self.settings.min_deposit_uact,
            max_deposit_uact=self.settings.max_deposit_uact,
            max_price_uact_per_block=self.settings.max_price_uact_per_block,
        )
        variables = TemplateVars.parse(
            {
                "image": request.image,
                "port": port,
                "cpu": request.cpu,
                "memory_gib": request.memory_gib,
                "storage_gib": request.storage_gib,
                "gpu_model": request.gpu_model,
                "gpu_count": request.gpu_count,
                "region": request.region,
                "price_uact_per_block": pricing.max_price_uact_per_block,
                "env": env,
                "model": model,
            }
        )
        sdl_text = render_sdl(request.workload, variables)
        compiled = compile_sdl(sdl_text)
        if len(compiled.groups) != 1:
            raise InvalidRequest("Deployments with several placement groups are not supported yet.")
        # The chain charges price x count for every resource unit: split the cap so the whole
        # deployment stays within it (templates like wordpress have two priced units).
        replicas = sum(p.count for p in compiled.prices)
        if replicas > 1:
            per_unit = (pricing.max_price_uact_per_block / replicas).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
            variables = variables.model_copy(update={"price_uact_per_block": per_unit})
            sdl_text = render_sdl(request.workload, variables)
            compiled = compile_sdl(sdl_text)
        total_cap = sum((p.amount * p.count for p in compiled.prices), Decimal(0))
        dseq = int(datetime.now(UTC).timestamp() * 1000)  # Console's convention: unique per owner
        signer_backend = self.backend_for(owner)  # the owner's connected wallet, else the local key
        tx_body = signer_backend.create_deployment_body(
            dseq=dseq, groups=compiled.groups, manifest_hash=compiled.manifest_hash, deposit_uact=pricing.deposit_uact,
            # console rail: Console compiles and signs the SDL itself (tools/console/backend.py)
            **({"sdl": sdl_text} if getattr(signer_backend, "rail", "self") == "console" else {}),
        )
        services = [
            {
                "name": s["name"],
                "image": s["image"],
                "ports": [
                    {"port": p["port"], "as": p.get("as") or p["port"], "global": p.get("global", False),
                     "proto": p.get("proto", "TCP")}
                    for p in s["ports"]
                ],
            }
            for s in compiled.services
        ]
        body = {
            "kind": "deploy",
            "owner": owner,
            "network": self.settings.network,
            "chain_id": self.settings.effective_chain_id,
            "owner_address": signer_backend.address,
            "dseq": dseq,
            "workload": request.workload,
            "request": request.model_dump(mode="json"),
            "sdl": sdl_text,
            "manifest_json": compiled.manifest_json.decode(),
            "manifest_hash": compiled.manifest_hash.hex(),
            "deposit_uact": pricing.deposit_uact,
            "max_price_uact_per_block": str(total_cap.normalize()),
            "max_usd_per_hour": str(uact_per_block_to_usd_per_hour(total_cap, block_time)),
            "expected_usd_per_hour": str(expected) if expected is not None else None,
            "funded_hours": str(pricing.funded_hours),
            "preferred_provider": offer.get("provider_address") if offer else None,
            "preferred_provider_name": offer.get("provider") if offer else None,
            "offer_id": offer.get("offer_id") if offer else None,
            # The routing decision behind this plan (snapshot + outcome hashes, tools.routing): under the plan
            # hash, so `necto verify` can tell a changed decision from the one the user approved.
            "routing_decision": (
                {"id": decision[0], "decision_hash": decision[1].decision_hash,
                 "request_sha256": decision[1].request_sha256, "policy_version": decision[1].policy_version}
                if decision else None
            ),
            "tracked": tracked,
            **({"tracking": self.tracker.describe()} if tracked and self.tracker is not None else {}),
            # The user's hard filters also bind the bid choice (audited only, VRAM ...), so they are signed off.
            **({"filters": filters.model_dump(mode="json", exclude_defaults=True)} if filters is not None else {}),
            "services": services,
            "resources": describe_resources(compiled.groups),
            "fee_uakt_max": self.settings.max_fee_uakt,
            "generated_secrets": generated_secrets,
            "notes": list(pricing.notes)
            + (
                [f"Necto generated {', '.join(generated_secrets)} for you; read it on this machine with "
                 "`necto secrets JOB` (it is never shown to the model or in the chat)."]
                if generated_secrets
                else []
            ),
        }
        digest = plan_hash(body, tx_body)
        plan = Plan(
            id=new_id("plan"),
            owner=owner,
            kind="deploy",
            plan_hash=digest,
            body_json=canonical_json(body),
            tx_body_b64=b64(tx_body),
            expires_at=datetime.now(UTC) + PLAN_TTL,
        )
        self.ledger.add_plan(plan)
        if decision is not None:
            self.ledger.link_routing_decision(decision[0], plan_id=plan.id)
        card = deploy_card(body, self.backend.describe(tx_body), plan.id, digest)
        return {
            "status": "ok",
            "plan_id": plan.id,
            "plan_hash": digest,
            "request": body["request"],
            "sdl": redact_env(sdl_text),
            "manifest_hash": body["manifest_hash"],
            "summary": card,
            **await self._deposit_funding(pricing.deposit_uact, plan_id=plan.id, owner=owner),
        }

    def plan_summary(self, plan_id: str, *, owner: str) -> dict[str, Any]:
        plan = self._verified_plan(plan_id, owner=owner)
        body = json.loads(plan.body_json)
        tx_body = unb64(plan.tx_body_b64)
        messages = self.backend.describe(tx_body)
        from tools.deploy.plan import certificate_card, mint_card

        build_card = {"deploy": deploy_card, "mint": mint_card, "certificate": certificate_card}.get(
            plan.kind, close_card
        )
        card = build_card(body, messages, plan.id, plan.plan_hash)
        return {"status": "ok", "plan_id": plan.id, "plan_hash": plan.plan_hash, "card": card, "text": card_text(card)}

    def _verified_plan(self, plan_id: str, *, owner: str) -> Plan:
        """The stored plan, after checking that its hash still matches its contents."""
        plan = self.ledger.get_plan(plan_id, owner=owner)
        body = json.loads(plan.body_json)
        if plan_hash(body, unb64(plan.tx_body_b64)) != plan.plan_hash:
            raise PolicyDenied("This plan was changed after it was built; it will not be signed.")
        return plan

    async def execute_deploy_plan(self, plan_id: str, *, confirmed_hash: str, owner: str) -> dict[str, Any]:
        plan = self._verified_plan(plan_id, owner=owner)
        if plan.kind != "deploy":
            raise PolicyDenied("That plan is not a deployment plan.")
        if confirmed_hash != plan.plan_hash:
            self.ledger.audit(owner=owner, action="create deployment", plan_id=plan_id, plan_hash=confirmed_hash,
                              result="refused: confirmed hash differs from the stored plan")
            raise PolicyDenied("The approved card does not match this plan; nothing was signed.",
                               hint="Ask again to get a fresh confirmation card.")
        existing = self.ledger.job_for_plan(plan_id)
        if existing is not None:
            # ADK may run a confirmed tool more than once: the second call reports, never re-signs.
            if existing.state not in ("running", "failed", "closed") and existing.id not in self._running:
                if not self.ledger.claim_job(existing.id, self.worker_id, lease_s=CLAIM_S):
                    return self._job_result(existing)  # another Necto process is driving it
                return await self._run_job_result(existing, unb64(plan.tx_body_b64))
            elif existing.id in self._running:
                existing = await asyncio.shield(self._running[existing.id])
            return self._job_result(existing)
        if plan.expires_at and _aware(plan.expires_at) < datetime.now(UTC):
            raise PolicyDenied("This plan has expired (prices move); nothing was signed.",
                               hint="Ask again for a fresh plan.")
        body = json.loads(plan.body_json)
        self._check_caps(owner, body)
        job = Job(
            id=new_id("job"),
            owner=owner,
            plan_id=plan.id,
            state="confirmed",
            network=body["network"],
            chain_id=body["chain_id"],
            account=body["owner_address"],
            workload=body["workload"],
            request_json=canonical_json(body["request"]),
            manifest_json=body["manifest_json"],
            manifest_hash=body["manifest_hash"],
            dseq=body["dseq"],
            max_price_uact_per_block=body["max_price_uact_per_block"],
            deposit_uact=body["deposit_uact"],
            provider_name=body.get("preferred_provider_name") or "",
            tracked=bool(body.get("tracked")),
        )
        self.ledger.add_job(job)
        self.ledger.claim_job(job.id, self.worker_id, lease_s=CLAIM_S)
        if body.get("routing_decision"):
            self.ledger.link_routing_decision(body["routing_decision"]["id"], job_id=job.id)
        self.ledger.update_plan(plan.id, status="executing", job_id=job.id)
        self.ledger.add_event(job.id, "confirmed", "You approved the plan.", {"plan_hash": plan.plan_hash})
        self.ledger.audit(owner=owner, action="approve deployment plan", plan_id=plan.id, plan_hash=plan.plan_hash,
                          result="approved")
        result = await self._run_job_result(job, unb64(plan.tx_body_b64))
        if not result.get("resumable"):
            self.ledger.update_plan(plan.id, status="executed")
        return result

    async def _run_job_result(self, job: Job, tx_body: bytes) -> dict[str, Any]:
        """Run the job; a wallet that did not sign pauses it (nothing broadcast) instead of failing it."""
        from tools.wallet.errors import WalletError

        try:
            return self._job_result(await self._run_job(job, tx_body))
        except WalletError as exc:
            current = self.ledger.job(job.id)
            return {**exc.to_result(), "job_id": current.id, "dseq": current.dseq, "state": current.state,
                    "resumable": True}

    async def _run_job(self, job: Job, tx_body: bytes) -> Job:
        # The deploy outlives its caller: a closed browser tab cancels the chat handler, not the deploy.
        task = asyncio.ensure_future(self._run_and_track(job, tx_body))
        self._running[job.id] = task
        task.add_done_callback(lambda _done: self._running.pop(job.id, None))
        return await asyncio.shield(task)

    async def _run_and_track(self, job: Job, tx_body: bytes) -> Job:
        renewer = asyncio.ensure_future(self._keep_claim(job.id))
        try:
            job = await self.machine.run(job, tx_body=tx_body)
        finally:
            renewer.cancel()
            self.ledger.release_claim(job.id, self.worker_id)
        await self.sync_tracking(job)
        return job

    async def _keep_claim(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(CLAIM_S / 3)
            if not self.ledger.renew_claim(job_id, self.worker_id, CLAIM_S):
                log.warning("lost the claim on job %s to another worker", job_id)
                return

    def _check_caps(self, owner: str, body: dict[str, Any]) -> None:
        s = self.settings
        if body["chain_id"] not in s.allowed_chain_ids:
            raise PolicyDenied(f"Chain id {body['chain_id']!r} is not in the allow-list.")
        if body["deposit_uact"] > s.max_deposit_uact:
            raise BudgetExceeded(f"The deposit exceeds your per-deploy cap of {s.max_deposit_uact / 1e6:g} ACT.")
        if Decimal(body["max_price_uact_per_block"]) > s.max_price_uact_per_block:
            raise BudgetExceeded("The max price per block exceeds your cap.")
        spent_today = self.ledger.deposits_since(owner, datetime.now(UTC) - timedelta(days=1))
        if spent_today + body["deposit_uact"] > s.daily_cap_uact:
            raise BudgetExceeded(
                f"This deposit would take you past your daily cap of {s.daily_cap_uact / 1e6:g} ACT "
                f"({spent_today / 1e6:g} ACT already deposited in the last 24 h).",
                hint="Close a deployment you no longer need, or raise NECTO_DAILY_CAP_UACT.",
            )
        if len(self.ledger.open_jobs(owner=owner)) >= s.max_open_deployments:
            raise BudgetExceeded(f"You already have {s.max_open_deployments} open deployments (your cap).",
                                 hint="Close one first ('close job ...').")

    # --- close plans -------------------------------------------------------------------------------
    async def create_close_plan(self, job_id: str | None, *, owner: str) -> dict[str, Any]:
        job = self.ledger.get_job(job_id, owner=owner, open_only=job_id is None)
        if job.state in ("closed",):
            raise InvalidRequest(f"Job {job.id} is already closed.")
        job_backend = self.backend_for_job(job)
        tx_body = job_backend.close_deployment_body(dseq=job.dseq)
        escrow_left = await job_backend.escrow_left_uact(job.dseq)
        body = {
            "kind": "close",
            "owner": owner,
            "job_id": job.id,
            "network": job.network,
            "chain_id": job.chain_id,
            "owner_address": job.account,
            "dseq": job.dseq,
            "provider": job.provider,
            "provider_name": job.provider_name,
            "refund_estimate_act": None if escrow_left is None else str(Decimal(escrow_left) / MICRO),
            "fee_uakt_max": self.settings.max_fee_uakt,
        }
        digest = plan_hash(body, tx_body)
        plan = Plan(id=new_id("plan"), owner=owner, kind="close", plan_hash=digest, body_json=canonical_json(body),
                    tx_body_b64=b64(tx_body), job_id=job.id, expires_at=datetime.now(UTC) + PLAN_TTL)
        self.ledger.add_plan(plan)
        return {"status": "ok", "plan_id": plan.id, "plan_hash": digest, "job_id": job.id}

    async def execute_close_plan(
        self, plan_id: str, *, confirmed_hash: str, owner: str, job_id: str | None = None
    ) -> dict[str, Any]:
        plan = self._verified_plan(plan_id, owner=owner)
        if plan.kind != "close" or not plan.job_id:
            raise PolicyDenied("That plan is not a close plan.")
        if job_id and not plan.job_id.startswith(job_id):
            raise PolicyDenied("The approval was for closing a different job; nothing was signed.")
        if confirmed_hash != plan.plan_hash:
            raise PolicyDenied("The approved card does not match this plan; nothing was signed.")
        job = self.ledger.get_job(plan.job_id, owner=owner)
        self.ledger.audit(owner=owner, action="approve close plan", plan_id=plan.id, plan_hash=plan.plan_hash,
                          result="approved")
        self._closing.add(job.id)
        try:
            job = await self.machine.close(job)
        finally:
            self._closing.discard(job.id)
        await self.sync_tracking(job)
        self.ledger.update_plan(plan.id, status="executed")
        return {
            "status": "ok",
            "job_id": job.id,
            "dseq": job.dseq,
            "state": job.state,
            "refund_uact": job.refund_uact,
            "refund_usd": float(Decimal(job.refund_uact or 0) / MICRO),
            "refund_act": _act(job.refund_uact or 0),
            "message": _refund_sentence(job),
        }

    # --- ACT mint plans (akash.md §1: deposits are paid in ACT, minted by burning AKT) ------------------
    def _mint_fee_reserve_uakt(self) -> int:
        # AKT the mint leaves alone: its own fee, and the fee money ensure_funds wants for the deploy after it.
        return 2 * self.settings.max_fee_uakt

    async def _deposit_funding(self, deposit_uact: int, *, plan_id: str, owner: str) -> dict[str, Any]:
        """``{"funding": ...}`` for a deploy plan when the account lacks the ACT for its deposit and no faucet
        tops it up (any network but the local sandbox): what is missing and the mint that would cover it.
        ``{}`` when the balance covers it or cannot be read (the deploy itself checks again)."""
        from tools.deploy.funding import propose_mint, shortfall_uact

        account = self.backend_for(owner)
        if getattr(account, "faucet", False) or not hasattr(account, "balances"):
            return {}
        try:
            balances = await account.balances()
        except NectoError as exc:
            log.warning("balance unavailable for the funding check (%s)", exc.message)
            return {}
        missing = shortfall_uact(balances, deposit_uact)
        if missing == 0:
            return {}
        funding: dict[str, Any] = {
            "status": "short",
            "act_balance": _act(balances.uact),
            "akt_balance": _act(balances.uakt),
            "deposit_act": _act(deposit_uact),
            "shortfall_act": _act(missing),
            "message": f"Your account holds {_act(balances.uact)} ACT; this deposit needs {_act(deposit_uact)} ACT.",
        }
        try:
            proposal = propose_mint(
                balances=balances, want_uact=missing, akt_usd=await self.backend.akt_usd(),
                bme=await self.backend.bme_state(), fee_reserve_uakt=self._mint_fee_reserve_uakt(),
            )
        except NectoError as exc:
            funding["mint_possible"] = False
            funding["mint_error"] = exc.message
            funding["next_step"] = exc.hint or "Add ACT to the account before deploying."
        else:
            funding["mint_possible"] = True
            funding["mint_burn_akt"] = _act(proposal.burn_uakt)
            funding["mint_expected_act"] = _act(proposal.expected_uact)
            funding["next_step"] = (
                f"Propose mint_act with for_plan_id={plan_id}: once the user approves that card and the ACT "
                "arrives, deploy this plan."
            )
        return {"funding": funding}

    async def create_mint_plan(
        self, owner: str, *, act_amount: float | str | Decimal | None = None, for_plan_id: str | None = None
    ) -> dict[str, Any]:
        """A plan to mint ACT from the account's AKT: ``act_amount`` ACT, or what deploy plan ``for_plan_id``
        is missing. The BME status is checked here and again right before signing."""
        from tools.deploy.funding import DEFAULT_MIN_MINT_UACT, propose_mint, shortfall_uact
        from tools.deploy.plan import mint_card

        if (act_amount is None) == (for_plan_id is None):
            raise InvalidRequest("Say how much ACT to mint (e.g. 'mint 20 ACT'), or mint for a deployment plan.",
                                 hint="The chain mints at least 10 ACT at a time.")
        account = self.backend_for(owner)  # the owner's connected wallet, else the local key
        balances = await account.balances()
        if for_plan_id is not None:
            deploy_plan = self._verified_plan(for_plan_id, owner=owner)
            if deploy_plan.kind != "deploy":
                raise InvalidRequest("That plan is not a deployment plan, so there is no deposit to mint for.")
            deposit = int(json.loads(deploy_plan.body_json)["deposit_uact"])
            want = shortfall_uact(balances, deposit)
            if want == 0:
                raise InvalidRequest(
                    f"Your account already holds {_act(balances.uact)} ACT, enough for this plan's "
                    f"{_act(deposit)} ACT deposit; no mint is needed.",
                    hint="Approve the deployment card to go ahead.",
                )
        else:
            want = _uact_from_act(act_amount)
            if want > self.settings.daily_cap_uact:
                raise BudgetExceeded(
                    f"Minting {_act(want)} ACT at once is more than your daily deposit cap of "
                    f"{_act(self.settings.daily_cap_uact)} ACT, and ACT only pays deposits.",
                    hint="Mint less, or raise NECTO_DAILY_CAP_UACT.",
                )
        proposal = propose_mint(
            balances=balances, want_uact=want, akt_usd=await self.backend.akt_usd(),
            bme=await self.backend.bme_state(), fee_reserve_uakt=self._mint_fee_reserve_uakt(),
        )
        tx_body = account.mint_act_body(burn_uakt=proposal.burn_uakt)
        body = {
            "kind": "mint",
            "owner": owner,
            "network": self.settings.network,
            "chain_id": self.settings.effective_chain_id,
            "owner_address": account.address,
            "burn_uakt": proposal.burn_uakt,
            "want_uact": proposal.want_uact,
            "target_uact": proposal.target_uact,
            "expected_uact": proposal.expected_uact,
            "min_mint_uact": DEFAULT_MIN_MINT_UACT,
            "akt_usd": str(proposal.akt_usd),
            "usd_value": str(proposal.usd_value),
            "margin": str(proposal.margin),
            "fee_reserve_uakt": proposal.fee_reserve_uakt,
            "act_balance_uact": balances.uact,
            "for_plan_id": for_plan_id,
            "fee_uakt_max": self.settings.max_fee_uakt,
            "notes": list(proposal.notes),
        }
        digest = plan_hash(body, tx_body)
        plan = Plan(id=new_id("plan"), owner=owner, kind="mint", plan_hash=digest, body_json=canonical_json(body),
                    tx_body_b64=b64(tx_body), expires_at=datetime.now(UTC) + PLAN_TTL)
        card = mint_card(body, account.describe(tx_body), plan.id, digest)  # refuses bytes != plan
        self.ledger.add_plan(plan)
        return {"status": "ok", "plan_id": plan.id, "plan_hash": digest, "for_plan_id": for_plan_id, "summary": card}

    def _approved_plan(self, plan_id: str, *, kind: str, action: str, confirmed_hash: str, owner: str) -> Plan:
        """The stored plan ``owner`` approved: intact, of ``kind``, and exactly the one on the card (an
        approval of another hash is audited and refused)."""
        plan = self._verified_plan(plan_id, owner=owner)
        if plan.kind != kind:
            raise PolicyDenied(f"That plan is not a {kind} plan.")
        if confirmed_hash != plan.plan_hash:
            self.ledger.audit(owner=owner, action=action, plan_id=plan_id, plan_hash=confirmed_hash,
                              result="refused: confirmed hash differs from the stored plan")
            raise PolicyDenied("The approved card does not match this plan; nothing was signed.",
                               hint="Ask again to get a fresh confirmation card.")
        return plan

    def _signing_account(self, plan: Plan, body: dict[str, Any], owner: str, *, why_expired: str = "") -> ChainBackend:
        """The account that signs an approved single-transaction plan, after the last checks: not expired, an
        allowed chain, and still the account the plan was built for."""
        if plan.expires_at and _aware(plan.expires_at) < datetime.now(UTC):
            raise PolicyDenied(f"This {plan.kind} plan has expired{why_expired}; nothing was signed.",
                               hint="Ask again for a fresh plan.")
        if body["chain_id"] not in self.settings.allowed_chain_ids:
            raise PolicyDenied(f"Chain id {body['chain_id']!r} is not in the allow-list.")
        account = self.backend_for(owner)
        if account.address != body["owner_address"]:
            raise PolicyDenied(f"This {plan.kind} plan was built for another account than the one connected now; "
                               "nothing was signed.", hint=f"Ask again for a fresh {plan.kind} plan.")
        return account

    async def execute_mint_plan(self, plan_id: str, *, confirmed_hash: str, owner: str) -> dict[str, Any]:
        """Sign an approved mint plan, then wait (bounded) until the minted ACT reaches the balance."""
        from tools.deploy.funding import affordable_now, check_mints_allowed
        from tools.deploy.plan import mint_card

        plan = self._approved_plan(plan_id, kind="mint", action="mint ACT", confirmed_hash=confirmed_hash, owner=owner)
        body = json.loads(plan.body_json)
        if plan.status != "proposed":
            return await self._mint_reported_again(plan, body)  # ADK may run a confirmed tool twice: never re-sign
        account = self._signing_account(plan, body, owner, why_expired=" (the AKT price moves)")
        tx_body = unb64(plan.tx_body_b64)
        mint_card(body, account.describe(tx_body), plan.id, plan.plan_hash)  # the bytes still match the plan
        # Marked before the first await: a second call for this plan reports instead of signing again.
        self.ledger.update_plan(plan.id, status="executing")
        self.ledger.audit(owner=owner, action="approve mint plan", plan_id=plan.id, plan_hash=plan.plan_hash,
                          result="approved")
        try:
            check_mints_allowed(await self.backend.bme_state())  # the breaker may have tripped since the card
            balances = await account.balances()
            affordable_now(body["burn_uakt"], balances, body["fee_reserve_uakt"])
        except NectoError as exc:
            self.ledger.update_plan(plan.id, status="failed")
            self.ledger.audit(owner=owner, action="mint ACT", plan_id=plan.id, plan_hash=plan.plan_hash,
                              result=f"refused before signing: {exc.message}")
            raise
        signed: list[str] = []

        def on_signed(tx_hash: str) -> None:
            signed.append(tx_hash)
            self.ledger.record_tx(owner=owner, kind="mint ACT", chain="akash", chain_id=body["chain_id"],
                                  tx_hash=tx_hash, status="broadcast")
            self._mint_progress(owner, f"Signed and broadcast the mint ({tx_hash[:12]}...).")

        self.ledger.audit(owner=owner, action="mint ACT", plan_id=plan.id, plan_hash=plan.plan_hash, result="signing")
        try:
            included = await account.sign_and_send(tx_body, on_signed=on_signed)
        except NectoError as exc:
            self.ledger.update_plan(plan.id, status="failed")
            if signed:
                self.ledger.record_tx(owner=owner, kind="mint ACT", chain="akash", chain_id=body["chain_id"],
                                      tx_hash=signed[-1], status="failed", error=exc.message[:300])
            self.ledger.audit(owner=owner, action="mint ACT", plan_id=plan.id, plan_hash=plan.plan_hash,
                              tx_hash=signed[-1] if signed else "", result=f"failed: {exc.message[:200]}")
            if "halted" in getattr(exc, "raw_log", ""):
                from tools.errors import BmeHalted

                raise BmeHalted(
                    "Minting ACT is paused on chain: the circuit breaker tripped after the card was approved, and "
                    "the chain refused the mint. Your AKT was not burned (only the fee was spent).",
                    hint="Mints resume once the collateral ratio recovers; ask again then.",
                ) from None
            raise
        self.ledger.record_tx(owner=owner, kind="mint ACT", chain="akash", chain_id=body["chain_id"],
                              tx_hash=included.tx_hash, status="included", height=included.height)
        self.ledger.audit(owner=owner, action="mint ACT", plan_id=plan.id, plan_hash=plan.plan_hash,
                          tx_hash=included.tx_hash, result=f"included at height {included.height}")
        self._mint_progress(owner, f"Mint included at height {included.height}; waiting for the ACT to settle.")
        balance, settled = await self._wait_for_mint(account, body["act_balance_uact"], body["min_mint_uact"])
        minted = max(0, balance - body["act_balance_uact"]) if settled else 0
        self.ledger.update_plan(plan.id, status="executed")
        self.ledger.audit(owner=owner, action="mint ACT settled", plan_id=plan.id, plan_hash=plan.plan_hash,
                          tx_hash=included.tx_hash,
                          result=f"+{minted} uact" if settled else "not settled before the deadline")
        if settled:
            message = (f"Minted {_act(minted)} ACT by burning {_act(body['burn_uakt'])} AKT; "
                       f"your balance is {_act(balance)} ACT.")
        else:
            message = (f"The mint was included at height {included.height}, but the ACT had not arrived after "
                       f"{self.settings.tx_inclusion_timeout_s:g} s (the chain credits it when the epoch settles).")
        self._mint_progress(owner, message)
        result: dict[str, Any] = {
            "status": "ok", "plan_id": plan.id, "tx_hash": included.tx_hash, "height": included.height,
            "burned_akt": _act(body["burn_uakt"]), "minted_act": _act(minted), "act_balance": _act(balance),
            "settled": settled, "message": message,
        }
        if body.get("for_plan_id"):
            result["for_plan_id"] = body["for_plan_id"]
            result["next_step"] = (f"Deploy plan {body['for_plan_id']} now: its card asks for approval."
                                   if settled else "Check the balance in a minute, then deploy the plan.")
        elif not settled:
            result["next_step"] = "Ask for the balance in a minute."
        return result

    # --- mTLS client certificate (the fallback for providers without JWT) ----------------------------------
    def _certificates(self) -> Any:
        from tools.akash.cert import CertificateStore

        return CertificateStore(self.settings.effective_key_dir)

    async def create_certificate_plan(self, owner: str, *, replace: bool = False) -> dict[str, Any]:
        """A plan publishing this account's mTLS client certificate (created 0600 under <key_dir>/mtls when
        missing, or anew with ``replace``) with MsgCreateCertificate; signed only after approval."""
        import hashlib

        from tools.akash.cert import publish_tx_body
        from tools.deploy.plan import certificate_card

        account = self.backend_for(owner)
        certificate = self._certificates().create(account.address, replace=replace)
        tx_body = publish_tx_body(certificate)
        body = {
            "kind": "certificate",
            "owner": owner,
            "network": self.settings.network,
            "chain_id": self.settings.effective_chain_id,
            "owner_address": account.address,
            "serial": str(certificate.serial),
            "fingerprint": certificate.fingerprint,
            "not_after": certificate.not_after.isoformat(timespec="seconds"),
            "cert_pem_sha256": hashlib.sha256(certificate.cert_pem).hexdigest(),
            "fee_uakt_max": self.settings.max_fee_uakt,
        }
        digest = plan_hash(body, tx_body)
        plan = Plan(id=new_id("plan"), owner=owner, kind="certificate", plan_hash=digest,
                    body_json=canonical_json(body), tx_body_b64=b64(tx_body), expires_at=datetime.now(UTC) + PLAN_TTL)
        card = certificate_card(body, account.describe(tx_body), plan.id, digest)  # refuses bytes != plan
        self.ledger.add_plan(plan)
        return {"status": "ok", "plan_id": plan.id, "plan_hash": digest, "summary": card}

    async def execute_certificate_plan(self, plan_id: str, *, confirmed_hash: str, owner: str) -> dict[str, Any]:
        """Sign an approved certificate plan once (a repeated approval reports, never re-signs)."""
        from tools.deploy.plan import certificate_card

        plan = self._approved_plan(
            plan_id, kind="certificate", action="publish certificate", confirmed_hash=confirmed_hash, owner=owner
        )
        body = json.loads(plan.body_json)
        if plan.status != "proposed":
            raise PolicyDenied("This certificate plan was already approved; it is never signed twice.",
                               hint="`necto status` and the provider's answer show whether it is published.")
        account = self._signing_account(plan, body, owner)
        tx_body = unb64(plan.tx_body_b64)
        certificate_card(body, account.describe(tx_body), plan.id, plan.plan_hash)  # the bytes still match
        self.ledger.update_plan(plan.id, status="executing")  # before the first await: never signed twice
        self.ledger.audit(owner=owner, action="approve certificate plan", plan_id=plan.id, plan_hash=plan.plan_hash,
                          result="approved")

        def on_signed(tx_hash: str) -> None:
            self.ledger.record_tx(owner=owner, kind="publish certificate", chain="akash", chain_id=body["chain_id"],
                                  tx_hash=tx_hash, status="broadcast")

        try:
            included = await account.sign_and_send(tx_body, on_signed=on_signed)
        except NectoError as exc:
            self.ledger.update_plan(plan.id, status="failed")
            self.ledger.audit(owner=owner, action="publish certificate", plan_id=plan.id, plan_hash=plan.plan_hash,
                              result=f"failed: {exc.message[:200]}")
            raise
        self.ledger.record_tx(owner=owner, kind="publish certificate", chain="akash", chain_id=body["chain_id"],
                              tx_hash=included.tx_hash, status="included", height=included.height)
        self.ledger.update_plan(plan.id, status="executed")
        self.ledger.audit(owner=owner, action="publish certificate", plan_id=plan.id, plan_hash=plan.plan_hash,
                          tx_hash=included.tx_hash, result=f"included at height {included.height}")
        return {
            "status": "ok", "plan_id": plan.id, "tx_hash": included.tx_hash, "height": included.height,
            "owner_address": body["owner_address"], "serial": body["serial"], "fingerprint": body["fingerprint"],
            "message": f"Published client certificate {body['serial']}: providers that accept only mTLS will "
            "now accept this account.",
        }

    async def _wait_for_mint(self, account: ChainBackend, before_uact: int, min_mint_uact: int) -> tuple[int, bool]:
        """(uact balance, settled): settled once it rose by at least the chain's minimum mint, which any
        settled mint yields (smaller mints are refused on chain)."""
        deadline = asyncio.get_running_loop().time() + self.settings.tx_inclusion_timeout_s
        pause = max(0.05, float(await self.backend.block_time_s()) / 2)
        while True:
            balance = await account.uact_balance()
            if balance - before_uact >= min_mint_uact:
                return balance, True
            if asyncio.get_running_loop().time() > deadline:
                return balance, False
            await asyncio.sleep(pause)

    async def _mint_reported_again(self, plan: Plan, body: dict[str, Any]) -> dict[str, Any]:
        included = [a for a in self.ledger.audit_entries(plan.owner)
                    if a.plan_id == plan.id and a.action == "mint ACT" and a.tx_hash]
        if plan.status == "failed" or not included:
            raise PolicyDenied("This mint plan was already tried and did not complete; it is never signed twice.",
                               hint="Check your ACT balance (a timed-out mint can still land), then ask for a "
                               "fresh mint plan if you need one.")
        balance = await self.backend_for(plan.owner).uact_balance()
        return {"status": "ok", "plan_id": plan.id, "tx_hash": included[-1].tx_hash, "already_signed": True,
                "act_balance": _act(balance), "settled": plan.status == "executed",
                "message": f"This mint was already signed (tx {included[-1].tx_hash[:12]}...); it is never signed "
                           f"twice. Your balance is {_act(balance)} ACT.",
                **({"for_plan_id": body["for_plan_id"]} if body.get("for_plan_id") else {})}

    def _mint_progress(self, owner: str, message: str) -> None:
        self.events.publish(owner, {"kind": "progress", "job_id": "", "state": "mint", "message": message, "data": {}})

    # --- jobs, logs, status ------------------------------------------------------------------------
    def _job_result(self, job: Job) -> dict[str, Any]:
        result = {
            "status": "ok" if job.state != "failed" else "error",
            "job_id": job.id,
            "dseq": job.dseq,
            "provider": job.provider_name or job.provider,
            "provider_address": job.provider,
            "state": job.state,
            "uris": json.loads(job.uris_json or "[]"),
        }
        if job.state == "failed":
            result["message"] = job.error
            events = self.ledger.events(job.id)
            result["hint"] = next(
                (json.loads(e.data_json).get("hint", "") for e in reversed(events) if e.state == "failed"), ""
            )
        return result

    def job_view(self, job: Job) -> dict[str, Any]:
        price = Decimal(job.price_uact_per_block) if job.price_uact_per_block else None
        usd_h = uact_per_block_to_usd_per_hour(price, self.block_time) if price is not None else None
        hours_running = None
        if job.running_at:
            end = _aware(job.closed_at) if job.closed_at else datetime.now(UTC)
            hours_running = (end - _aware(job.running_at)).total_seconds() / 3600
        return {
            "job_id": job.id,
            "state": job.state,
            "workload": job.workload,
            "network": job.network,
            "dseq": job.dseq,
            "provider": job.provider_name or job.provider,
            "provider_address": job.provider,
            "uris": json.loads(job.uris_json or "[]"),
            "price_uact_per_block": job.price_uact_per_block or None,
            "usd_per_hour": float(usd_h.quantize(Decimal("0.0001"))) if usd_h is not None else None,
            "cost_so_far_usd": round(float(usd_h) * hours_running, 6) if usd_h is not None and hours_running else 0.0,
            "hours_running": round(hours_running, 3) if hours_running else 0.0,
            "deposit_act": job.deposit_uact / 1e6,
            "refund_act": (job.refund_uact / 1e6) if job.refund_uact is not None else None,
            "error": job.error or None,
            "note": job.note or None,
            "created_at": _aware(job.created_at).isoformat(),
            "tx": {"create": job.create_tx_hash, "lease": job.lease_tx_hash, "close": job.close_tx_hash},
        }

    def list_jobs(self, *, limit: int = 20, state: str | None = None, owner: str) -> dict[str, Any]:
        return {"status": "ok", "jobs": [self.job_view(j) for j in self.ledger.list_jobs(owner=owner, limit=limit, state=state)]}

    def record_job(self, job_id: str | None, *, note: str | None, owner: str) -> dict[str, Any]:
        job = self.ledger.get_job(job_id, owner=owner)
        fields: dict[str, Any] = {"recorded_at": datetime.now(UTC)}
        if note:
            fields["note"] = clean_text(note, 500)
        job = self.ledger.update_job(job.id, **fields)
        self.ledger.add_event(job.id, job.state, "Recorded in the ledger." + (" Note kept." if note else ""))
        return {"status": "ok", "mode": "untracked", "job": self.job_view(job)}

    async def record_job_async(self, job_id: str | None, *, note: str | None, owner: str) -> dict[str, Any]:
        """``record_job``: the ledger always; for a tracked job also the ComputeRouter (recorded if it is not
        yet, its status brought up to date), with the transactions it took."""
        result = self.record_job(job_id, note=note, owner=owner)
        job = self.ledger.job(result["job"]["job_id"])
        if not job.tracked:
            return result
        sent = await self.sync_tracking(job, raise_errors=True)
        on_chain = await asyncio.to_thread(self.tracker.get, job.id) if self.tracker is not None else None
        return {**result, "mode": "tracked", "evm_transactions": sent,
                "on_chain": on_chain.model_dump(mode="json") if on_chain is not None else None}

    async def status(self, job_id: str | None, *, owner: str) -> dict[str, Any]:
        job = self.ledger.get_job(job_id, owner=owner)
        view = self.job_view(job)
        view["payment_rail"] = self._payment_rail(job)
        job_backend = self.backend_for_job(job)
        if job.state == "running" and job.provider_host:
            try:
                readiness = await job_backend.lease_readiness(job.provider_host, job.dseq, job.gseq, job.oseq)
                if readiness is not None:
                    view["services"] = readiness.services
                    view["forwarded_ports"] = readiness.forwarded_ports
                    view["uris"] = readiness.uris or view["uris"]
            except NectoError as exc:
                view["provider_note"] = exc.message
            escrow_left = await job_backend.escrow_left_uact(job.dseq)
            if escrow_left is not None:
                view["escrow_left_act"] = escrow_left / 1e6
                price = Decimal(job.price_uact_per_block or 0)
                if price > 0:
                    # When the escrow runs out depends on the chain's real pace (the sandbox's blocks are
                    # fast), not on the block time prices are converted with.
                    pace = Decimal(await job_backend.block_time_s())
                    hours_left = Decimal(escrow_left) / price * pace / Decimal(3600)
                    view["escrow_hours_left"] = round(float(hours_left), 1)
                    wanted_hours = Decimal(str(json.loads(job.request_json or "{}").get("hours", 730)))
                    still_wanted = wanted_hours - Decimal(str(view.get("hours_running") or 0))
                    if hours_left < 24 and hours_left < still_wanted:
                        view["warning"] = (
                            f"Escrow runs out in about {hours_left:.0f} hours; the provider stops the deployment "
                            "then. Top it up or plan a redeploy."
                        )
            chain_state = await job_backend.deployment_state(job.dseq)
            if chain_state != "active":
                job = self.ledger.update_job(job.id, state="closed", closed_at=datetime.now(UTC),
                                             error="The deployment is no longer active on chain.")
                self.ledger.add_event(job.id, "closed", "Found closed on chain (escrow ran out or the network restarted).")
                view = self.job_view(job)
        view["events"] = [
            {"state": e.state, "message": e.message, "at": _aware(e.at).isoformat()} for e in self.ledger.events(job.id)[-10:]
        ]
        return {"status": "ok", "job": view}

    async def logs(self, job_id: str | None, *, tail: int, service: str | None, owner: str) -> dict[str, Any]:
        job = self.ledger.get_job(job_id, owner=owner)
        lines = [line async for line in self.stream_logs(job.id, owner=owner, tail=tail, follow=False, service=service)]
        return {"status": "ok", "job_id": job.id, "lines": lines[-tail:], "note": "Log text is the container's output, shown as data."}

    async def stream_logs(
        self, job_id: str | None, *, owner: str, tail: int = 50, follow: bool = True, service: str | None = None
    ) -> AsyncIterator[dict[str, str]]:
        job = self.ledger.get_job(job_id, owner=owner)
        if job.state not in ("running", "manifest_sent") or not job.provider_host:
            raise InvalidRequest(f"Job {job.id} is {job.state}; there are no logs to show.")
        async for line in self.backend_for_job(job).logs(
            job.provider_host, job.dseq, job.gseq, job.oseq, tail=tail, follow=follow,
            services=[service] if service else None,
        ):
            yield {"service": clean_text(line.get("service", ""), 64), "message": clean_text(line.get("message", ""), 2000)}

    async def lease_events(self, job_id: str | None, *, owner: str, limit: int = 20) -> list[dict[str, str]]:
        """The provider's Kubernetes events for a job's lease (read-only; [] when the job has no lease or the
        backend cannot read them). For the chat's deployment card."""
        job = self.ledger.get_job(job_id, owner=owner)
        read = getattr(self.backend_for_job(job), "kube_events", None)
        if read is None or job.state not in ("running", "manifest_sent") or not job.provider_host:
            return []
        found: list[dict[str, str]] = []
        async for event in read(job.provider_host, job.dseq, job.gseq, job.oseq):
            found.append({key: clean_text(str(value), 300) for key, value in dict(event).items()})
        return found[-limit:]

    def secrets(self, job_id: str | None, *, owner: str) -> dict[str, str]:
        """The secrets Necto generated for a job (from the stored manifest). For the local CLI only: this is
        not an agent tool, so the values never enter a model's context or the chat."""
        job = self.ledger.get_job(job_id, owner=owner)
        plan = self.ledger.get_plan(job.plan_id, owner=owner)
        wanted = set(json.loads(plan.body_json).get("generated_secrets", []))
        found: dict[str, str] = {}
        for group in json.loads(job.manifest_json or "[]"):
            for service in group.get("services", []):
                for item in service.get("env") or []:
                    key, _, value = item.partition("=")
                    if key in wanted:
                        found[key] = value
        return found

    # --- restart: resume or clean up ---------------------------------------------------------------------
    async def reconcile_chain(self) -> Any:
        """Compare the ledger with the chain (tools.deploy.reconcile): every open deployment of this account
        is tracked and healthy, or reported (untracked, lease lost, escrow low, stranded) with a close action.
        New findings are published to their owner's chat; the report is kept as ``last_reconcile``."""
        from tools.deploy.reconcile import reconcile

        if self._reconcile_lock is None:
            self._reconcile_lock = asyncio.Lock()
        async with self._reconcile_lock:
            chain_id = self.settings.effective_chain_id
            block_time = await self.backend.block_time_s()  # escrow hours at the chain's real pace
            # The local key's account, then every browser wallet connected on this chain (read-only queries:
            # reconcile signs nothing; a close it offers goes through the wallet's normal card and signature).
            accounts: list[tuple[ChainBackend, str]] = [(self.backend, "local")]
            for row in self.ledger.wallets_on_chain(chain_id):
                if not row.is_ledger and row.address != self.backend.address:
                    accounts.append((self._wallet_backend(row), row.owner))
            report = None
            for account, account_owner in accounts:
                try:
                    part = await reconcile(
                        self.ledger, account, owner_address=account.address, network=self.settings.network,
                        chain_id=chain_id, block_time_s=block_time, low_escrow_hours=self.settings.low_escrow_hours,
                        now=datetime.now(UTC), account_owner=account_owner,
                        busy_job_ids=set(self._running) | self._closing,
                    )
                except NectoError as exc:
                    if account is self.backend:
                        raise
                    log.warning("reconcile of wallet %s failed: %s", account.address, exc.message)
                    continue
                report = part if report is None else report.model_copy(
                    update={"findings": [*report.findings, *part.findings]}
                )
        for finding in report.attention(only_new=True):
            self.events.publish(finding.owner, {"kind": "reconcile", "finding": finding.model_dump(mode="json")})
        self.last_reconcile = report
        return report

    def reconcile_findings(self, owner: str) -> list[dict[str, Any]]:
        """What the last reconcile found that ``owner`` should act on (most urgent first)."""
        if self.last_reconcile is None:
            return []
        return [f.model_dump(mode="json") for f in self.last_reconcile.attention() if f.owner == owner]

    async def resume_unfinished(self) -> list[dict[str, Any]]:
        """Continue every job a crash interrupted (or close it), so no deposit is stranded; and reconcile the
        ledger with the chain (deployments Necto lost track of, leases lost, escrow low, closed on chain)."""
        for job in self.ledger.open_jobs():
            # A create on the Console rail that stopped before its dseq was recorded: find its deployment by the
            # create tx Console signed, before reconcile would call that deployment untracked.
            if job.network == self.settings.network and job.id not in self._running:
                await self.machine.recover_dseq(job)
        try:
            report = await self.reconcile_chain()
        except NectoError as exc:
            log.warning("reconcile with the chain failed (%s); checking running jobs only", exc.message)
            results = await self._reconcile_running()
        else:
            results = [
                self._job_result(self.ledger.job(f.job_id))
                for f in report.findings if f.kind == "closed_on_chain" and f.job_id
            ]
        for job in self.ledger.claim_jobs(self.worker_id, RESUMABLE_STATES | {"found"}, lease_s=CLAIM_S, limit=50,
                                          network=self.settings.network):
            # Claimed: no other Necto process sharing this database resumes it at the same time.
            if job.state == "found":
                self.ledger.release_claim(job.id, self.worker_id)
                results.append(self._job_result(job))  # reported with a close action; nothing to resume or sign
                continue
            if job.state == "confirmed" and not job.create_tx_hash:
                # Approved but never signed: prices and the user's intent may have moved since; signing
                # now would act on a stale approval. Nothing was spent.
                self.ledger.release_claim(job.id, self.worker_id)
                job = self.ledger.update_job(job.id, state="failed", error="Interrupted before signing.")
                self.ledger.add_event(job.id, "failed", "Necto stopped before signing; nothing was spent. Ask again to redeploy.")
                results.append(self._job_result(job))
                continue
            plan = self.ledger.get_plan(job.plan_id, owner=job.owner)
            log.info("resuming job %s from %s", job.id, job.state)
            results.append(await self._run_job_result(job, unb64(plan.tx_body_b64)))
        return results

    async def _reconcile_running(self) -> list[dict[str, Any]]:
        results = []
        for job in self.ledger.open_jobs():
            if job.state != "running" or job.network != self.settings.network or job.account != self.backend.address:
                continue
            try:
                state = await self.backend.deployment_state(job.dseq)
            except NectoError as exc:
                log.warning("could not reconcile job %s: %s", job.id, exc.message)
                continue
            if state != "active":
                job = self.ledger.update_job(job.id, state="closed", closed_at=datetime.now(UTC),
                                             error="The deployment is no longer active on chain.")
                self.ledger.add_event(job.id, "closed", "Found closed on chain at start-up (escrow ran out, or the "
                                      "network was restarted).")
                results.append(self._job_result(job))
        return results

    # --- routing decisions, tracking, verification -----------------------------------------------------
    def _tracked_choice(self, asked: Any) -> bool:
        tracked = self.settings.tracking == "tracked" if asked is None else bool(asked)
        if tracked and self.tracker is None:
            raise InvalidRequest(
                "Tracked mode records the job on an EVM chain, and none is configured.",
                hint="Set NECTO_EVM_RPC_URL and NECTO_ROUTER_CONTRACT_ADDRESS, or deploy untracked.",
            )
        return tracked

    async def _record_decision(self, owner: str, offer: dict[str, Any] | None) -> tuple[str, Any] | None:
        """Store the routing decision behind a plan: the owner's last quote's full snapshot and its outcome."""
        from tools.ledger.models import RoutingDecision
        from tools.pricing.tokens import TokenPriceUnavailable
        from tools.routing.decision import record_decision

        cached = self._last_quote.get(owner) or {}
        quote = cached.get("quote")
        if quote is None:
            return None
        chosen = offer.get("offer_id") if offer else None
        best = quote.ranking.best_deployable
        if chosen is not None and best is not None and chosen == best.offer.offer_id:
            chosen = None  # the policy's own choice: recorded as such, so the replay re-derives it
        symbols = sorted({o.inputs["token_symbol"] for o in quote.ranking.candidates if "token_symbol" in o.inputs})
        prices = []
        for symbol in symbols:
            try:
                prices.append(await self.tokens.price(symbol))
            except TokenPriceUnavailable:
                pass
        record = record_decision(quote, chosen_offer_id=chosen, token_prices=prices, block_time_s=cached.get("block_time"))
        row = self.ledger.add_routing_decision(RoutingDecision(
            id=new_id("dec"), owner=owner, policy_version=record.policy_version,
            snapshot_json=record.snapshot_json, snapshot_sha256=record.snapshot_sha256,
            decision_json=record.outcome_json, decision_sha256=record.outcome_sha256,
            chosen_offer_id=record.outcome().chosen,
        ))
        return row.id, record

    def _decision_for_job(self, job: Job) -> tuple[Any, Any, dict[str, Any]] | None:
        """(ledger row, DecisionRecord, plan body) for a job's routing decision, or None when it has none."""
        from tools.routing.decision import DecisionRecord

        if not job.routing_decision_id:
            return None
        row = self.ledger.routing_decision(job.routing_decision_id)
        if row is None:
            return None
        body = json.loads(self.ledger.get_plan(job.plan_id, owner=job.owner).body_json)
        approved = body.get("routing_decision") or {}
        record = DecisionRecord(
            policy_version=row.policy_version, snapshot_json=row.snapshot_json, snapshot_sha256=row.snapshot_sha256,
            outcome_json=row.decision_json, outcome_sha256=row.decision_sha256,
            # the hashes the user approved (under the plan hash), not values recomputed from the stored rows
            request_sha256=approved.get("request_sha256", ""), decision_hash=approved.get("decision_hash", ""),
        )
        return row, record, body

    async def sync_tracking(self, job: Job, *, raise_errors: bool = False) -> list[str]:
        """Bring a tracked job's ComputeRouter record up to date (record it once it has a provider, then
        move its status). Failures never undo the deployment: they are noted on the job and retried by
        ``record_job``. Returns the EVM transaction hashes sent."""
        if not job.tracked or self.tracker is None:
            return []
        sent: list[str] = []
        try:
            on_chain = await asyncio.to_thread(self.tracker.get, job.id)
            if on_chain is not None and on_chain.submitter.lower() != self.tracker.address.lower():
                raise RouterError(
                    f"Another account ({on_chain.submitter}) recorded job id {job.id} in the ComputeRouter first; "
                    "Necto's record of this job cannot be written there.",
                    hint="`necto verify` shows the squatted record; the ledger keeps the true one.",
                    error_name="JobIdTaken",
                )
            if on_chain is None:
                found = self._decision_for_job(job)
                if found is None or not job.provider:
                    return []  # nothing chose a provider yet (or no decision): nothing to record
                row, record, _ = found
                tx = await asyncio.to_thread(
                    self.tracker.record, job_id=job.id, owner=job.owner, provider=job.provider,
                    request_hash=record.request_sha256, decision_hash=record.decision_hash,
                    price_uact_per_block=job.price_uact_per_block or "0", dseq=job.dseq,
                )
                sent.append(tx.tx_hash)
                self._note_evm_tx(job, "record job (evm)", tx)
                self._sign_decision(job, row, record)
            tx = await asyncio.to_thread(self.tracker.set_status, job.id, job.state)
            if tx is not None:
                sent.append(tx.tx_hash)
                self._note_evm_tx(job, f"job status -> {job.state} (evm)", tx)
        except NectoError as exc:
            self.ledger.add_event(job.id, job.state, f"The on-chain record was not updated: {exc.message} "
                                  "(`record_job` tries again).")
            if raise_errors:
                raise
        return sent

    def _note_evm_tx(self, job: Job, kind: str, tx: Any) -> None:
        chain_id = str(self.tracker.chain_id)
        self.ledger.record_tx(owner=job.owner, kind=kind, chain="evm", chain_id=chain_id, tx_hash=tx.tx_hash,
                              status="included", job_id=job.id, height=tx.block_number)
        self.ledger.audit(owner=job.owner, action=kind, plan_id=job.plan_id, tx_hash=tx.tx_hash,
                          result=f"included in EVM block {tx.block_number}")
        self.ledger.add_event(job.id, job.state, f"Recorded on {self.tracker.describe()}: {kind} ({tx.tx_hash[:18]}...).")

    def _sign_decision(self, job: Job, row: Any, record: Any) -> None:
        """The router key's EIP-712 signature over the decision (optional evidence `necto verify` checks)."""
        from tools.routing.eip712 import sign_decision

        signature = sign_decision(
            self.tracker.account.key, job_id=job.id, decision_hash=record.decision_hash,
            request_hash=record.request_sha256, policy_version=record.policy_version,
            chain_id=self.tracker.chain_id, verifying_contract=self.tracker.client().address,
        )
        self.ledger.update_routing_decision(row.id, router_signature=signature)

    def store_trace(self, job_id: str, events: list[dict[str, Any]], *, owner: str) -> str | None:
        """Keep the agent's reasoning for a job, content-addressed; returns the trace ref."""
        from tools.routing.traces import trace_from_events

        job = self.ledger.get_job(job_id, owner=owner)
        ref = self.traces.put(trace_from_events(events, job_id=job.id))
        if job.routing_decision_id:
            self.ledger.update_routing_decision(job.routing_decision_id, trace_ref=ref)
        return ref

    async def verify_job(self, job_id: str | None, *, owner: str) -> dict[str, Any]:
        """Replay and check a job's routing decision (``necto verify JOB``): the stored snapshot and outcome
        against their hashes and against the hashes the user approved, the ranking replayed with this code,
        and for tracked jobs the ComputeRouter record and the router's signature."""
        from tools.deploy.plan import plan_hash
        from tools.routing.verify import Finding, LeaseFacts, SignatureCheck, verify

        job = self.ledger.get_job(job_id, owner=owner)
        found = self._decision_for_job(job)
        if found is None:
            raise InvalidRequest(f"Job {job.id} has no routing decision to verify (it was made before Necto "
                                 "recorded decisions, or found on chain).")
        row, record, body = found
        on_chain = None
        if job.tracked and self.tracker is not None:
            on_chain = await asyncio.to_thread(self.tracker.get, job.id)
        lease = LeaseFacts(dseq=job.dseq, provider=job.provider, price_uact_per_block=job.price_uact_per_block or "0") \
            if job.provider else None
        signature = None
        if row.router_signature and self.tracker is not None:
            signature = SignatureCheck(signature=row.router_signature, expected_signer=self.tracker.address,
                                       job_id=job.id, chain_id=self.tracker.chain_id,
                                       verifying_contract=self.tracker.client().address)
        report = verify(record, on_chain=on_chain, tracked=job.tracked, lease=lease, signature=signature)
        # The plan itself: its body (which carries the approved decision hash) still hashes to the plan hash
        # the user approved, as the audit log recorded it.
        plan = self.ledger.get_plan(job.plan_id, owner=job.owner)
        recomputed = plan_hash(body, unb64(plan.tx_body_b64))
        approved = [a.plan_hash for a in self.ledger.audit_entries(job.owner)
                    if a.plan_id == plan.id and a.action == "approve deployment plan"]
        extra = [Finding(check="plan hash", ok=recomputed == plan.plan_hash, expected=plan.plan_hash,
                         actual=recomputed, detail="the stored plan (with the approved decision hash) is unchanged"
                         if recomputed == plan.plan_hash else "the stored plan was changed after approval")]
        if approved:
            extra.append(Finding(check="approved plan", ok=approved[-1] == plan.plan_hash, expected=approved[-1],
                                 actual=plan.plan_hash, detail="the audit log's approved plan hash"))
        if on_chain is not None:
            ours = on_chain.submitter.lower() == self.tracker.address.lower()
            extra.append(Finding(check="on-chain submitter", ok=ours, expected=self.tracker.address,
                                 actual=on_chain.submitter, detail="recorded by Necto's router account"
                                 if ours else "someone else recorded this job id first"))
        findings = [*report.findings, *extra]
        ok = report.ok and all(f.ok for f in extra)
        lines = [report.render(), *(f"  {'ok  ' if f.ok else 'FAIL'} {f.check}: {f.detail}" for f in extra)]
        return {
            "status": "ok", "job_id": job.id, "verified": ok, "tracked": job.tracked,
            "decision_id": row.id, "decision_hash": record.decision_hash, "policy_version": record.policy_version,
            "trace_ref": row.trace_ref or None,
            "findings": [f.model_dump(mode="json") for f in findings], "not_checked": list(report.not_checked),
            "report": "\n".join(lines),
        }

    # --- bid choice ------------------------------------------------------------------------------------
    async def _choose_bid(self, bids: list[Bid], job: Job) -> Bid | None:
        """Rank real bids with the same function that ranked the estimates (tools.pricing.rank), under the
        hard filters the user approved with the plan and without providers blocked after a failure."""
        from tools.pricing.normalize import PricingError
        from tools.pricing.rank import rank
        from tools.pricing.sources.akash import offers_from_bids

        if not bids:
            return None
        request = ComputeRequest.model_validate(json.loads(job.request_json))
        filters = self._plan_filters(job)
        by_provider = {b.provider: b for b in bids}
        now = datetime.now(UTC)
        try:
            offers = offers_from_bids(
                {"bids": [b.raw for b in bids]}, await self._provider_directory(), request,
                block_time=self.block_time, now=now,
            )
        except (PricingError, NectoError) as exc:
            if filters is not None:
                # The user's filters (audited only, VRAM ...) cannot be checked: take no bid rather than a wrong one.
                log.warning("bid ranking unavailable (%s); filters cannot be checked, no bid taken", exc)
                return None
            # Ranking is advice on top of the hard rule (price <= the cap the user approved).
            log.warning("bid ranking unavailable (%s); choosing the lowest price", exc)
            return sorted(bids, key=lambda b: (b.price_uact_per_block, b.provider))[0]
        blocked = self.ledger.blocked_offers(job.owner, now)
        for ranked in rank(offers, request, now=now, blocked=blocked, filters=filters).offers:
            bid = by_provider.get(ranked.offer.provider_address or "")
            if bid is not None:
                return bid
        # Every bid failed a hard filter of the request (e.g. the region): take none rather than a wrong one.
        return None

    async def _provider_directory(self) -> dict[str, Any]:
        """Providers by owner for judging bids: the Akash source's records (chain joined with Console:
        uptime, audited) when it answers, else what the backend cached from chain records."""
        from tools.pricing.sources import SourceError
        from tools.pricing.sources.akash import AkashSource

        directory: dict[str, Any] = dict(self._provider_cache())
        source = next((s for s in self.sources if isinstance(s, AkashSource)), None)
        if source is not None:
            try:
                providers, _problems = await source.fetch_providers()
            except SourceError as exc:
                log.warning("provider directory unavailable (%s); judging bids on chain records", exc.reason)
            else:
                directory.update({p.owner: p for p in providers})
        return directory

    def _plan_filters(self, job: Job) -> Any:
        """The hard filters the user approved with the job's plan (None when there were none)."""
        from tools.pricing.rank import OfferFilters

        try:
            body = json.loads(self.ledger.get_plan(job.plan_id, owner=job.owner).body_json)
        except NectoError:
            return None
        return OfferFilters.model_validate(body["filters"]) if body.get("filters") else None

    # --- browser wallets (tools.wallet; the chat wires them in ui/wallet.py) -----------------------------
    def wallet_challenge(self, owner: str) -> dict[str, Any]:
        """A single-use sign-in message for ``owner``'s wallet to sign (ADR-036), with its nonce and expiry."""
        return self.signin.issue(owner)

    async def connect_wallet(
        self, owner: str, *, address: str, public_key: bytes, chain_id: str, wallet: str, is_ledger: bool,
        nonce: str, signature: bytes,
    ) -> dict[str, Any]:
        """Verify the wallet's sign-in, remember the wallet as ``owner``'s signer on this chain and return its
        address and balances. On the sandbox the new account is funded from the devnet faucet, as the local
        key is. A Ledger account is remembered but refused for signing (``LedgerUnsupported``)."""
        from tools.wallet.errors import LedgerUnsupported, WrongNetwork

        expected = self.settings.effective_chain_id
        if chain_id != expected:
            raise WrongNetwork(f"Your wallet answered for chain {str(chain_id)[:40]!r}, but Necto is on {expected!r}.")
        self.signin.verify(owner, nonce=nonce, address=address, public_key=public_key, signature=signature)
        name = wallet if wallet in ("keplr", "leap") else "keplr"
        row = self.ledger.save_wallet(owner=owner, address=address, public_key_hex=bytes(public_key).hex(),
                                      chain_id=chain_id, wallet=name, is_ledger=bool(is_ledger))
        self.ledger.audit(owner=owner, action="connect wallet", result=f"{name} {address}" + (" (Ledger)" if is_ledger else ""))
        if row.is_ledger:
            raise LedgerUnsupported()
        self._wallet_backends.pop((owner, address), None)  # a re-connect may carry a new key
        backend = self._wallet_backend(row)
        if getattr(backend, "faucet", False):
            try:
                await backend.ensure_funds(need_uact=0)
            except NectoError as exc:
                log.warning("funding the wallet %s from the faucet failed: %s", address, exc.message)
        return {"status": "ok", "address": address, "chain_id": chain_id, "wallet": name,
                "balances": await self._wallet_balances(backend)}

    async def wallet_status(self, owner: str) -> dict[str, Any]:
        """``owner``'s current wallet on this chain (or ``connected: False``), with balances when it has one."""
        row = self.ledger.current_wallet(owner, self.settings.effective_chain_id)
        if row is None:
            return {"status": "ok", "connected": False, "signs_with": self.backend.address}
        result: dict[str, Any] = {
            "status": "ok", "connected": True, "address": row.address, "wallet": row.wallet,
            "chain_id": row.chain_id, "is_ledger": row.is_ledger, "signer_attached": owner in self._wallet_asks,
        }
        if not row.is_ledger:
            result["balances"] = await self._wallet_balances(self._wallet_backend(row))
        return result

    def attach_wallet_signer(self, owner: str, ask: Any) -> None:
        """Route ``owner``'s wallet signatures to ``ask`` (the open chat page); the last attached page wins."""
        self._wallet_asks[owner] = ask
        for (who, _address), backend in self._wallet_backends.items():
            if who == owner:
                backend.signer.ask = ask

    def detach_wallet_signer(self, owner: str, ask: Any = None) -> None:
        """The page closed: signing for ``owner`` then raises ``WalletUnavailable`` (the job waits, resumable).
        With ``ask``, only that page's registration is removed (another tab may have taken over)."""
        if ask is not None and self._wallet_asks.get(owner) is not ask:
            return
        self._wallet_asks.pop(owner, None)
        for (who, _address), backend in self._wallet_backends.items():
            if who == owner:
                backend.signer.ask = None

    def backend_for(self, owner: str) -> ChainBackend:
        """The chain account ``owner`` signs new plans with: their connected wallet, else the local key."""
        row = self.ledger.current_wallet(owner, self.settings.effective_chain_id)
        if (row is None or row.is_ledger) and owner.startswith("wallet:"):
            # Signed in with a wallet (NECTO_AUTH=wallet, ui/wallet_login.py): anyone with a wallet can be such
            # a user, so they never fall back to this machine's key.
            from tools.wallet.errors import LedgerUnsupported, WalletUnavailable

            raise LedgerUnsupported() if row is not None else WalletUnavailable(
                "Your wallet is not connected on this network.", hint="Sign out and sign in again with your wallet.")
        if row is None or row.is_ledger:
            return self.backend
        return self._wallet_backend(row)

    def backend_for_job(self, job: Job) -> ChainBackend:
        """The chain account that owns ``job``'s deployment (a wallet's, or the local key's)."""
        if not job.account or job.account == self.backend.address:
            return self.backend
        row = self.ledger.wallet_for_address(job.owner, job.chain_id, job.account)
        return self.backend if row is None else self._wallet_backend(row)

    def paused_jobs(self, owner: str) -> list[Job]:
        """``owner``'s unfinished jobs that nothing is driving (e.g. waiting for the wallet), newest first."""
        jobs = [j for j in self.ledger.open_jobs(owner=owner) if j.state in RESUMABLE_STATES and j.id not in self._running]
        return sorted(jobs, key=lambda j: _aware(j.created_at), reverse=True)

    async def resume_job(self, job_id: str | None, *, owner: str) -> dict[str, Any]:
        """Continue an approved job that stopped (the wallet rejected, timed out or was not open): the plan the
        user approved is re-checked against its hash and the machine goes on from the stored state; each
        transaction is still signed in the wallet."""
        job = self.ledger.get_job(job_id, owner=owner, open_only=job_id is None)
        if job.id in self._running:
            return self._job_result(await asyncio.shield(self._running[job.id]))
        if job.state not in RESUMABLE_STATES:
            raise InvalidRequest(f"Job {job.id} is {job.state}; there is nothing to resume.")
        plan = self._verified_plan(job.plan_id, owner=owner)
        if not self.ledger.claim_job(job.id, self.worker_id, lease_s=CLAIM_S):
            return self._job_result(job)  # another Necto process is driving it
        self.ledger.audit(owner=owner, action="resume job", plan_id=plan.id, plan_hash=plan.plan_hash,
                          result=f"resumed from {job.state}")
        result = await self._run_job_result(job, unb64(plan.tx_body_b64))
        if not result.get("resumable") and plan.status == "executing":
            self.ledger.update_plan(plan.id, status="executed")
        return result

    def _wallet_backend(self, row: Any) -> Any:
        from tools.deploy.akash_backend import AkashBackend
        from tools.wallet.browser_signer import BrowserWalletSigner
        from tools.wallet.errors import WalletError

        key = (row.owner, row.address)
        backend = self._wallet_backends.get(key)
        if backend is None:
            if not isinstance(self.backend, AkashBackend):
                raise WalletError("This Necto's chain backend cannot sign with a browser wallet.",
                                  hint="Use the local key (the CLI), or run Necto against an Akash network.")
            signer = BrowserWalletSigner(
                row.address, bytes.fromhex(row.public_key_hex), row.chain_id, self._wallet_asks.get(row.owner),
                allowed_chain_ids=self.settings.allowed_chain_ids, max_fee=self.settings.max_fee_uakt,
                fee_denom=self.settings.fee_denom,
            )
            backend = AkashBackend(self.settings, rest_url=self.backend.rest_url, signer=signer,
                                   transport=self.backend._transport, faucet=self.backend.faucet)
            backend.provider_cache = self.backend.provider_cache  # provider records are public: share them
            self._wallet_backends[key] = backend
        return backend

    @staticmethod
    async def _wallet_balances(backend: Any) -> dict[str, str]:
        try:
            balances = await backend.balances()
        except NectoError as exc:
            return {"note": exc.message}
        return {"act": f"{Decimal(balances.uact) / MICRO:f}", "akt": f"{Decimal(balances.uakt) / MICRO:f}"}

    def _provider_cache(self) -> dict[str, Any]:
        return getattr(self.backend, "provider_cache", {})

    def _payment_rail(self, job: Job) -> str:
        """Which rail paid for ``job``: "console" (Akash Console's managed wallet) when its approved plan was a
        Console request, else "self" (a key Necto or the user's wallet holds)."""
        from tools.console.backend import is_console_body

        try:
            plan = self.ledger.get_plan(job.plan_id, owner=job.owner)
        except NectoError:
            return "self"
        return "console" if is_console_body(unb64(plan.tx_body_b64)) else "self"

    def close(self) -> None:
        if self.devnet is not None:
            from tools.wiring import unpublish_sandbox

            unpublish_sandbox(self.settings, self.devnet)
            self.devnet.stop()
            self.devnet = None


def _fill_required_secrets(workload: str, env: dict[str, str]) -> list[str]:
    """Generate a strong value for every secret the template requires and the user did not give."""
    from tools.sdl.templates import list_templates

    info = next((t for t in list_templates() if t.id == workload), None)
    generated = []
    for key in info.required_env if info else ():
        if not env.get(key):
            env[key] = secrets.token_urlsafe(24)
            generated.append(key)
    return generated


def redact_env(sdl_text: str) -> str:
    """The SDL with every env value replaced: tool results reach the model, secrets must not."""
    import yaml

    document = yaml.safe_load(sdl_text)
    for service in (document.get("services") or {}).values():
        env = service.get("env") if isinstance(service, dict) else None
        if isinstance(env, list):
            service["env"] = [f"{str(item).partition('=')[0]}=<hidden>" for item in env]
    return yaml.safe_dump(document, sort_keys=False)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _act(uact: int) -> str:
    from tools.deploy.funding import act

    return act(uact)


def _uact_from_act(amount: Any) -> int:
    """A user's ACT amount ("20", 12.5) in uact, or a readable error."""
    from decimal import ROUND_CEILING, InvalidOperation

    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise InvalidRequest(f"{amount!r} is not an amount of ACT.", hint="Say e.g. 'mint 20 ACT'.") from None
    if not value.is_finite() or value <= 0:
        raise InvalidRequest("A mint needs a positive amount of ACT.", hint="Say e.g. 'mint 20 ACT'.")
    return int((value * MICRO).to_integral_value(rounding=ROUND_CEILING))


def _refund_sentence(job: Job) -> str:
    if job.refund_uact is None:
        return f"Closed deployment {job.dseq}; nothing was on chain to refund."
    return f"Closed deployment {job.dseq}. Refunded {_act(job.refund_uact)} ACT."


def _relax_hint(request: ComputeRequest) -> str:
    options = []
    if request.max_usd_per_hour is not None:
        options.append("raise the budget")
    if request.region:
        options.append("allow any region")
    if request.gpu_model:
        options.append("accept another GPU model")
    if request.gpu_count > 1:
        options.append("ask for fewer GPUs")
    options.append("reduce CPU or memory")
    return "No offer fits. Relax the request: " + ", or ".join(options) + "."


# --- the process-wide service (the agent's lazy factory, the chat, the CLI) ------------------------------
_service: NectoService | None = None
_service_lock = threading.Lock()


def get_service(settings: NectoSettings | None = None) -> NectoService:
    """The service for this process, built from settings on first use (starts the devnet on sandbox)."""
    global _service
    with _service_lock:
        if _service is None:
            from tools.wiring import build_service

            _service = build_service(settings or NectoSettings())
        return _service


def set_service(service: NectoService | None) -> None:
    """Install a service (tests, the CLI) as the process-wide one."""
    global _service
    with _service_lock:
        _service = service
