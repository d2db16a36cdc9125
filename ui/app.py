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
import re
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

import ui.accounts  # noqa: E402,F401 - sign-in and chat history, as settings say (NECTO_AUTH)
from agent.conversation import PendingConfirmation, ToolCall, TurnResult, answer_confirmation, run_turn  # noqa: E402
from tools.errors import NectoError  # noqa: E402
from ui import bots, elements, handoff, live, render  # noqa: E402  (bots, handoff: README "Slack and Discord")
from ui import wallet as wallet_ui  # noqa: E402  (registers the wallet's action callback)
from ui.chart import price_performance_svg  # noqa: E402

log = logging.getLogger("necto.ui")
handoff.install_route()  # GET /handoff/{token}: a bot's approval link opens the plan here

APP_NAME = "necto"
CONFIRM_TIMEOUT_S = 600  # an unanswered card expires; the plan is then declined, nothing is signed
RUNNING_WAIT_S = 180.0  # after the deploy tool returns, how long the chat follows the job to "running"
LOG_LINES = 30  # the chat shows the first lines, then stops so the turn ends
LOG_SECONDS = 20.0
LOG_TAIL = 50
MAX_LIVE_STREAMS = 3  # log streams a chat keeps running; opening another stops the oldest
MAX_LIVE_CARDS = 3  # deployment cards a chat keeps refreshing
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
    if not _JOB_ID.match(job_id):
        return
    await _close_flow(job_id)


async def _watch_findings(service: Any, owner: str) -> None:
    queue = service.events.subscribe(owner)
    try:
        while True:
            event = await queue.get()
            if isinstance(event, Mapping) and event.get("kind") == "reconcile":
                try:
                    await show_finding(event.get("finding") or {})
                except Exception:  # one unreadable finding must not end the watch
                    log.exception("showing a reconcile finding failed")
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
    if owner := bots.current_owner():  # a Slack/Discord user: slack:T…:U… / discord:<id>
        return owner
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


def _web() -> bool:
    """The web chat renders custom elements; Slack, Discord and Teams get the Markdown text only."""
    return _client_type() in ASKING_CLIENTS


def _live_views() -> dict[str, Any]:
    """This chat's live elements (log streams by id, deployment cards): stopped when the chat ends."""
    views = cl.user_session.get("necto_live")
    if views is None:
        views = {"logs": {}, "cards": []}
        cl.user_session.set("necto_live", views)
    return views


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
        cl.Starter(label="Sign with my Keplr wallet", message="connect my wallet"),
    ]


@cl.on_chat_start
async def on_chat_start() -> None:
    if bots.is_bot_chat():  # Chainlit starts a chat for every bot message: nothing to show there
        return
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
        return
    try:
        await wallet_ui.on_chat_start(service, state.user_id)  # the optional Keplr/Leap card
    except Exception:
        log.exception("wallet card failed")
    try:
        await handoff.open_from_link(service, confirm_timeout_s=CONFIRM_TIMEOUT_S)  # opened from a bot's link
    except Exception:
        log.exception("hand-off link failed")
        await _say(render.error_text("The approval link could not be opened.", "Ask the bot for a fresh link."))


@cl.on_chat_end
async def on_chat_end() -> None:
    if _backend.get("service") is not None:
        wallet_ui.on_chat_end(_backend["service"], _user_id())  # this page no longer signs
    watcher = cl.user_session.get("necto_findings")
    if watcher is not None:
        watcher.cancel()
    views = cl.user_session.get("necto_live") or {}
    for stream in list((views.get("logs") or {}).values()):
        await stream.stop()
    for card in views.get("cards") or []:
        card.cancel()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    try:
        if bots.is_bot_chat():  # read-only replies; a hand-off link for anything that signs
            await bots.answer(*await backend(), message.content)
            return
        state = await _chat_state()
        service, runner = await backend()
        if await wallet_ui.handle_message(service, state.user_id, message.content):
            return  # "resume": a job that waited for the wallet continues
        turn = await run_turn(
            runner, user_id=state.user_id, session_id=state.session_id, text=message.content
        )
        await show_turn(state, turn)
    except Exception as exc:
        log.exception("turn failed")
        await _say(failure_text(exc))


def failure_text(exc: BaseException, next_step: str = "Try again, or rephrase it.") -> str:
    """What the chat says when a turn raised: a sentence with a next step, never the exception's text."""
    if isinstance(exc, ApprovedActionFailed):
        return render.error_text(
            "The approved action did not finish cleanly.",
            "Ask “status” to see where the deployment stands; anything left open can be closed from there.",
            nothing_spent=False,
        )
    if isinstance(exc, NectoError):  # its message and hint are written for users (tools/errors.py)
        return render.error_text(
            render.safe_text(exc.message, 200), render.safe_text(exc.hint, 200) or next_step
        )
    return render.error_text("That request failed on Necto's side.", next_step)


# ------------------------------------------------------------------------------- rendering a turn
async def show_turn(state: ChatState, turn: TurnResult, depth: int = 0) -> None:
    for call in turn.tool_calls:
        await _tool_step(call)
        ok = (call.result or {}).get("status") == "ok"
        if call.name == "list_providers" and ok:
            await _show_comparison(state, call.result or {})
    if turn.text:
        await cl.Message(content=turn.text, author="Necto").send()
    # After the model's words: the views code builds from the service (the model cannot change them).
    for call in turn.tool_calls:
        result = call.result or {}
        if result.get("status") != "ok":
            continue
        if call.name == "deployment_status":
            job = result.get("job") if isinstance(result.get("job"), Mapping) else {}
            await show_deployment_card(state, str(job.get("job_id") or ""))
        elif call.name == "tail_logs" and _web():
            await show_log_lines(state, result)
    if turn.confirmation is not None and depth < 3:
        await confirm(state, turn, depth)


async def _show_comparison(state: ChatState, result: dict[str, Any]) -> None:
    """The comparison table, and under it the price-versus-performance chart of every ranked offer."""
    attached: list[Any] = []
    try:
        service, _ = await backend()
        offers = service.last_quote_offers(state.user_id) or list(result.get("offers") or [])
        recommended = (result.get("recommendation") or {}).get("offer_id")
        svg = price_performance_svg(offers, recommended=recommended)
        if svg is not None:
            attached.append(
                cl.Image(
                    name="price-vs-performance.svg", content=svg.encode(), mime="image/svg+xml", display="inline",
                    size="large",
                )
            )
    except Exception:  # the chart is a bonus; the table must still show
        log.exception("price/performance chart failed")
    if _web() and result.get("offers"):
        try:
            # The sortable table; the Markdown table stays as the message text (Slack, Discord, fallback).
            attached.insert(0, cl.CustomElement(
                name=elements.OFFER_TABLE, props=elements.offer_table_props(result), display="inline"
            ))
        except Exception:
            log.exception("offer table element failed")
    await live.send_message(cl.Message(content=render.offers_table(result), author="Necto", elements=attached))


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

    if _client_type() not in ASKING_CLIENTS:
        # Slack, Discord and Teams cannot show a trustworthy card or ask (security.md rule 6): a hand-off link.
        await _answer(state, pending, approved=False, payload=payload, depth=depth)
        if bots.is_bot_chat():
            await bots.hand_off((await backend())[0], state.user_id, payload["plan_id"])
        else:
            await _say("Approving needs the web chat (`necto serve`); nothing was signed here.")
        return
    await cl.Message(content=render.confirmation_card(card), author="Necto").send()
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
        try:
            turn = await tracker.follow(call)
        except Exception as exc:
            # Past Approve a transaction may have gone out: the chat must not say "nothing was signed".
            raise ApprovedActionFailed() from exc
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
        if _web():
            await show_deployment_card(state, str(job_id))
            await start_log_stream(state, str(job_id))
        else:
            await stream_logs(state, str(job_id))
    elif final_state == "failed":
        await _say(
            render.error_text("The deployment did not start.", "Ask Necto for its status or to close it.")
        )
    elif final_state and final_state not in TERMINAL_STATES:
        await _say(f"Still {render.safe_text(final_state, 20)}; ask “status” in a minute to check on it.")


def _executed_result(turn: TurnResult, tool_name: str | None) -> dict[str, Any] | None:
    names = {tool_name} if tool_name else {"deploy", "close_deployment", "mint_act"}
    for call in reversed(turn.tool_calls):
        if call.name in names and call.result is not None:
            return call.result
    return None


class ApprovedActionFailed(Exception):
    """The approved tool call raised (not a tool error result): the chat says so without promising a refund."""


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
        # The web chat also gets the bid window as a live countdown (the text lines stay, for every client).
        self._bids = live.BidCountdownView(service, owner) if _web() else None

    async def start(self) -> None:
        events = getattr(self._service, "events", None)
        if events is not None:
            self._queue = events.subscribe(self._owner)
        self._message = cl.Message(content=f"**Deploy progress**\n\n- {APPROVED_LINE}", author="Necto")
        await self._message.send()
        if self._bids is not None:
            await self._bids.start(self._message.id)

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
                if self._bids is not None:
                    await self._bids.take(event)
                event = self._queue.get_nowait()
        except (TimeoutError, asyncio.QueueEmpty):
            pass
        if self._bids is not None:
            await self._bids.flush()
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


# ------------------------------------------------------------------------------- live elements
_JOB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


async def show_deployment_card(state: ChatState, job_id: str) -> None:
    """The deployment card (web: the live element; other clients: its Markdown), refreshed while open."""
    if not job_id:
        return
    try:
        service, _ = await backend()
        card = live.DeploymentCardView(service, state.user_id, job_id)
        if not await card.show(web=_web()):
            await _say(render.error_text("Necto could not read that deployment's status.",
                                         "Ask “status” again in a moment."))
            return
        if card.watch() is not None:
            cards = _live_views()["cards"]
            cards.append(card)
            for old in cards[:-MAX_LIVE_CARDS]:  # bounded: the oldest cards stop refreshing
                old.cancel()
            del cards[:-MAX_LIVE_CARDS]
    except NectoError as exc:
        await _say(failure_text(exc, "Ask “list my jobs” to see what Necto knows."))
    except Exception:
        log.exception("deployment card failed")
        await _say(render.error_text("The deployment card could not be loaded.", "Ask “status” again in a moment."))


async def start_log_stream(state: ChatState, job_id: str) -> None:
    """A following log stream element (web chat); Stop, Follow and the service filter come back as actions."""
    try:
        service, _ = await backend()
        stream = live.LogStreamView(service, state.user_id, job_id)
        streams = _live_views()["logs"]
        for old_id in list(streams)[: max(0, len(streams) - MAX_LIVE_STREAMS + 1)]:
            await streams.pop(old_id).stop("Stopped: a newer log view is open below.")
        streams[stream.id] = stream
        await stream.show()
        await stream.follow(tail=LOG_TAIL)
    except Exception:
        log.exception("log stream failed to start")
        await _say(render.error_text("The logs could not be streamed.", "Ask “show logs” to try again."))


async def show_log_lines(state: ChatState, result: Mapping[str, Any]) -> None:
    """A ``tail_logs`` answer as a (stopped) log stream element: Follow continues from there."""
    job_id = str(result.get("job_id") or "")
    if not job_id:
        return
    try:
        service, _ = await backend()
        stream = live.LogStreamView(service, state.user_id, job_id)
        _live_views()["logs"][stream.id] = stream
        lines = [line for line in result.get("lines") or [] if isinstance(line, Mapping)]
        await stream.show(lines=lines, note=f"Last {len(lines)} lines. Press Follow for new ones.")
    except Exception:
        log.exception("log view failed")


@cl.action_callback(elements.LOG_ACTION)
async def log_stream_action(action: cl.Action) -> None:
    """Follow, Stop or a service filter from a log stream element: controls the stream task, nothing else."""
    payload = action.payload or {}
    stream = (_live_views()["logs"]).get(str(payload.get("stream_id") or ""))
    if stream is None:
        await _say("That log view has ended; ask “show logs” for a new one.")
        return
    op = str(payload.get("op") or "")
    try:
        if op == "stop":
            await stream.stop()
        elif op == "follow":
            await stream.follow(tail=0)
        elif op == "filter":
            await stream.set_filter(str(payload.get("service") or "") or None)
    except Exception:
        log.exception("log stream action %s failed", op)
        await _say(render.error_text("The log view could not do that.", "Ask “show logs” for a new one."))


@cl.action_callback(elements.CLOSE_JOB_ACTION)
async def close_job_action(action: cl.Action) -> None:
    """Close from a deployment card: the normal close flow, run after the click returns (it waits for Approve)."""
    job_id = str((action.payload or {}).get("job_id") or "")
    if not _JOB_ID.match(job_id):
        await _say(render.error_text("That close request did not name a deployment.", "Ask “close job <id>”."))
        return
    _background.append(asyncio.ensure_future(_close_flow(job_id, as_task=True)))


async def _close_flow(job_id: str, *, as_task: bool = False) -> None:
    """``close job <id>`` as a user turn: the agent proposes, code builds the card, only Approve signs.

    ``as_task``: run outside a Chainlit handler (after the card's click returned), so this flow marks the
    chat busy itself; Chainlit's ask re-marks it busy after the answer, and only an explicit end clears it.
    """
    if as_task:
        await cl.context.emitter.task_start()
    try:
        state = await _chat_state()
        _, runner = await backend()
        turn = await run_turn(runner, user_id=state.user_id, session_id=state.session_id, text=f"close job {job_id}")
        await show_turn(state, turn)
    except Exception as exc:
        log.exception("close flow failed")
        await _say(failure_text(exc, "Ask “close job” in the chat to try again."))
    finally:
        if as_task:
            await cl.context.emitter.task_end()


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
