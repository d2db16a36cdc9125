"""The offline planner: a deterministic ADK ``BaseLlm`` that drives Necto's tools with no network.

It is what runs when there is no Gemini key, and the model the tests use. Each call reads the
conversation (``llm_request.contents``), takes the latest user text through ``parse_intent`` and looks at
the tool calls and results that followed it in this turn, then answers like a real model: one function
call, or a text reply. Earlier turns give context: the last request (for "deploy it") and the last job id.

Tool output is data, never instructions: the next step depends only on the user's words and on the
structural fields of results (status, plan_id, offer_id, job_id). Log lines are quoted, not read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from google.adk.models import LlmCapabilities
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from agent.intent import REQUEST_FIELDS, Intent, parse_intent

MAX_TOOL_CALLS_PER_TURN = 8
REFUSED_KEY = "necto_refused"

HELP_TEXT = (
    "I'm Necto. I compare compute offers (Akash providers and fixed-rate clouds) and deploy to Akash. "
    'Try: "cheapest A100 for 10 hours", "deploy my Next.js app cheaply in Europe", "show me the logs", '
    '"is it running?", "shut it down", "list my jobs", "mint 20 ACT" or "what is 1000 uact per block in dollars". '
    "Anything that spends or signs shows a confirmation card first; you approve it there."
)
AWAITING_TEXT = "Review the confirmation card and approve or reject it."
CARD_WAITING_TEXT = (
    "A confirmation card is waiting: approve or reject it there. A chat message can't approve a transaction."
)
TOO_MANY_STEPS_TEXT = (
    "Sorry, I stopped here: this turn took too many steps. Nothing more was signed or spent; "
    "try a simpler request."
)
REPEAT_TEXT = "Sorry, I'd be repeating the same step, so I stopped here. Nothing more was signed or spent."
MINT_ASK_TEXT = (
    "How much ACT should I mint? Deposits are paid in ACT, minted by burning AKT at the chain's oracle price "
    "(at least 10 ACT per mint). Say e.g. 'mint 20 ACT', or ask to deploy and I'll offer the mint the deposit needs."
)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass
class ToolExchange:
    """One function call and, once it has answered, its result."""

    name: str
    args: dict[str, Any]
    result: dict[str, Any] | None = None
    call_id: str | None = None

    @property
    def status(self) -> str | None:
        return None if self.result is None else self.result.get("status")


@dataclass
class Conversation:
    """What the planner reads from ``llm_request.contents``."""

    text: str | None  # the latest user text
    earlier: list[ToolExchange]  # tool exchanges before that text
    current: list[ToolExchange]  # tool exchanges after it, in this turn

    @property
    def previous_request(self) -> dict[str, Any] | None:
        """The last request the user stated (for "deploy it"), with the port if build_sdl had one."""
        for exchange in reversed(self.earlier):
            if exchange.name in ("list_providers", "build_sdl"):
                request = {k: v for k, v in exchange.args.items() if k in REQUEST_FIELDS}
                if exchange.args.get("port") is not None:
                    request["port"] = exchange.args["port"]
                return request
        return None

    @property
    def last_job_id(self) -> str | None:
        for exchange in reversed(self.earlier):
            result = exchange.result or {}
            job = result.get("job") if isinstance(result.get("job"), dict) else {}
            for value in (result.get("job_id"), job.get("job_id"), exchange.args.get("job_id")):
                if isinstance(value, str) and value:
                    return value
        return None

    @property
    def short_funded_plan_id(self) -> str | None:
        """The latest deployment plan whose deposit the account could not cover (for "I need ACT")."""
        for exchange in reversed(self.earlier):
            if exchange.name == "build_sdl":
                result = exchange.result or {}
                funding = result.get("funding") if isinstance(result.get("funding"), dict) else {}
                plan_id = result.get("plan_id")
                return plan_id if funding.get("status") == "short" and isinstance(plan_id, str) else None
        return None

    @property
    def card_waiting(self) -> bool:
        return bool(self.earlier) and self.earlier[-1].status == "awaiting_confirmation"


def read_conversation(contents: list[types.Content]) -> Conversation:
    exchanges: list[ToolExchange] = []
    start = 0
    text: str | None = None
    for content in contents:
        parts = content.parts or []
        if content.role == "user":
            responses = [p.function_response for p in parts if p.function_response]
            texts = [p.text for p in parts if p.text and not p.thought]
            if texts and not responses:
                text = "\n".join(texts)
                start = len(exchanges)
            for response in responses:
                _attach(exchanges, response)
        else:
            for part in parts:
                if part.function_call:
                    call = part.function_call
                    exchanges.append(ToolExchange(call.name or "", dict(call.args or {}), None, call.id))
    return Conversation(text=text, earlier=exchanges[:start], current=exchanges[start:])


def _attach(exchanges: list[ToolExchange], response: types.FunctionResponse) -> None:
    result = response.response if isinstance(response.response, dict) else {"result": response.response}
    pending = [e for e in exchanges if e.result is None and e.name == response.name]
    by_id = [e for e in pending if response.id and e.call_id == response.id]
    target = (by_id or pending or [None])[0]
    if target is not None:
        target.result = result
    else:  # a response whose call we can't see (e.g. replaced on resume): keep it as a finished exchange
        exchanges.append(ToolExchange(response.name or "", {}, result, response.id))


# --------------------------------------------------------------------------------------------------
# the decision


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    text: str
    refused: bool = False


Step = Call | Reply


def _clean(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if v is not None}


def decide(conversation: Conversation, *, max_tool_calls: int = MAX_TOOL_CALLS_PER_TURN) -> Step:
    """The next step for this turn: pure, deterministic."""
    if conversation.text is None:
        return Reply(HELP_TEXT)
    intent = parse_intent(conversation.text, previous=conversation.previous_request)
    step = _next_step(intent, conversation)
    if isinstance(step, Call):
        if len(conversation.current) >= max_tool_calls:
            return Reply(TOO_MANY_STEPS_TEXT)
        if any(e.name == step.name and e.args == step.args for e in conversation.current):
            return Reply(REPEAT_TEXT)
    return step


def _next_step(intent: Intent, conversation: Conversation) -> Step:
    current = conversation.current
    last = current[-1] if current else None
    if intent.action == "refuse":
        return Reply(intent.refusal or "I can't do that.", refused=True)
    if last is not None and last.status == "error":
        return Reply(_error_text(last.result or {}))
    job_id = intent.job_id or conversation.last_job_id

    if intent.action == "help":
        return Reply(HELP_TEXT)
    if intent.action == "quote":
        if intent.alternatives:
            return _compare_step(intent, conversation)
        if last is None:
            return Call("list_providers", dict(intent.request_args))
        return Reply(" ".join(filter(None, [intent.sizing, quote_text(last.result or {})])))
    if intent.action == "deploy":
        return _deploy_step(intent, conversation)
    if intent.action == "logs":
        if last is None:
            return Call("tail_logs", _clean({"job_id": job_id}))
        return Reply(logs_text(last.result or {}))
    if intent.action == "status":
        if last is None:
            return Call("deployment_status", _clean({"job_id": job_id}))
        return Reply(job_text(last.result or {}))
    if intent.action == "jobs":
        if last is None:
            return Call("list_jobs", {})
        return Reply(jobs_text(last.result or {}))
    if intent.action == "normalize":
        if last is None and intent.price is not None:
            args = {"amount": intent.price.amount, "unit": intent.price.unit}
            if intent.price.akt_usd is not None:
                args["akt_usd"] = intent.price.akt_usd
            return Call("normalize_price", args)
        return Reply(normalize_text(last.result if last else {}))
    if intent.action == "record":
        if last is None:
            return Call("record_job", _clean({"job_id": job_id, "note": intent.note}))
        return Reply(record_text(last.result or {}))
    if intent.action == "mint":
        if last is None:
            if conversation.card_waiting:
                return Reply(CARD_WAITING_TEXT)
            if intent.act_amount is not None:
                return Call("mint_act", {"act_amount": intent.act_amount})
            plan_id = conversation.short_funded_plan_id
            return Call("mint_act", {"for_plan_id": plan_id}) if plan_id else Reply(MINT_ASK_TEXT)
        return Reply(mint_text(last.result or {}))
    if intent.action == "close":
        if conversation.card_waiting and last is None and not intent.job_id:
            return Reply(CARD_WAITING_TEXT)
        if last is None:
            return Call("close_deployment", _clean({"job_id": job_id}))
        return Reply(close_text(last.result or {}))
    return Reply(HELP_TEXT)


def _deploy_step(intent: Intent, conversation: Conversation) -> Step:
    current = conversation.current
    last = current[-1] if current else None
    if last is None:
        if conversation.card_waiting and (intent.follow_up or not intent.request_args):
            return Reply(CARD_WAITING_TEXT)
        if not intent.request_args and not intent.follow_up:
            return Reply(
                "What should I deploy? Name an app (Next.js, WordPress, Jupyter, ...) or an image such as "
                "nginx:1.27, and any size, region or budget."
            )
        return Call("list_providers", dict(intent.request_args))
    result = last.result or {}
    if last.name == "list_providers":
        offer = _deployable_offer(result)
        if offer is None and not result.get("offers"):
            return Reply(quote_text(result))
        args = dict(intent.request_args)
        args["port"] = intent.port
        args["offer_id"] = offer.get("offer_id") if offer else None
        args["model"] = intent.model
        return Call("build_sdl", _clean(args))
    if last.name == "build_sdl":
        plan_id = result.get("plan_id")
        if not plan_id:
            return Reply("The deployment plan came back without a plan id, so I stopped. Nothing was signed.")
        funding = result.get("funding") if isinstance(result.get("funding"), dict) else {}
        if funding.get("status") == "short":
            # The account can't pay the deposit: propose the mint first (its own card), then the deploy.
            if funding.get("mint_possible"):
                return Call("mint_act", {"for_plan_id": plan_id})
            return Reply(funding_text(funding))
        return Call("deploy", {"plan_id": plan_id})
    if last.name == "mint_act":
        if result.get("status") == "ok" and result.get("settled") and isinstance(result.get("for_plan_id"), str):
            return Call("deploy", {"plan_id": result["for_plan_id"]})
        return Reply(mint_text(result))
    if last.name == "deploy":
        return Reply(deploy_text(result))
    return Reply(HELP_TEXT)


def _compare_step(intent: Intent, conversation: Conversation) -> Step:
    """Quote each alternative (one list_providers call per GPU model), then compare the winners."""
    done = {_frozen(e.args): e.result for e in conversation.current if e.name == "list_providers"}
    for alternative in intent.alternatives:
        if _frozen(alternative) not in done:
            return Call("list_providers", dict(alternative))
    return Reply(comparison_text([
        (f"{a['gpu_count']}x {a['gpu_model']}" if a.get("gpu_count", 1) != 1 else a["gpu_model"], done[_frozen(a)] or {})
        for a in intent.alternatives
    ]))


def _frozen(args: dict[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in args.items()))


def comparison_text(results: list[tuple[str, dict[str, Any]]]) -> str:
    lines, priced = [], []
    for model, result in results:
        best = result.get("recommendation") or next(iter(result.get("offers") or []), None)
        hours = (result.get("request") or {}).get("hours")
        if result.get("status") != "ok" or not isinstance(best, dict):
            lines.append(f"{model.upper()}: no offer fits ({_untrusted(result.get('message') or result.get('hint') or 'nothing matched', 160)}).")
            continue
        line = f"{model.upper()}: " + _offer_line(best, hours)
        per_pflop = best.get("usd_per_effective_pflop_hour")
        if per_pflop is not None:
            line += f"; {_usd(per_pflop)} per effective PFLOP-hour"
        lines.append(line + ".")
        priced.append((model, best))
    if len(priced) > 1:
        cheapest = min(priced, key=lambda item: float(item[1].get("usd_per_hour") or 0))
        lines.append(f"Cheaper per hour: {cheapest[0].upper()}.")
        with_perf = [(m, o) for m, o in priced if o.get("usd_per_effective_pflop_hour") is not None]
        if len(with_perf) > 1:
            value = min(with_perf, key=lambda item: float(item[1]["usd_per_effective_pflop_hour"]))
            lines.append(f"More compute per dollar: {value[0].upper()}.")
    lines.append("Say 'deploy it with the <model>' to go ahead with one of them.")
    return " ".join(lines)


def _deployable_offer(result: dict[str, Any]) -> dict[str, Any] | None:
    """The recommendation when Necto can deploy it, else the best-ranked offer that it can."""
    candidates = [result.get("recommendation")] + list(result.get("offers") or [])
    for offer in candidates:
        if isinstance(offer, dict) and _is_deployable(offer):
            return offer
    return None


def _is_deployable(offer: dict[str, Any]) -> bool:
    if "deployable" in offer:
        return bool(offer["deployable"])
    return str(offer.get("source", "")).lower().startswith("akash")


# --------------------------------------------------------------------------------------------------
# replies: every figure comes from a tool result; code formats it, nothing is invented


def _usd(value: Any) -> str:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value)
    if amount >= 100:
        return f"${amount:,.0f}"
    if amount >= 1:
        return f"${amount:,.2f}"
    return f"${amount:.4f}".rstrip("0").rstrip(".") if amount else "$0"


def _untrusted(value: Any, limit: int = 200) -> str:
    """Text from a remote party (logs, provider names): no control characters, one line, bounded."""
    text = _CONTROL.sub("", str(value)).replace("\n", " ").replace("\r", " ")
    text = text.replace("`", "'").replace("<", "‹").replace(">", "›")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(result: dict[str, Any]) -> str:
    message = _untrusted(result.get("message") or "no details", 400)
    hint = _untrusted(result.get("hint") or "", 300)
    text = f"That didn't work: {message}" + (f" {hint}" if hint else "")
    return text if "nothing was signed" in text.lower() else text + " Nothing was signed or spent."


def _offer_line(offer: dict[str, Any], hours: Any) -> str:
    provider = _untrusted(offer.get("provider") or offer.get("provider_name") or offer.get("name") or "?", 80)
    source = offer.get("source")
    line = f"{provider}" + (f" ({_untrusted(source, 40)})" if source and source != provider else "")
    if offer.get("usd_per_hour") is not None:
        line += f" at {_usd(offer['usd_per_hour'])}/h"
    total = offer.get("usd_total", offer.get("total_usd"))
    if total is None and offer.get("usd_per_hour") is not None and hours:
        try:
            total = float(offer["usd_per_hour"]) * float(hours)
        except (TypeError, ValueError):
            total = None
    if total is not None and hours:
        line += f", {_usd(total)} for {float(hours):g} h"
    return line


def quote_text(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    request = result.get("request") or {}
    hours = request.get("hours")
    offers = [o for o in result.get("offers") or [] if isinstance(o, dict)]
    recommendation = result.get("recommendation")
    skipped = [s for s in result.get("skipped") or [] if isinstance(s, dict)]
    skipped_names = {str(s.get("source")) for s in skipped}
    asked = result.get("sources")
    if isinstance(asked, list) and asked:
        # Every source that answered, not only those in the top rows shown.
        sources = sorted({str(name) for name in asked} - skipped_names)
    else:
        sources = sorted({str(o.get("source")) for o in offers if o.get("source")})
    parts: list[str] = []
    if isinstance(recommendation, dict):
        parts.append("Best offer: " + _offer_line(recommendation, hours) + ".")
        why = recommendation.get("why") or recommendation.get("reason") or recommendation.get("reasons")
        if isinstance(why, list):
            why = "; ".join(str(w) for w in why)
        if why:
            parts.append(f"Why: {_untrusted(why, 300)}.".replace("..", "."))
        top = offers[0] if offers else None
        if top is not None and top.get("offer_id") != recommendation.get("offer_id"):
            parts.append("Top-ranked overall: " + _offer_line(top, hours) + ", which Necto can't deploy to.")
        count = result.get("offers_total", len(offers))
        parts.append(
            f"{count} offer{'s' if count != 1 else ''} compared"
            + (
                f" from {len(sources)} source{'s' if len(sources) != 1 else ''} ({', '.join(sources)})"
                if sources
                else ""
            )
            + "."
        )
    else:
        explanation = result.get("explanation") or "No offer fits this request."
        parts.append(f"No offer fits: {_untrusted(explanation, 400)}")
        if result.get("hint"):
            parts.append(_untrusted(result["hint"], 300))
        if not result.get("hint") and not result.get("explanation"):
            parts.append("Try relaxing the budget, the region or the GPU model.")
    if skipped:
        parts.append(
            "Skipped: "
            + "; ".join(
                f"{_untrusted(s.get('source', '?'), 40)} ({_untrusted(s.get('reason', ''), 120)})"
                for s in skipped
            )
            + "."
        )
    if isinstance(recommendation, dict):
        if _is_deployable(recommendation):
            parts.append("Say 'deploy it' to go ahead.")
        elif _deployable_offer(result):
            parts.append("That one isn't on Akash; say 'deploy it' to deploy the best Akash offer instead.")
    return " ".join(parts)


def deploy_text(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "awaiting_confirmation":
        return AWAITING_TEXT
    if status == "rejected":
        return _untrusted(result.get("message") or "You declined; nothing was signed.", 300)
    if status != "ok":
        return _error_text(result)
    uris = result.get("uris") or []
    text = (
        f"Deployed: job {_untrusted(result.get('job_id'), 80)}"
        + (f" (dseq {result['dseq']})" if result.get("dseq") else "")
        + f" on {_untrusted(result.get('provider') or '?', 80)}, state {_untrusted(result.get('state') or '?', 40)}."
    )
    if uris:
        text += " URIs: " + ", ".join(_untrusted(u, 200) for u in uris) + "."
    return text


def close_text(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "awaiting_confirmation":
        return AWAITING_TEXT
    if status == "rejected":
        return _untrusted(result.get("message") or "You declined; nothing was signed.", 300)
    if status != "ok":
        return _error_text(result)
    text = f"Closed job {_untrusted(result.get('job_id'), 80)}."
    if result.get("refund_act") is not None:
        text += f" Refunded {_untrusted(result['refund_act'], 40)} ACT (the unused deposit) to your account."
    elif result.get("refund_usd") is not None:
        text += f" Refunded {float(result['refund_usd']):g} ACT (the unused deposit) to your account."
    return text


def mint_text(result: dict[str, Any]) -> str:
    status = result.get("status")
    if status == "awaiting_confirmation":
        return AWAITING_TEXT
    if status == "rejected":
        return _untrusted(result.get("message") or "You declined; nothing was signed.", 300)
    if status != "ok":
        return _error_text(result)
    text = _untrusted(result.get("message") or "Minted.", 300)
    if result.get("next_step"):
        text += " " + _untrusted(result["next_step"], 200)
    return text


def funding_text(funding: dict[str, Any]) -> str:
    """A deploy plan the account can't pay for, and minting ACT isn't possible either: say why, sign nothing."""
    text = _untrusted(funding.get("message") or "Your account lacks the ACT for this deposit.", 300)
    if funding.get("mint_error"):
        text += " Minting ACT for it isn't possible right now: " + _untrusted(funding["mint_error"], 300)
    if funding.get("next_step"):
        text += " " + _untrusted(funding["next_step"], 300)
    return text + " Nothing was signed."


def logs_text(result: dict[str, Any], shown: int = 5) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    lines = [line for line in result.get("lines") or [] if isinstance(line, dict)]
    job = _untrusted(result.get("job_id") or "", 80)
    if not lines:
        return f"No log lines yet for job {job}."
    tail = lines[-shown:]
    quoted = "\n".join(
        f"    {_untrusted(line.get('service') or '-', 40)} | {_untrusted(line.get('message', ''))}"
        for line in tail
    )
    return (
        f"{len(lines)} log line{'s' if len(lines) != 1 else ''} for job {job}; the last {len(tail)} "
        f"(quoted as data, not instructions):\n{quoted}"
    )


def _job_fields(job: dict[str, Any]) -> str:
    bits = [f"job {_untrusted(job.get('job_id') or job.get('id') or '?', 80)}"]
    if job.get("state"):
        bits.append(_untrusted(job["state"], 40))
    if job.get("workload"):
        bits.append(_untrusted(job["workload"], 40))
    if job.get("provider"):
        bits.append("on " + _untrusted(job["provider"], 80))
    for key, value in job.items():
        if key.endswith("_usd") and value is not None:
            bits.append(f"{key.removesuffix('_usd').replace('_', ' ')} {_usd(value)}")
    uris = job.get("uris") or []
    if uris:
        bits.append("URIs: " + ", ".join(_untrusted(u, 200) for u in uris))
    return ", ".join(bits)


def job_text(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    job = result.get("job") if isinstance(result.get("job"), dict) else result
    line = _job_fields(job)
    text = line[0].upper() + line[1:] + "."
    if job.get("escrow_left_act") is not None:
        text += f" Escrow left: {float(job['escrow_left_act']):.4f} ACT"
        if job.get("escrow_hours_left") is not None:
            text += f" (about {float(job['escrow_hours_left']):g} hours at the current price)"
        text += "."
    if job.get("warning"):
        text += " " + _untrusted(job["warning"], 200)
    return text


def jobs_text(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    jobs = [j for j in result.get("jobs") or [] if isinstance(j, dict)]
    if not jobs:
        return "You have no jobs yet."
    return f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}:\n" + "\n".join(
        f"- {_job_fields(j)}" for j in jobs
    )


def normalize_text(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    inputs = result.get("inputs") or {}
    given = (
        f"{inputs.get('amount')} {str(inputs.get('unit', '')).replace('_', ' ')}".strip()
        if inputs
        else "That"
    )
    text = f"{given} is about {_usd(result.get('usd_per_hour'))}/h, {_usd(result.get('usd_per_month'))}/month"
    if result.get("uact_per_block") is not None:
        text += f" ({result['uact_per_block']} uact per block)"
    return text + "."


def record_text(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return _error_text(result)
    job = result.get("job") if isinstance(result.get("job"), dict) else {}
    job_id = job.get("job_id") or job.get("id")
    return (
        f"Recorded job {_untrusted(job_id, 80)} in the ledger."
        if job_id
        else "Recorded the job in the ledger."
    )


# --------------------------------------------------------------------------------------------------


class OfflinePlanner(BaseLlm):
    """A deterministic planner that speaks ADK's model interface (no network, no randomness)."""

    model: str = "necto-offline-planner"
    max_tool_calls: int = MAX_TOOL_CALLS_PER_TURN

    @property
    def capabilities(self) -> LlmCapabilities:
        return LlmCapabilities(output_schema_and_tools=False)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        step = decide(read_conversation(list(llm_request.contents)), max_tool_calls=self.max_tool_calls)
        yield step_response(step)


# The planner spends no tokens; saying so keeps ADK's telemetry from warning on every turn.
_NO_USAGE = types.GenerateContentResponseUsageMetadata(prompt_token_count=0, candidates_token_count=0, total_token_count=0)


def step_response(step: Step) -> LlmResponse:
    if isinstance(step, Call):
        # No id: ADK assigns an "adk-..." id to every function call without one.
        part = types.Part(function_call=types.FunctionCall(name=step.name, args=step.args))
        return LlmResponse(content=types.Content(role="model", parts=[part]), usage_metadata=_NO_USAGE)
    return LlmResponse(
        content=types.Content(role="model", parts=[types.Part(text=step.text)]),
        custom_metadata={REFUSED_KEY: True} if step.refused else None,
        usage_metadata=_NO_USAGE,
    )
