"""Guardrails in code, in front of whatever model runs (security.md rules 1-3).

- ``ToolGuard.before_tool``: only Necto's own tools, and a bounded number of tool calls per invocation
  (a turn, including its resumption after a confirmation). A refused call gets an error result the model
  can read; the tool never runs.
- ``LlmCallBudget.before_model``: a bounded number of model calls per invocation.
- ``refusal_guard``: a message that asks to move funds, skip confirmation or reveal keys is answered by
  code, and no model (Gemini included) sees it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.genai import types

from agent.intent import refusal_for
from agent.planner import Reply, step_response

_REMEMBERED_INVOCATIONS = 1024


class _PerInvocationCounter:
    """Counts per invocation id; forgets the oldest invocations so memory stays bounded."""

    def __init__(self) -> None:
        self._counts: OrderedDict[str, int] = OrderedDict()

    def bump(self, invocation_id: str) -> int:
        count = self._counts.pop(invocation_id, 0) + 1
        self._counts[invocation_id] = count
        while len(self._counts) > _REMEMBERED_INVOCATIONS:
            self._counts.popitem(last=False)
        return count


class ToolGuard:
    def __init__(self, allowed: Iterable[str], *, max_calls_per_invocation: int) -> None:
        self.allowed = frozenset(allowed)
        self.max_calls = max_calls_per_invocation
        self._calls = _PerInvocationCounter()

    def before_tool(self, tool: Any, args: dict[str, Any], tool_context: Any) -> dict[str, Any] | None:
        name = getattr(tool, "name", None)
        if name not in self.allowed:
            return {
                "status": "error",
                "error": "PolicyDenied",
                "guard_refused": True,
                "message": f"There is no tool named {name!r}; nothing was run.",
                "hint": "Use one of: " + ", ".join(sorted(self.allowed)) + ".",
            }
        if getattr(tool_context, "tool_confirmation", None) is not None:
            # ADK runs this callback again when it resumes a confirmed call: the call was counted already.
            return None
        if self._calls.bump(str(getattr(tool_context, "invocation_id", ""))) > self.max_calls:
            return {
                "status": "error",
                "error": "BudgetExceeded",
                "guard_refused": True,
                "message": f"This turn reached its limit of {self.max_calls} tool calls; {name} was not run.",
                "hint": "Stop and summarize for the user what was done so far.",
            }
        return None


class LlmCallBudget:
    def __init__(self, max_calls_per_invocation: int) -> None:
        self.max_calls = max_calls_per_invocation
        self._calls = _PerInvocationCounter()

    def before_model(self, callback_context: Any, llm_request: LlmRequest) -> LlmResponse | None:
        if self._calls.bump(str(callback_context.invocation_id)) > self.max_calls:
            return step_response(
                Reply(
                    "Sorry, I stopped here: this turn reached its step limit. Nothing more was signed or spent."
                )
            )
        return None


def latest_user_text(contents: Iterable[types.Content]) -> str | None:
    text = None
    for content in contents:
        if content.role != "user" or not content.parts:
            continue
        if any(p.function_response for p in content.parts):
            continue
        texts = [p.text for p in content.parts if p.text and not p.thought]
        if texts:
            text = "\n".join(texts)
    return text


def refusal_guard(callback_context: Any, llm_request: LlmRequest) -> LlmResponse | None:
    text = latest_user_text(llm_request.contents)
    refusal = refusal_for(text) if text else None
    if refusal is None:
        return None
    return step_response(Reply(refusal, refused=True))
