"""A fake NectoToolBackend: records every call and answers with realistic result dicts."""

from __future__ import annotations

import hashlib
from typing import Any

from tools.errors import PlanNotFound, PolicyDenied
from tools.request import ComputeRequest

OFFERS = [
    {
        "offer_id": "akash:prov-a:1",
        "provider": "akash1provaaa",
        "source": "akash",
        "usd_per_hour": 1.42,
        "usd_total": 14.2,
        "deployable": True,
        "why": "lowest risk-adjusted price with 99.2% uptime",
    },
    {
        "offer_id": "lambda:gpu_1x_a100",
        "provider": "Lambda",
        "source": "lambda",
        "usd_per_hour": 1.79,
        "usd_total": 17.9,
        "deployable": False,
        "why": "fixed rate",
    },
    {
        "offer_id": "akash:prov-b:1",
        "provider": "akash1provbbb",
        "source": "akash",
        "usd_per_hour": 1.95,
        "usd_total": 19.5,
        "deployable": True,
        "why": "audited",
    },
]


class FakeBackend:
    def __init__(self, *, offers: list[dict] | None = None, log_lines: list[dict] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.offers = OFFERS if offers is None else offers
        self.plans: dict[str, dict[str, Any]] = {}
        self.executed: list[tuple[str, str]] = []  # (plan_id, confirmed_hash)
        self.log_lines = (
            log_lines
            if log_lines is not None
            else [
                {"service": "web", "message": "ready on :3000"},
                {"service": "web", "message": "GET / 200"},
            ]
        )

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    async def quote(self, request: dict[str, Any], *, limit: int, owner: str = "local") -> dict[str, Any]:
        self._record("quote", request=request, limit=limit)
        full = ComputeRequest.parse(request).model_dump(mode="json")
        offers = [
            o
            for o in self.offers
            if full["max_usd_per_hour"] is None or o["usd_per_hour"] <= full["max_usd_per_hour"]
        ]
        hours = full["hours"]
        offers = [{**o, "usd_total": round(o["usd_per_hour"] * hours, 2)} for o in offers]
        return {
            "status": "ok",
            "request": full,
            "offers": offers[:limit],
            "recommendation": offers[0] if offers else None,
            "skipped": [{"source": "vast", "reason": "no API key configured"}],
            "explanation": (
                f"{len(offers)} offers fit"
                if offers
                else "No offer is under your budget; the cheapest fitting offer costs $1.42/h."
            ),
            **({} if offers else {"hint": "Raise max_usd_per_hour to at least 1.42, or drop the GPU."}),
        }

    async def normalize_price(self, amount: float, unit: str, akt_usd: float | None) -> dict[str, Any]:
        self._record("normalize_price", amount=amount, unit=unit, akt_usd=akt_usd)
        return {
            "status": "ok",
            "usd_per_hour": 0.5903,
            "usd_per_month": 430.92,
            "uact_per_block": 1000,
            "inputs": {"amount": amount, "unit": unit},
        }

    async def create_deploy_plan(self, request, *, port, offer_id, owner) -> dict[str, Any]:
        self._record("create_deploy_plan", request=request, port=port, offer_id=offer_id, owner=owner)
        plan_id = f"plan-{len(self.plans) + 1}"
        plan_hash = hashlib.sha256(f"{plan_id}{request}{offer_id}".encode()).hexdigest()
        self.plans[plan_id] = {"owner": owner, "hash": plan_hash, "kind": "deploy"}
        return {
            "status": "ok",
            "plan_id": plan_id,
            "plan_hash": plan_hash,
            "sdl": "version: '2.0'\n",
            "manifest_hash": "ab" * 32,
            "summary": {"deposit_usd": 5.0},
        }

    def _plan(self, plan_id: str, owner: str) -> dict[str, Any]:
        plan = self.plans.get(plan_id)
        if plan is None or plan["owner"] != owner:
            raise PlanNotFound(f"There is no plan {plan_id!r}.", hint="Build one with build_sdl first.")
        return plan

    def _check(self, plan_id: str, confirmed_hash: str, owner: str) -> dict[str, Any]:
        plan = self._plan(plan_id, owner)
        if confirmed_hash != plan["hash"]:
            raise PolicyDenied("The plan changed after you approved it; nothing was signed.")
        return plan

    def plan_summary(self, plan_id: str, *, owner: str) -> dict[str, Any]:
        self._record("plan_summary", plan_id=plan_id, owner=owner)
        plan = self._plan(plan_id, owner)
        return {
            "status": "ok",
            "plan_hash": plan["hash"],
            "text": f"{plan['kind']} {plan_id}: deposit 5 ACT",
            "card": {
                "action": plan["kind"],
                "plan_id": plan_id,
                "deposit_usd": 5.0,
                "plan_hash": plan["hash"],
            },
        }

    async def execute_deploy_plan(self, plan_id: str, *, confirmed_hash: str, owner: str) -> dict[str, Any]:
        self._record("execute_deploy_plan", plan_id=plan_id, confirmed_hash=confirmed_hash, owner=owner)
        self._check(plan_id, confirmed_hash, owner)
        self.executed.append((plan_id, confirmed_hash))
        return {
            "status": "ok",
            "job_id": "job-7f3a",
            "dseq": 4242,
            "provider": "akash1provaaa",
            "state": "running",
            "uris": ["https://abc.provider.example"],
        }

    async def create_close_plan(self, job_id, *, owner) -> dict[str, Any]:
        self._record("create_close_plan", job_id=job_id, owner=owner)
        plan_id = f"close-{len(self.plans) + 1}"
        self.plans[plan_id] = {
            "owner": owner,
            "hash": "c" * 64,
            "kind": "close",
            "job_id": job_id or "job-7f3a",
        }
        return {"status": "ok", "plan_id": plan_id}

    async def execute_close_plan(self, plan_id: str, *, confirmed_hash: str, owner: str, job_id: str | None = None) -> dict[str, Any]:
        self._record("execute_close_plan", plan_id=plan_id, confirmed_hash=confirmed_hash, owner=owner)
        plan = self._check(plan_id, confirmed_hash, owner)
        self.executed.append((plan_id, confirmed_hash))
        return {"status": "ok", "job_id": plan["job_id"], "state": "closed", "refund_usd": 3.1}

    async def logs(self, job_id, *, tail, service, owner) -> dict[str, Any]:
        self._record("logs", job_id=job_id, tail=tail, service=service, owner=owner)
        return {"status": "ok", "job_id": job_id or "job-7f3a", "lines": self.log_lines[-tail:]}

    async def status(self, job_id, *, owner) -> dict[str, Any]:
        self._record("status", job_id=job_id, owner=owner)
        return {
            "status": "ok",
            "job": {
                "job_id": job_id or "job-7f3a",
                "state": "running",
                "provider": "akash1provaaa",
                "uris": ["https://abc.provider.example"],
                "cost_so_far_usd": 0.42,
                "escrow_left_usd": 4.58,
            },
        }

    def record_job(self, job_id, *, note, owner) -> dict[str, Any]:
        self._record("record_job", job_id=job_id, note=note, owner=owner)
        return {"status": "ok", "job": {"job_id": job_id or "job-7f3a", "note": note}}

    def list_jobs(self, *, limit, state, owner) -> dict[str, Any]:
        self._record("list_jobs", limit=limit, state=state, owner=owner)
        return {
            "status": "ok",
            "jobs": [
                {
                    "job_id": "job-7f3a",
                    "state": "running",
                    "workload": "nextjs",
                    "provider": "akash1provaaa",
                    "cost_usd": 0.42,
                }
            ],
        }
