"""Test doubles for the agent tests: a scripted BaseLlm and small runner helpers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from google.adk.models import LlmCapabilities
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.genai import types

from agent.agent import build_agent


def call(name: str, **args: Any) -> LlmResponse:
    part = types.Part(function_call=types.FunctionCall(name=name, args=args))
    return LlmResponse(content=types.Content(role="model", parts=[part]))


def text(reply: str) -> LlmResponse:
    return LlmResponse(content=types.Content(role="model", parts=[types.Part(text=reply)]))


class ScriptedLlm(BaseLlm):
    """Returns a fixed list of responses in order (like adk-python's testing_utils.MockModel)."""

    model: str = "scripted"
    responses: list[LlmResponse] = []
    requests: list[LlmRequest] = []

    @property
    def capabilities(self) -> LlmCapabilities:
        return LlmCapabilities(output_schema_and_tools=False)

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.requests.append(llm_request)
        yield self.responses.pop(0) if self.responses else text("(script finished)")


async def new_session(backend: Any, *, model: BaseLlm | None = None, user_id: str = "u1"):
    runner = InMemoryRunner(agent=build_agent(backend, model=model), app_name="necto")
    session = await runner.session_service.create_session(app_name="necto", user_id=user_id)
    return runner, session.id
