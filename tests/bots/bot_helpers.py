"""Helpers for the bot tests: Chainlit's server app with ui/app.py's handlers loaded, a recording Chainlit
emitter for driving handlers the way Chainlit's integrations do, and a job made the way the web chat makes it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SLACK_TOKEN = "xoxb-necto-test"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
PUBLIC_URL = "https://necto.example.test"


def load_chainlit_app() -> Any:
    """Chainlit's server app with /slack/events and ui/app.py's handlers, as ``chainlit run`` sets them up.

    Chainlit reads the Slack variables when its modules are imported, so they are set for the import only.
    """
    saved = {k: os.environ.get(k) for k in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "CHAINLIT_APP_ROOT")}
    os.environ.update(SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET, CHAINLIT_APP_ROOT=str(REPO))
    try:
        import chainlit.slack.app as slack_module
        from chainlit.config import load_module
        from chainlit.server import app

        if not any(getattr(r, "path", None) == "/slack/events" for r in app.router.routes):
            # chainlit.server was imported earlier in this process without the variables: mount it the same way.
            async def slack_endpoint(req):
                return await slack_module.slack_app_handler.handle(req)

            app.add_api_route("/slack/events", slack_endpoint, methods=["POST"])
        load_module(str(REPO / "ui" / "app.py"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return app


class RecordingEmitter:
    """Factory for a Chainlit emitter that records what a handler sends and answers asks as told."""

    @staticmethod
    def context(client_type: str, *, environ: dict | None = None, user: Any = None, ask_answer: Any = None):
        from chainlit.context import ChainlitContext, context_var
        from chainlit.emitter import BaseChainlitEmitter
        from chainlit.session import HTTPSession

        class Emitter(BaseChainlitEmitter):
            def __init__(self, session):
                super().__init__(session)
                self.sent: list[str] = []
                self.asked: list[dict] = []

            async def send_step(self, step_dict):
                if step_dict.get("type") == "assistant_message" and step_dict.get("output"):
                    self.sent.append(step_dict["output"])

            async def update_step(self, step_dict):
                if step_dict.get("type") == "assistant_message" and step_dict.get("output"):
                    self.sent.append(step_dict["output"])

            async def send_ask_user(self, step_dict, spec, raise_on_timeout=False):
                self.asked.append(dict(step_dict))
                return ask_answer

        session = HTTPSession(id=str(uuid.uuid4()), client_type=client_type, thread_id=str(uuid.uuid4()),
                              user=user, environ=environ or {})
        emitter = Emitter(session)
        ctx = ChainlitContext(session=session, emitter=emitter)
        context_var.set(ctx)
        return emitter


async def deploy_for(service: Any, owner: str) -> dict[str, Any]:
    """A running job for ``owner``, approved the way the web chat approves (the plan's own hash)."""
    plan = await service.create_deploy_plan({"workload": "static", "hours": 2}, port=None, offer_id=None, owner=owner)
    return await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)
