"""One Slack or Discord message through the agent, answered as bot text; hand-off links sent privately.

The agent is the same ADK runner the web chat uses (with no model key, the offline planner). The bot keeps
one ADK session per Slack thread or Discord channel-day (Chainlit's ``thread_id``), so "deploy it" after a
quote refers to that quote. A turn that pauses for approval is declined at once and answered with a
hand-off link instead (security.md rule 6): the plan stays stored, unsigned, for the web chat to show.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from agent.conversation import TurnResult, answer_confirmation, run_turn
from tools.errors import NectoError
from ui.bots import text as bot_text
from ui.bots.identity import current_owner

log = logging.getLogger("necto.bots")

APP_NAME = "necto"
AUTHOR = "Necto"
SIGNING_TOOLS = {"deploy", "close_deployment", "mint_act"}


def _dialect() -> bot_text.Dialect:
    import chainlit as cl

    return "slack" if str(cl.context.session.client_type) == "slack" else "discord"


async def _say(content: str) -> None:
    import chainlit as cl

    dialect = _dialect()
    await cl.Message(content=bot_text.fit(content, dialect), author=AUTHOR).send()


async def _session_id(runner: Any, owner: str) -> str:
    import chainlit as cl

    session_id = f"bot-{cl.context.session.thread_id}"
    service = runner.session_service
    if await service.get_session(app_name=APP_NAME, user_id=owner, session_id=session_id) is None:
        await service.create_session(app_name=APP_NAME, user_id=owner, session_id=session_id)
    return session_id


def render_turn(turn: TurnResult, dialect: bot_text.Dialect, *, log_lines: int) -> list[str]:
    """The bot messages for a turn, written by code from the tool results (the planner's words last)."""
    parts: list[str] = []
    signing = turn.confirmation is not None or any(c.name in SIGNING_TOOLS for c in turn.tool_calls)
    for call in turn.tool_calls:
        result = call.result or {}
        if not isinstance(result, Mapping):
            continue
        status = result.get("status")
        if status == "error":
            parts.append(bot_text.error_text(result, dialect))
        elif status in ("awaiting_confirmation", "rejected") or call.name in SIGNING_TOOLS:
            continue  # the hand-off message covers these
        elif call.name == "list_providers":
            parts.append(bot_text.quote_text(result, dialect, next_step=not signing))
        elif call.name == "list_jobs":
            parts.append(bot_text.jobs_text(result, dialect))
        elif call.name == "deployment_status":
            parts.append(bot_text.status_text(result, dialect))
        elif call.name == "tail_logs":
            parts.append(bot_text.logs_text(result, dialect, lines=log_lines))
    if turn.confirmation is None and turn.text and (not parts or not turn.tool_calls):
        parts.append(bot_text.plain_reply(turn.text, dialect))
    return [p for p in parts if p]


async def answer(service: Any, runner: Any, text: str) -> None:
    """Answer one bot message: read-only tools reply here; anything that signs gets a hand-off link."""
    owner = current_owner()
    dialect = _dialect()
    if owner is None:
        await _say("I only answer people, not workflows or other bots.")
        return
    try:
        session_id = await _session_id(runner, owner)
        turn = await run_turn(runner, user_id=owner, session_id=session_id, text=text)
        settings = getattr(service, "settings", None)
        for part in render_turn(turn, dialect, log_lines=int(getattr(settings, "bot_log_lines", 20))):
            await _say(part)
        if turn.confirmation is not None:
            pending = turn.confirmation
            payload = {"plan_id": str(pending.payload.get("plan_id", "")),
                       "plan_hash": str(pending.payload.get("plan_hash", ""))}
            # Decline in the agent (no approval can come from here), keep the stored plan for the web chat.
            await answer_confirmation(runner, user_id=owner, session_id=session_id,
                                      confirmation_call_id=pending.confirmation_call_id, approved=False,
                                      payload=payload)
            await hand_off(service, owner, payload["plan_id"])
        elif not turn.tool_calls and not turn.text:
            await _say("I can compare prices, list your jobs, show a job's status or its logs. "
                       "Deploying, closing and minting are approved in the web chat.")
    except Exception:
        log.exception("bot turn failed")
        await _say(bot_text.error_text({"message": "That request failed on Necto's side; nothing was signed.",
                                        "hint": "Try again, or rephrase it."}, dialect))


async def hand_off(service: Any, owner: str, plan_id: str) -> None:
    """Send ``owner`` a private link that opens the stored plan in the web chat; nothing is signed here."""
    from ui.handoff import handoffs_for, issue_link

    dialect = _dialect()
    try:
        url, card = issue_link(service, plan_id=plan_id, owner=owner)
    except NectoError as exc:
        await _say(bot_text.error_text({"message": exc.message, "hint": exc.hint}, dialect))
        return
    message = bot_text.handoff_text(card, url, dialect, handoffs_for(service.settings).ttl_s)
    try:
        sent_privately = await _send_privately(bot_text.fit(message, dialect))
    except Exception:  # DMs closed, missing scope ...: never fall back to posting the link in the channel
        log.warning("could not deliver a hand-off link privately", exc_info=True)
        await _say("I could not send you a private link. Message me directly and ask again; nothing was signed.")
        return
    if sent_privately:
        await _say("Approval happens in the web chat: I sent you a private link. Nothing was signed here.")
    else:
        await _say(message)


async def _send_privately(message: str) -> bool:
    """Deliver ``message`` to the requesting user alone when the request came from a shared channel.

    Returns False in a direct message (the reply itself is private); True once sent privately. Slack: an
    ephemeral message in the channel (only that user sees it). Discord: a direct message to the author.
    """
    import chainlit as cl

    client_type = str(cl.context.session.client_type)
    if client_type == "slack":
        event = cl.user_session.get("slack_event") or {}
        if event.get("channel_type") == "im":
            return False
        from chainlit.slack.app import slack_app

        await slack_app.client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], text=message,
            **({"thread_ts": event.get("thread_ts") or event["ts"]} if event.get("ts") else {}),
        )
        return True
    import discord

    discord_message = cl.user_session.get("discord_message")
    if isinstance(getattr(discord_message, "channel", None), discord.DMChannel):
        return False
    await discord_message.author.send(message)
    return True
