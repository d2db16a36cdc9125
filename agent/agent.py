"""Necto's ADK agent: the tools, the instruction, the model and the guardrails.

``root_agent`` is what ``adk web`` / ``adk run`` load. Importing this module starts nothing: the service
is resolved by a lazy factory the first time a tool runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from google.adk.agents.llm_agent import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.tools.function_tool import FunctionTool

from agent.callbacks import LlmCallBudget, ToolGuard, refusal_guard
from agent.planner import OfflinePlanner
from tools.agent_tools import NectoToolBackend, build_agent_tools
from tools.settings import NectoSettings

AGENT_NAME = "necto"
MAX_TOOL_CALLS_PER_TURN = 8
# prompts/ sits next to the agent package in the project root (STYLE.md: prompts are data).
PROMPT_PATH = Path(__file__).resolve().parent.parent / "prompts" / "system.md"


@cache
def system_instruction() -> str:
    return PROMPT_PATH.read_text(encoding="utf-8")


def default_model(settings: NectoSettings) -> BaseLlm:
    """Gemini when a Google API key is configured, else the offline planner."""
    if settings.google_api_key is None:
        return OfflinePlanner()
    from google.adk.models.google_llm import Gemini

    # The key goes to the client from settings, so NECTO_GOOGLE_API_KEY works as well as GOOGLE_API_KEY.
    return Gemini(
        model=settings.gemini_model, client_kwargs={"api_key": settings.google_api_key.get_secret_value()}
    )


def build_agent(
    backend_or_factory: NectoToolBackend | Callable[[], NectoToolBackend],
    *,
    model: BaseLlm | str | None = None,
    settings: NectoSettings | None = None,
) -> LlmAgent:
    """The "necto" agent over ``backend_or_factory`` (a NectoToolBackend, or a zero-argument factory).

    Confirmation is requested inside ``deploy``, ``close_deployment`` and ``mint_act``, so no tool sets
    ``require_confirmation``.
    """
    settings = settings or NectoSettings()
    functions = build_agent_tools(backend_or_factory)
    tool_guard = ToolGuard(
        (fn.__name__ for fn in functions),
        max_calls_per_invocation=min(MAX_TOOL_CALLS_PER_TURN, settings.max_llm_calls_per_turn),
    )
    llm_budget = LlmCallBudget(settings.max_llm_calls_per_turn)
    return LlmAgent(
        name=AGENT_NAME,
        description="Compares compute offers and deploys to Akash after the user approves a confirmation card.",
        model=model if model is not None else default_model(settings),
        instruction=system_instruction(),
        tools=[FunctionTool(fn) for fn in functions],
        before_model_callback=[refusal_guard, llm_budget.before_model],
        before_tool_callback=tool_guard.before_tool,
        disallow_transfer_to_parent=True,
        disallow_transfer_to_peers=True,
    )


def _service() -> NectoToolBackend:
    from tools.service import get_service  # lazy: the service (devnet, DB) starts on first tool use

    return get_service()


root_agent = build_agent(_service)
