"""Running chat turns through an ADK Runner: what the CLI and the chat UI share.

``run_turn`` sends one user message and collects the turn's events into a :class:`TurnResult`;
``answer_confirmation`` sends the user's answer to a confirmation card (the only way anything that signs
gets approved); ``ask_json`` is the CLI's one-shot contract object.

The confirmation answer ADK expects (flows/llm_flows/tools/_confirmation.py) is a user message with one
FunctionResponse: ``name="adk_request_confirmation"``, ``id`` = the id of the ``adk_request_confirmation``
function call ADK emitted, ``response`` = a ToolConfirmation dict ``{"confirmed": bool, "payload": ...}``.
The runner matches the id to the paused invocation and re-runs the original tool call with
``tool_context.tool_confirmation`` set.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from google.adk.agents.base_agent import BaseAgent
from google.adk.events.event import Event
from google.adk.runners import InMemoryRunner, Runner
from google.genai import types

from agent.planner import AWAITING_TEXT, REFUSED_KEY
from tools.agent_tools import STATE_CHANGING_TOOLS

CONFIRMATION_CALL = "adk_request_confirmation"  # google.adk.utils._function_call_names
REQUEST_FIELDS_TOOLS = ("list_providers", "build_sdl")


@dataclass
class ToolCall:
    name: str
    args: dict[str, Any]
    call_id: str | None
    # The tool ran (not paused for confirmation, not refused by a guard); for deploy and close_deployment,
    # the action itself was carried out.
    executed: bool = False
    result: dict[str, Any] | None = None

    def as_contract(self) -> dict[str, Any]:
        return {"name": self.name, "args": self.args, "executed": self.executed}


@dataclass
class PendingConfirmation:
    confirmation_call_id: str  # the id to answer with answer_confirmation
    original_call: dict[str, Any]  # {"name", "args", "id"} of the paused tool call
    hint: str
    payload: dict[str, Any]
    summary: Any = None  # the card from the tool's awaiting_confirmation result

    @property
    def plan_id(self) -> str | None:
        return self.payload.get("plan_id")


@dataclass
class TurnResult:
    tool_calls: list[ToolCall] = field(default_factory=list)
    confirmation: PendingConfirmation | None = None
    text: str = ""
    refused: bool = False
    events: list[Event] = field(default_factory=list)

    @property
    def request(self) -> dict[str, Any] | None:
        """The full ComputeRequest the service understood in this turn, if a tool reported one."""
        for call in reversed(self.tool_calls):
            if call.name in REQUEST_FIELDS_TOOLS and isinstance(call.result, dict):
                request = call.result.get("request")
                if isinstance(request, dict):
                    return request
        return None


def _collect(events: list[Event], prior: list[ToolCall] | None = None) -> TurnResult:
    turn = TurnResult(events=events)
    by_id: dict[str, ToolCall] = {c.call_id: c for c in prior or [] if c.call_id}
    texts: list[str] = []
    for event in events:
        if event.partial:
            continue
        if event.custom_metadata and event.custom_metadata.get(REFUSED_KEY):
            turn.refused = True
        for call in event.get_function_calls():
            if call.name == CONFIRMATION_CALL:
                args = call.args or {}
                original = args.get("originalFunctionCall") or {}
                confirmation = args.get("toolConfirmation") or {}
                turn.confirmation = PendingConfirmation(
                    confirmation_call_id=call.id or "",
                    original_call=original,
                    hint=str(confirmation.get("hint", "")),
                    payload=dict(confirmation.get("payload") or {}),
                )
                continue
            record = ToolCall(call.name or "", dict(call.args or {}), call.id)
            turn.tool_calls.append(record)
            if call.id:
                by_id[call.id] = record
        for response in event.get_function_responses():
            result = (
                response.response if isinstance(response.response, dict) else {"result": response.response}
            )
            record = by_id.get(response.id or "")
            if record is None:  # a resumed call from an earlier run_async
                record = ToolCall(response.name or "", {}, response.id)
                by_id[response.id or ""] = record
                turn.tool_calls.append(record)
            elif record not in turn.tool_calls:
                turn.tool_calls.append(record)
            record.result = result
            paused = response.id in (event.actions.requested_tool_confirmations or {})
            record.executed = not paused and not result.get("guard_refused", False)
            if record.name in STATE_CHANGING_TOOLS:
                record.executed = record.executed and result.get("status") == "ok"
            if paused and turn.confirmation is not None:
                turn.confirmation.summary = result.get("summary")
        if event.content and event.content.parts and not event.get_function_calls():
            text = "".join(p.text for p in event.content.parts if p.text and not p.thought)
            if text and event.author != "user":
                texts.append(text)
    turn.text = texts[-1] if texts else (AWAITING_TEXT if turn.confirmation else "")
    return turn


async def _run(runner: Runner, *, user_id: str, session_id: str, message: types.Content) -> list[Event]:
    events: list[Event] = []
    async for event in runner.run_async(user_id=user_id, session_id=session_id, new_message=message):
        events.append(event)
    return events


async def run_turn(runner: Runner, *, user_id: str, session_id: str, text: str) -> TurnResult:
    """Send one user message and collect the turn: tool calls, a pending confirmation, the final text."""
    message = types.Content(role="user", parts=[types.Part(text=text)])
    return _collect(await _run(runner, user_id=user_id, session_id=session_id, message=message))


async def answer_confirmation(
    runner: Runner,
    *,
    user_id: str,
    session_id: str,
    confirmation_call_id: str,
    approved: bool,
    payload: dict[str, Any] | None,
) -> TurnResult:
    """Send the user's answer to a confirmation card; on approval ADK re-runs the paused tool call.

    ``payload`` must be the card's payload ({"plan_id", "plan_hash"}) as shown to the user: the tool
    re-checks that the plan hash is still the stored one before it signs anything.
    """
    response = types.FunctionResponse(
        id=confirmation_call_id,
        name=CONFIRMATION_CALL,
        response={"confirmed": bool(approved), "payload": payload},
    )
    message = types.Content(role="user", parts=[types.Part(function_response=response)])
    session = await runner.session_service.get_session(
        app_name=runner.app_name, user_id=user_id, session_id=session_id
    )
    earlier = [
        ToolCall(call.name or "", dict(call.args or {}), call.id)
        for event in (session.events if session else [])
        for call in event.get_function_calls()
        if call.id and call.name != CONFIRMATION_CALL
    ]
    events = await _run(runner, user_id=user_id, session_id=session_id, message=message)
    return _collect(events, prior=earlier)


async def ask_json(
    message: str, *, agent: BaseAgent, user_id: str = "local", app_name: str = "necto"
) -> dict[str, Any]:
    """One message in a fresh conversation, as the CLI's JSON contract. Never approves anything.

    Returns:
      {"request": {all ComputeRequest fields} | None, "tool_calls": [{"name", "args", "executed"}],
       "confirmation": {"plan_id", "summary"} | None, "refused": bool, "reply": str}
    """
    runner = InMemoryRunner(agent=agent, app_name=app_name)
    try:
        session = await runner.session_service.create_session(
            app_name=app_name, user_id=user_id, session_id=f"ask-{uuid.uuid4().hex}"
        )
        turn = await run_turn(runner, user_id=user_id, session_id=session.id, text=message)
    finally:
        await runner.close()
    confirmation = None
    if turn.confirmation is not None:
        confirmation = {
            "plan_id": turn.confirmation.plan_id,
            "summary": turn.confirmation.summary
            if turn.confirmation.summary is not None
            else turn.confirmation.hint,
        }
    return {
        "request": turn.request,
        "tool_calls": [call.as_contract() for call in turn.tool_calls],
        "confirmation": confirmation,
        "refused": turn.refused,
        "reply": turn.text,
    }
