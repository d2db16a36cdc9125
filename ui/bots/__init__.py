"""Necto in Slack and Discord, through Chainlit's integrations: read-only (security.md rule 6).

Chainlit switches the bots on from its own variables (``SLACK_BOT_TOKEN`` + ``SLACK_SIGNING_SECRET``,
``DISCORD_BOT_TOKEN``) and runs ``ui/app.py``'s handlers for every message with ``client_type`` "slack" or
"discord". Those clients show no Steps and cannot ask (``AskActionMessage`` returns None), so the app hands
each bot message to :func:`ui.bots.reply.answer`: quotes, status, job lists and log summaries come back as
compact text; for anything that signs the bot sends a private hand-off link (``ui/handoff.py``) that opens
the plan in the web chat. Nothing signs from a bot.

- ``identity``: which Necto owner a Slack or Discord user is (``slack:T…:U…``, ``discord:<id>``).
- ``text``: tool results as text Slack (mrkdwn) and Discord (Markdown) both show well.
- ``reply``: one bot message through the agent, and the private delivery of hand-off links.
"""

from ui.bots.identity import BOT_CLIENTS, bot_owner, current_owner, is_bot_chat
from ui.bots.reply import answer, hand_off

__all__ = ["BOT_CLIENTS", "answer", "bot_owner", "current_owner", "hand_off", "is_bot_chat"]
