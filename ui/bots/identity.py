"""Which Necto owner a bot user is: ``slack:<team>:<user>`` or ``discord:<user id>``.

Chainlit names bot users ``slack_<email or id>`` and ``discord_<user name>``; a Discord name can change
hands and an e-mail is optional, so Necto keys a bot user's jobs and plans by the platform's stable ids,
taken from the event Chainlit keeps in the user session (``slack_event``, ``discord_message``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

BOT_CLIENTS = frozenset({"slack", "discord"})
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")


def bot_owner(client_type: str, session_values: Mapping[str, Any]) -> str | None:
    """The owner id for a bot chat, from the values Chainlit's integration put in the user session.

    None when the message has no person behind it (a Slack workflow or another bot): bots only answer people.
    """
    if client_type == "slack":
        event = session_values.get("slack_event")
        if not isinstance(event, Mapping):
            return None
        user = str(event.get("user") or "")
        team = str(event.get("team") or event.get("user_team") or "")
        if not _SLACK_ID.match(user) or event.get("bot_id"):
            return None
        return f"slack:{team if _SLACK_ID.match(team) else '-'}:{user}"
    if client_type == "discord":
        message = session_values.get("discord_message")
        author = getattr(message, "author", None)
        if author is None or getattr(author, "bot", False):
            return None
        author_id = getattr(author, "id", None)
        return f"discord:{int(author_id)}" if isinstance(author_id, int) else None
    return None


def _client_type() -> str:
    import chainlit as cl

    try:
        return str(cl.context.session.client_type)
    except Exception:  # no Chainlit context: not a bot chat
        return "webapp"


def is_bot_chat() -> bool:
    """This Chainlit session came from Slack or Discord."""
    return _client_type() in BOT_CLIENTS


def current_owner() -> str | None:
    """The owner of this bot chat (None outside bot chats, or when no person sent the message)."""
    import chainlit as cl

    client_type = _client_type()
    if client_type not in BOT_CLIENTS:
        return None
    values = {key: cl.user_session.get(key) for key in ("slack_event", "discord_message")}
    return bot_owner(client_type, values)
