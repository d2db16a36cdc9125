"""Necto's web chat (``chainlit run ui/app.py -h``): the ADK agent at the edge of a Chainlit page.

Every turn goes through the ADK runner (``agent.conversation.run_turn`` / ``answer_confirmation``). What the
page shows is written by code in ``ui/render.py``: tool calls as steps, the offer comparison table, and the
confirmation card rendered from the plan Necto stored (security.md rule 1), never from the model's words.
Approval only ever comes from the user's click on Approve, in this chat.

Handlers never let an exception reach the page: the log keeps the detail, the chat gets a sentence with a
next step.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Chainlit puts ui/ (not the repo root) on sys.path when it loads this file.
_REPO_ROOT = str(Path(__file__).resolve().parents[1])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import chainlit as cl  # noqa: E402

from agent.conversation import PendingConfirmation, ToolCall, TurnResult, answer_confirmation, run_turn  # noqa: E402
from ui import render  # noqa: E402
from ui.chart import price_performance_svg  # noqa: E402

log = logging.getLogger("necto.ui")

APP_NAME = "necto"
CONFIRM_TIMEOUT_S = 600  # an unanswered card expires; the plan is then declined, nothing is signed
RUNNING_WAIT_S = 180.0  # after the deploy tool returns, how long the chat follows the job to "running"
LOG_LINES = 30  # the chat shows the first lines, then stops so the turn ends
LOG_SECONDS = 20.0
APPROVE, REJECT = "necto_approve", "necto_reject"
ASKING_CLIENTS = {"webapp", "copilot"}
APPROVED_LINE = "**Approved**: signing exactly the plan on the card."
TERMINAL_STATES = {"running", "failed", "closed"}


# ------------------------------------------------------------------------------- process state
_backend_lock = asyncio.Lock()
_backend: dict[str, Any] = {}


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def backend() -> tuple[Any, Any]:
    """The Necto service and the ADK runner, built once per process (sessions are per chat)."""
    async with _backend_lock:
        if "runner" not in _backend:
            from google.adk.runners import Runner
            from google.adk.sessions import InMemorySessionService

            from agent.agent import build_agent
            from tools.service import get_service

            service = await _maybe_await(get_service())
            agent = build_agent(service, settings=getattr(service, "settings", None))
            _backend["service"] = service
            _backend["runner"] = Runner(
                agent=agent, app_name=APP_NAME, session_service=InMemorySessionService()
            )
            from tools.wiring import settle_heap

            settle_heap()  # the server lives long: keep GC pauses to what requests allocate
        return _backend["service"], _backend["runner"]


@cl.on_app_startup
async def on_app_startup() -> None:
    """Start the sandbox (if any) with the server, and resume or clean up jobs a crash interrupted."""
    try:
        service, _runner = await backend()
    except Exception:  # the chat still starts; the first message reports the problem as a sentence
        log.exception("Necto could not start its service")
        return
    _background.append(asyncio.ensure_future(_resume(service)))


async def _resume(service: Any) -> None:
    try:
        for result in await service.resume_unfinished():  # also the start-up reconcile with the chain
            log.info("resumed job %s: %s", result.get("job_id"), result.get("state"))
    except Exception:
        log.exception("resuming unfinished jobs failed")
    await _reconcile_forever(service)


async def _reconcile_forever(service: Any) -> None:
    """Compare the ledger with the chain every ``reconcile_interval_s``; new findings reach the owners' chats."""
    interval = float(getattr(getattr(service, "settings", None), "reconcile_interval_s", 300.0))
    while True:
        await asyncio.sleep(interval)
        try:
            await service.reconcile_chain()
        except Exception:  # never let the loop die: the next pass may succeed
            log.exception("periodic reconcile failed")


FINDING_TITLES = {
    "untracked": "Found a deployment Necto wasn't tracking",
    "lease_lost": "Lease lost",
    "stranded": "Still open on chain",
    "escrow_low": "Escrow running low",
    "closed_on_chain": "Deployment ended",
}
CLOSE_FOUND = "necto_close_found"


async def show_finding(finding: Mapping[str, Any]) -> None:
    """One reconcile finding as a message; a close action when funds are still in escrow."""
    title = FINDING_TITLES.get(str(finding.get("kind")), "Deployment check")
    actions = []
    if finding.get("action") == "close" and finding.get("job_id"):
        escrow = finding.get("escrow_left_uact")
        refund = f" and refund ~{int(escrow) / 1e6:g} ACT" if isinstance(escrow, int) and escrow > 0 else ""
        actions.append(cl.Action(name=CLOSE_FOUND, payload={"job_id": str(finding["job_id"])},
                                 label=f"Close deployment {finding.get('dseq')}{refund}", icon="x"))
    text = f"**{title}.** {render.safe_text(finding.get('message'), 400)}"
    await cl.Message(content=text, author="Necto", actions=actions).send()


@cl.action_callback(CLOSE_FOUND)
async def close_found(action: cl.Action) -> None:
    """The one-click close: the normal close flow (a code-built card, then Approve), never a direct signature."""
    job_id = str((action.payload or {}).get("job_id") or "")
    if not job_id:
        return
    state = await _chat_state()
    _, runner = await backend()
    turn = await run_turn(runner, user_id=state.user_id, session_id=state.session_id, text=f"close job {job_id}")
    await show_turn(state, turn)


async def _watch_findings(service: Any, owner: str) -> None:
    queue = service.events.subscribe(owner)
    try:
        while True:
            event = await queue.get()
            if event.get("kind") == "reconcile":
                await show_finding(event.get("finding") or {})
    finally:
        service.events.unsubscribe(owner, queue)


@cl.on_app_shutdown
async def on_app_shutdown() -> None:
    service = _backend.get("service")
    if service is not None:
        service.close()


_background: list[asyncio.Future] = []


class ChatState:
    """This chat's ADK user and session. (No @dataclass: Chainlit execs this file without a sys.modules entry.)"""

    __slots__ = ("user_id", "session_id")

    def __init__(self, user_id: str, session_id: str) -> None:
        self.user_id = user_id
        self.session_id = session_id


def _user_id() -> str:
    user = cl.user_session.get("user")
    identifier = getattr(user, "identifier", None)
    # Without auth every browser shares the local ledger, as the CLI does.
    return str(identifier) if identifier else "local"


async def _chat_state() -> ChatState:
    state = cl.user_session.get("necto")
    if state is None:
        _, runner = await backend()
        user_id = _user_id()
        session = await runner.session_service.create_session(app_name=APP_NAME, user_id=user_id)
        state = ChatState(user_id=user_id, session_id=session.id)
        cl.user_session.set("necto", state)
    return state


def _client_type() -> str:
    try:
        return str(cl.context.session.client_type)
    except Exception:  # no session (tests): treat as the web app
        return "webapp"


async def _say(content: str) -> None:
    await cl.Message(content=content, author="Necto").send()


# ------------------------------------------------------------------------------- handlers
@cl.set_starters
async def starters(user: Any = None, language: Any = None) -> list[cl.Starter]:
    return [
        cl.Starter(label="Deploy my Next.js app cheaply", message="deploy my Next.js app cheaply"),
        cl.Starter(label="Compare GPU prices", message="compare prices for one H100 for 10 hours"),
        cl.Starter(label="A100 or H100?", message="A100 vs H100 for 10 hours"),
        cl.Starter(label="What is running?", message="list my jobs"),
    ]


@cl.on_chat_start
async def on_chat_start() -> None:
    try:
        state = await _chat_state()
        service, _ = await backend()
        # What the last reconcile found for this user (a deployment Necto lost track of, escrow low ...).
        for finding in getattr(service, "reconcile_findings", lambda _owner: [])(state.user_id):
            await show_finding(finding)
        if hasattr(service, "events"):
            cl.user_session.set("necto_findings", asyncio.ensure_future(_watch_findings(service, state.user_id)))
    except Exception:
        log.exception("chat start failed")
        await _say(
            render.error_text(
                "Necto could not start its backend (the local devnet or the agent).",
                "Check the server log, then reload this page.",
            )
        )


@cl.on_chat_end
async def on_chat_end() -> None:
    watcher = cl.user_session.get("necto_findings")
    if watcher is not None:
        watcher.cancel()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    try:
        state = await _chat_state()
        _, runner = await backend()
        turn = await run_turn(
            runner, user_id=state.user_id, session_id=state.session_id, text=message.content
        )
        await show_turn(state, turn)
    except Exception:
        log.exception("turn failed")
        await _say(render.error_text("That request failed on Necto's side.", "Try again, or rephrase it."))


# ------------------------------------------------------------------------------- rendering a turn
async def show_turn(state: ChatState, turn: TurnResult, depth: int = 0) -> None:
    for call in turn.tool_calls:
        await _tool_step(call)
        if call.name == "list_providers" and (call.result or {}).get("status") == "ok":
            await _show_comparison(state, call.result or {})
    if turn.text:
        await cl.Message(content=turn.text, author="Necto").send()
    if turn.confirmation is not None and depth < 3:
        await confirm(state, turn, depth)


async def _show_comparison(state: ChatState, result: dict[str, Any]) -> None:
    """The comparison table, and under it the price-versus-performance chart of every ranked offer."""
    elements: list[Any] = []
    try:
        service, _ = await backend()
        offers = service.last_quote_offers(state.user_id) or list(result.get("offers") or [])
        recommended = (result.get("recommendation") or {}).get("offer_id")
        svg = price_performance_svg(offers, recommended=recommended)
        if svg is not None:
            elements.append(
                cl.Image(
                    name="price-vs-performance.svg", content=svg.encode(), mime="image/svg+xml", display="inline",
                    size="large",
                )
            )
    except Exception:  # the chart is a bonus; the table must still show
        log.exception("price/performance chart failed")
    await cl.Message(content=render.offers_table(result), author="Necto", elements=elements).send()


async def _tool_step(call: ToolCall) -> None:
    async with cl.Step(name=call.name, type="tool", show_input="json") as step:
        step.input = render.tool_input(call.args)
        # A call paused for confirmation has a result (awaiting_confirmation) but did not run yet.
        step.output = render.tool_summary(call.name, call.result) if call.result is not None else "not run"
        if (call.result or {}).get("status") == "error":
            step.is_error = True


def _card_from_turn(turn: TurnResult, plan_id: str) -> dict[str, Any] | None:
    for call in reversed(turn.tool_calls):
        result = call.result or {}
        if result.get("status") == "awaiting_confirmation" and result.get("plan_id") == plan_id:
            summary = result.get("summary")
            return dict(summary) if isinstance(summary, Mapping) else None
    return None


async def _stored_card(state: ChatState, turn: TurnResult, plan_id: str) -> dict[str, Any] | None:
    """The card for ``plan_id``: from the plan the service stored, else the tool's own (code-built) result."""
    service, _ = await backend()
    plan_summary = getattr(service, "plan_summary", None)
    if plan_summary is not None:
        try:
            summary = await _maybe_await(plan_summary(plan_id, owner=state.user_id))
        except Exception:
            log.exception("plan_summary failed")
            summary = None
        if isinstance(summary, Mapping) and isinstance(summary.get("card"), Mapping):
            return dict(summary["card"])
    return _card_from_turn(turn, plan_id)


async def confirm(state: ChatState, turn: TurnResult, depth: int) -> None:
    pending = turn.confirmation
    assert pending is not None
    payload = {
        "plan_id": str(pending.payload.get("plan_id", "")),
        "plan_hash": str(pending.payload.get("plan_hash", "")),
    }
    card = await _stored_card(state, turn, payload["plan_id"])
    if card is None or str(card.get("plan_hash", "")) != payload["plan_hash"]:
        # The plan changed or vanished between the request and now: never ask the user to approve it.
        await _answer(state, pending, approved=False, payload=payload, depth=depth)
        await _say(
            render.error_text("The plan to approve could not be verified.", "Ask Necto to build it again.")
        )
        return

    await cl.Message(content=render.confirmation_card(card), author="Necto").send()
    if _client_type() not in ASKING_CLIENTS:
        # Slack, Discord and Teams cannot show a trustworthy card or ask (security.md rule 6).
        await _answer(state, pending, approved=False, payload=payload, depth=depth)
        await _say("Approving needs the web chat (`necto serve`); nothing was signed here.")
        return
    action = str(card.get("action") or "this action")
    answer = await cl.AskActionMessage(
        content=f"Approve **{render.safe_text(action, 40)}**? Approving signs and broadcasts exactly the card above.",
        actions=[
            cl.Action(name=APPROVE, payload={"plan_id": payload["plan_id"]}, label="Approve", icon="check"),
            cl.Action(name=REJECT, payload={"plan_id": payload["plan_id"]}, label="Reject", icon="x"),
        ],
        author="Necto",
        timeout=CONFIRM_TIMEOUT_S,
    ).send()
    # None: timed out, or a client that cannot ask (Slack, Discord): both mean "not approved".
    approved = isinstance(answer, Mapping) and answer.get("name") == APPROVE
    if not approved:
        await _answer(state, pending, approved=False, payload=payload, depth=depth)
        reason = "You rejected it" if isinstance(answer, Mapping) else "No answer came in time"
        await _say(f"{reason}: nothing was signed and nothing was spent. Ask again whenever you like.")
        return
    await _answer(state, pending, approved=True, payload=payload, depth=depth, card=card)


async def _answer(
    state: ChatState,
    pending: PendingConfirmation,
    *,
    approved: bool,
    payload: dict[str, Any],
    depth: int,
    card: Mapping[str, Any] | None = None,
) -> None:
    service, runner = await backend()
    call = answer_confirmation(
        runner,
        user_id=state.user_id,
        session_id=state.session_id,
        confirmation_call_id=pending.confirmation_call_id,
        approved=approved,
        payload=payload,
    )
    if not approved:
        try:
            await call
        except Exception:
            log.exception("declining the confirmation failed")
        return
    tracker = ProgressTracker(service, state.user_id)
    await tracker.start()
    try:
        turn = await tracker.follow(call)
        outcome = _executed_result(turn, (pending.original_call or {}).get("name"))
        job_id = (outcome or {}).get("job_id")
        if (
            outcome
            and outcome.get("status") == "ok"
            and job_id
            and (card or {}).get("action") != "close deployment"
        ):
            if str(outcome.get("state")) not in TERMINAL_STATES:
                await tracker.until_settled(str(job_id))
    finally:
        tracker.stop()
    await show_turn(state, turn, depth + 1)
    if outcome is None or outcome.get("status") != "ok":
        return
    final_state = tracker.state_of(str(job_id)) or str(outcome.get("state") or "")
    uris = tracker.uris_of(str(job_id)) or list(outcome.get("uris") or [])
    if final_state == "running" or (uris and final_state not in {"failed", "closed"}):
        links = ", ".join(render.uri_link(u) for u in uris[:4]) or "no public URI (internal service)"
        await _say(f"**Live:** {links}")
        await stream_logs(state, str(job_id))
    elif final_state == "failed":
        await _say(
            render.error_text("The deployment did not start.", "Ask Necto for its status or to close it.")
        )
    elif final_state and final_state not in TERMINAL_STATES:
        await _say(f"Still {render.safe_text(final_state, 20)}; ask “status” in a minute to check on it.")


def _executed_result(turn: TurnResult, tool_name: str | None) -> dict[str, Any] | None:
    names = {tool_name} if tool_name else {"deploy", "close_deployment"}
    for call in reversed(turn.tool_calls):
        if call.name in names and call.result is not None:
            return call.result
    return None


class ProgressTracker:
    """Shows this user's deploy progress events in one message while the approved tool runs."""

    def __init__(self, service: Any, owner: str) -> None:
        self._service = service
        self._owner = owner
        self._queue: asyncio.Queue | None = None
        self._message: cl.Message | None = None
        self._lines: list[tuple[str, str]] = [("approved", APPROVED_LINE)]  # (collapse key, line)
        self._states: dict[str, str] = {}
        self._uris: dict[str, list[str]] = {}

    async def start(self) -> None:
        events = getattr(self._service, "events", None)
        if events is not None:
            self._queue = events.subscribe(self._owner)
        self._message = cl.Message(content=f"**Deploy progress**\n\n- {APPROVED_LINE}", author="Necto")
        await self._message.send()

    def stop(self) -> None:
        events = getattr(self._service, "events", None)
        if events is not None and self._queue is not None:
            events.unsubscribe(self._owner, self._queue)
        self._queue = None

    def state_of(self, job_id: str) -> str | None:
        return self._states.get(job_id)

    def uris_of(self, job_id: str) -> list[str]:
        return self._uris.get(job_id, [])

    async def follow(self, call: Any) -> TurnResult:
        """Await the approved turn while showing events as they arrive."""
        task = asyncio.ensure_future(call)
        try:
            while not task.done():
                await self._drain(timeout=0.25, job_id=None)
            await self._drain(timeout=0, job_id=None)
            return task.result()
        finally:
            if not task.done():
                task.cancel()

    async def until_settled(self, job_id: str) -> None:
        deadline = time.monotonic() + RUNNING_WAIT_S
        while self._states.get(job_id) not in TERMINAL_STATES and time.monotonic() < deadline:
            await self._drain(timeout=0.5, job_id=job_id)

    async def _drain(self, *, timeout: float, job_id: str | None) -> None:
        if self._queue is None:
            if timeout:
                await asyncio.sleep(timeout)
            return
        changed = False
        try:
            event = (
                await asyncio.wait_for(self._queue.get(), timeout) if timeout else self._queue.get_nowait()
            )
            while True:
                changed |= self._take(event, job_id)
                event = self._queue.get_nowait()
        except (TimeoutError, asyncio.QueueEmpty):
            pass
        if changed and self._message is not None:
            body = "\n".join(f"- {line}" for _, line in self._lines[-40:])
            self._message.content = f"**Deploy progress**\n\n{body}"
            await self._message.update()

    def _take(self, event: Any, job_id: str | None) -> bool:
        if not isinstance(event, Mapping):
            return False
        event_job = str(event.get("job_id") or "")
        if job_id is not None and event_job and event_job != job_id:
            return False  # another of this user's jobs (say, from the CLI)
        state = str(event.get("state") or "")
        data = event.get("data") if isinstance(event.get("data"), Mapping) else {}
        if event_job and state:
            self._states[event_job] = state
            if state == "running" and data.get("uris"):
                self._uris[event_job] = [str(u) for u in data.get("uris") or []]
        line = render.progress_line(event)
        if not line:
            return False
        # The growing bid list arrives again with each new bid: keep one line for it, updated in place.
        key = "bid-list" if state == "bids" and "bids" in data else state
        if key == "bid-list" and self._lines and self._lines[-1][0] == key:
            self._lines[-1] = (key, line)
        elif self._lines[-1][1] != line:
            self._lines.append((key, line))
        return True


async def stream_logs(state: ChatState, job_id: str) -> None:
    """The first LOG_LINES log lines, in one message updated as they come; stops after LOG_SECONDS."""
    service, _ = await backend()
    header = f"**Logs** (job {render.safe_text(job_id, 40)}, first {LOG_LINES} lines)\n\n"
    message = cl.Message(content=header + render.logs_block([]), author="Necto")
    await message.send()
    lines: list[dict[str, Any]] = []
    stream = service.stream_logs(job_id, owner=state.user_id, tail=50, follow=True)
    last_update = 0.0
    ended_by = "time"
    try:
        async with asyncio.timeout(LOG_SECONDS):
            async for line in stream:
                if isinstance(line, Mapping):
                    lines.append(dict(line))
                if len(lines) >= LOG_LINES:
                    ended_by = "lines"
                    break
                if time.monotonic() - last_update > 0.5:
                    last_update = time.monotonic()
                    message.content = header + render.logs_block(lines)
                    await message.update()
            else:
                ended_by = "end"
    except TimeoutError:
        pass
    except Exception:
        log.exception("log stream failed")
        ended_by = "error"
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                log.debug("closing the log stream failed", exc_info=True)
    footer = {
        "lines": f"Showing the first {LOG_LINES} lines; ask “show logs” for more.",
        "time": f"Stopped following after {int(LOG_SECONDS)} s; ask “show logs” for more.",
        "end": "End of the log stream.",
        "error": "The log stream broke off; ask “show logs” to try again.",
    }[ended_by]
    message.content = header + render.logs_block(lines) + f"\n\n_{footer}_"
    await message.update()
