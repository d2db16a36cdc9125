"""Discord at the handler level: discord.py Message objects into Chainlit's Discord ``on_message``, through
ui/app.py's handlers, the agent (offline planner, no model) and the devnet. discord.py's HTTP layer is
replaced by a recorder of the REST calls it would make (send message, typing, open a DM).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord
import pytest
from bot_helpers import PUBLIC_URL, deploy_for, load_chainlit_app

from ui.bots import text as bot_text
from ui.handoff import handoffs_for

pytestmark = pytest.mark.slow  # a devnet and the agent (asyncio_mode = "auto" runs the async tests)

BOT_ID, ALICE_ID, MALLORY_ID = 1000, 4242, 6666
DM_ID, GROUP_ID, NEW_DM_ID = 5000, 5100, 5200


def _user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "avatar": None, "global_name": name,
            "bot": bot}


class RecordingHttp:
    """The discord.py HTTPClient methods the Discord path calls, recording what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self._next_id = 9000

    async def send_message(self, channel_id: int, *, params: Any) -> dict[str, Any]:
        content = str(params.payload.get("content") or "")
        self.sent.append((int(channel_id), content))
        self._next_id += 1
        return {"id": str(self._next_id), "channel_id": str(channel_id), "author": _user(BOT_ID, "necto", bot=True),
                "content": content, "timestamp": "2026-11-24T00:00:00+00:00", "edited_timestamp": None,
                "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
                "embeds": [], "pinned": False, "type": 0}

    async def send_typing(self, channel_id: int) -> None:
        return None

    async def start_private_message(self, user_id: int) -> dict[str, Any]:
        return {"id": str(NEW_DM_ID), "type": 1, "recipients": [_user(int(user_id), "alice")]}

    def to(self, channel_id: int) -> list[str]:
        return [content for cid, content in self.sent if cid == channel_id]


@pytest.fixture
async def discord_bot(service):
    load_chainlit_app()
    import chainlit.discord.app as chainlit_discord

    state = chainlit_discord.client._connection
    saved_http, saved_user, saved_loop = state.http, state.user, state.loop
    http = RecordingHttp()
    state.http = http
    state.loop = asyncio.get_running_loop()  # set by login on a real client
    state.user = discord.ClientUser(state=state, data=_user(BOT_ID, "necto", bot=True))
    yield chainlit_discord, http
    state.http, state.user, state.loop = saved_http, saved_user, saved_loop


def _message(module, text: str, *, author: dict[str, Any], channel: str = "dm") -> discord.Message:
    state = module.client._connection
    if channel == "dm":
        where = discord.DMChannel(me=state.user, state=state, data={"id": str(DM_ID), "type": 1, "recipients": [author]})
    else:
        where = discord.GroupChannel(me=state.user, state=state, data={
            "id": str(GROUP_ID), "type": 3, "name": "team", "owner_id": author["id"], "recipients": [author]})
    mentions = [_user(BOT_ID, "necto", bot=True)] if channel != "dm" else []
    return discord.Message(state=state, channel=where, data={
        "id": "7001", "channel_id": str(where.id), "author": author, "content": text,
        "timestamp": "2026-11-24T00:00:00+00:00", "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": mentions, "mention_roles": [], "attachments": [], "embeds": [],
        "pinned": False, "type": 0})


async def _ask(module, http: RecordingHttp, text: str, *, author=None, channel: str = "dm") -> str:
    where = DM_ID if channel == "dm" else GROUP_ID
    before = len(http.to(where))
    await module.on_message(_message(module, text, author=author or _user(ALICE_ID, "alice"), channel=channel))
    return "\n".join(http.to(where)[before:])


async def test_discord_answers_jobs_status_logs_and_quotes_for_its_own_user(discord_bot, service):
    module, http = discord_bot
    job = await deploy_for(service, f"discord:{ALICE_ID}")

    jobs = await _ask(module, http, "list my jobs")
    assert job["job_id"] in jobs and "**running**" in jobs
    status = await _ask(module, http, f"status of {job['job_id']}")
    assert "**Job**" in status and "running" in status
    logs = await _ask(module, http, f"show the logs of {job['job_id']}")
    if "unavailable right now" in logs:
        # The devnet has providers that go offline for a few blocks (they answer 503): the bot must say so
        # as a sentence, never a traceback. Any other refusal fails the test.
        assert logs.startswith("**Sorry.**") and "Traceback" not in logs
    else:
        assert "```" in logs and "[web]" in logs and len(logs) <= 2000
    quote = await _ask(module, http, "compare prices for one H100 for 10 hours")
    assert "```" in quote and "**Recommended:**" in quote and all(len(m) <= 2000 for m in http.sent)

    theirs = await _ask(module, http, "list my jobs", author=_user(MALLORY_ID, "mallory"))
    assert job["job_id"] not in theirs and "no jobs" in theirs


async def test_discord_deploy_gets_a_hand_off_link_by_dm_and_signs_nothing(discord_bot, service, devnet):
    module, http = discord_bot
    txs = len(devnet.chain.txs)

    reply = await _ask(module, http, "deploy my Next.js app cheaply")
    tokens = re.findall(r"\(<" + re.escape(PUBLIC_URL) + r"/handoff/([A-Za-z0-9_.-]+)>\)", reply)
    assert len(tokens) == 1, reply
    grant = handoffs_for(service.settings).verify(tokens[0])
    assert grant.owner == f"discord:{ALICE_ID}"
    assert service.ledger.get_plan(grant.plan_id, owner=grant.owner).status == "proposed"

    # From a shared channel the link goes to the author's DMs, and the channel hears only that it was sent.
    shared = await _ask(module, http, f"<@{BOT_ID}> deploy my Next.js app cheaply", channel="group")
    assert "/handoff/" not in shared and "private link" in shared
    assert any(f"{PUBLIC_URL}/handoff/" in m for m in http.to(NEW_DM_ID))
    assert len(devnet.chain.txs) == txs and service.ledger.list_jobs(owner=grant.owner) == []


async def test_other_bots_get_no_answer_from_the_agent(discord_bot, service):
    module, http = discord_bot
    reply = await _ask(module, http, "list my jobs", author=_user(7777, "otherbot", bot=True))
    assert "only answer people" in reply


def test_untrusted_text_cannot_ping_or_forge_links():
    offer = {"provider": "@everyone <!channel> [x](http://evil)", "source": "akash", "region": "us`", "usd_per_hour": 1}
    result = {"offers": [offer], "recommendation": offer}
    discord_text = bot_text.quote_text(result, "discord")
    assert "@everyone" not in discord_text and "](http" not in discord_text
    slack_text = bot_text.quote_text(result, "slack")
    assert "<!channel>" not in slack_text and "!channel" in slack_text  # Slack mentions need the brackets
    line = {"service": "web", "message": "```\x1b[31m@here <!here> <https://evil|click>"}
    logs = bot_text.logs_text({"job_id": "job_1", "lines": [line]}, "discord")
    assert logs.count("```") == 2 and "\x1b" not in logs and "@here" not in logs
    slack_logs = bot_text.logs_text({"job_id": "job_1", "lines": [line]}, "slack")
    assert "<!here>" not in slack_logs and "&lt;!here&gt;" in slack_logs and "<https" not in slack_logs
    long = bot_text.fit("x" * 5000, "discord")
    assert len(long) <= 2000


def test_log_summaries_keep_the_last_lines():
    lines = [{"service": "web", "message": f"line {i}"} for i in range(50)]
    text = bot_text.logs_text({"job_id": "job_1", "lines": lines}, "slack", lines=20)
    assert "last 20 of 50 lines" in text and "line 49" in text and "line 29" not in text
    huge = [{"service": "web", "message": "y" * 400} for _ in range(40)]
    assert len(bot_text.logs_text({"job_id": "job_1", "lines": huge}, "discord", lines=40)) <= 1900
