"""Necto's ADK agent package (`adk web` loads `agent.agent.root_agent`)."""

from . import agent

__all__ = ["agent"]
