"""Hand-off links (ui/handoff.py): who may open a bot's plan in the web chat, and what happens there.

The token rules run without a chain; the web side runs ui/handoff.py's chat flow in a Chainlit context (a
recording emitter stands in for the browser) against the devnet: Approve there is what signs.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from bot_helpers import RecordingEmitter
from pydantic import SecretStr

from tools.errors import PolicyDenied
from tools.settings import NectoSettings
from ui.handoff import (
    COOKIE,
    HandoffRefused,
    Handoffs,
    _b64,
    _unb64,
    handoffs_for,
    install_route,
    open_from_link,
)

OWNER = "slack:T0NECTO1:U0ALICE1"


@pytest.fixture
def handoffs(tmp_path) -> Handoffs:
    return Handoffs(secret=b"s" * 48, store=tmp_path / "handoff.db", ttl_s=600, public_url="https://necto.test/",
                    links={OWNER: "alice"})


def _token(h: Handoffs, now: float | None = None) -> str:
    return h.issue(plan_id="plan_abc", owner=OWNER, plan_hash="ab" * 32, now=now)


def test_a_link_names_its_plan_owner_and_card(handoffs):
    token = _token(handoffs)
    assert handoffs.url(token) == f"https://necto.test/handoff/{token}"
    grant = handoffs.verify(token)
    assert (grant.plan_id, grant.owner, grant.plan_hash) == ("plan_abc", OWNER, "ab" * 32)


def test_tampered_or_foreign_links_are_refused(handoffs, tmp_path):
    token = _token(handoffs)
    claims, mac = token.split(".")
    forged = json.loads(_unb64(claims)) | {"o": "slack:T0NECTO1:U0MALLORY"}  # someone else's plan, same MAC
    changed = [
        _b64(json.dumps(forged, separators=(",", ":"), sort_keys=True).encode()) + "." + mac,
        claims + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),
        token[:-5],
        claims,
        "",
        "x" * 5000,
    ]
    for bad in changed:
        with pytest.raises(HandoffRefused, match="not valid"):
            handoffs.verify(bad)
    other_server = Handoffs(secret=b"t" * 48, store=tmp_path / "other.db", ttl_s=600, public_url="https://x")
    with pytest.raises(HandoffRefused, match="not valid"):
        other_server.verify(token)


def test_expired_links_are_refused(handoffs):
    issued = time.time() - 601
    with pytest.raises(HandoffRefused, match="expired"):
        handoffs.verify(_token(handoffs, now=issued))
    assert handoffs.verify(_token(handoffs, now=time.time() - 590)).owner == OWNER


def test_a_link_opens_once_even_after_a_restart(handoffs, tmp_path):
    token = _token(handoffs)
    assert handoffs.redeem(token, web_user=None).plan_id == "plan_abc"
    with pytest.raises(HandoffRefused, match="already used"):
        handoffs.redeem(token, web_user=None)
    restarted = Handoffs(secret=b"s" * 48, store=tmp_path / "handoff.db", ttl_s=600, public_url="https://necto.test")
    with pytest.raises(HandoffRefused, match="already used"):
        restarted.verify(token)


def test_only_the_owner_or_its_linked_web_account_may_open_it(handoffs):
    token = _token(handoffs)
    with pytest.raises(HandoffRefused, match="another account"):
        handoffs.redeem(token, web_user="mallory")
    # A refused attempt does not use the link up: its owner can still open it.
    assert handoffs.redeem(token, web_user="alice").owner == OWNER
    assert handoffs.redeem(_token(handoffs), web_user=OWNER).owner == OWNER  # signed in as the bot identity
    assert handoffs.redeem(_token(handoffs), web_user=None).owner == OWNER  # no sign-in: the link is the proof


def test_the_secret_is_made_once_and_kept_private(tmp_path):
    settings = NectoSettings(data_dir=tmp_path)
    first = Handoffs.from_settings(settings)
    token = first.issue(plan_id="p", owner=OWNER, plan_hash="h")
    assert Handoffs.from_settings(settings).verify(token).plan_id == "p"
    assert (tmp_path / "handoff_secret").stat().st_mode & 0o077 == 0
    pinned = NectoSettings(data_dir=tmp_path, handoff_secret=SecretStr("z" * 40))
    with pytest.raises(HandoffRefused):
        Handoffs.from_settings(pinned).verify(token)


# ------------------------------------------------------------------------------- the route and the chat

async def _plan(service, owner: str = OWNER) -> dict:
    return await service.create_deploy_plan({"workload": "static", "hours": 2}, port=None, offer_id=None, owner=owner)


@pytest.mark.slow
async def test_the_route_checks_the_link_and_hands_it_to_the_chat_in_a_cookie(service):
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/{full_path:path}")
    async def page(full_path: str):  # Chainlit's catch-all page route
        return {"page": full_path}

    install_route(app)
    install_route(app)  # idempotent
    assert [getattr(r, "path", "") for r in app.router.routes].count("/handoff/{token}") == 1
    plan = await _plan(service)
    token = handoffs_for(service.settings).issue(plan_id=plan["plan_id"], owner=OWNER, plan_hash=plan["plan_hash"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://necto.test") as client:
        opened = await client.get(f"/handoff/{token}")
        assert opened.status_code == 303 and opened.headers["location"] == "/"
        cookie = opened.headers["set-cookie"]
        assert f"{COOKIE}={token}" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        assert "Secure" in cookie  # the public URL is https
        bad = await client.get(f"/handoff/{token[:-3]}")
        assert bad.status_code == 400 and "set-cookie" not in bad.headers and "not valid" in bad.text


def _pressed(name: str, label: str) -> dict:
    """What the browser sends back for a pressed action button (Chainlit's AskActionResponse)."""
    return {"name": name, "label": label, "payload": {}, "id": "action-1", "forId": "step-1"}


APPROVE = _pressed("necto_handoff_approve", "Approve")
REJECT = _pressed("necto_handoff_reject", "Reject")


def _chat(token: str | None, *, user=None, answer=None):
    environ = {"HTTP_COOKIE": f"theme=dark; {COOKIE}={token}"} if token else {}
    return RecordingEmitter.context("webapp", environ=environ, user=user, ask_answer=answer)


@pytest.mark.slow
async def test_approving_in_the_web_chat_runs_the_plan_as_its_bot_owner(service, devnet):
    plan = await _plan(service)
    token = handoffs_for(service.settings).issue(plan_id=plan["plan_id"], owner=OWNER, plan_hash=plan["plan_hash"])

    # Another signed-in web user with the link: refused, nothing asked, the link still works for its owner.
    import chainlit as cl

    mallory = _chat(token, user=cl.User(identifier="mallory"), answer=APPROVE)
    assert await open_from_link(service) is True
    assert mallory.asked == [] and "another account" in mallory.sent[-1]

    # No sign-in (the local web chat): the card from the stored plan, then Approve signs it, as the owner.
    chat = _chat(token, answer=APPROVE)
    assert await open_from_link(service) is True
    assert len(chat.asked) == 1 and plan["plan_hash"] in chat.sent[0]
    job = service.ledger.job_for_plan(plan["plan_id"])
    assert job is not None and job.owner == OWNER and job.state == "running"
    assert await service.backend.deployment_state(job.dseq) == "active"
    assert "Done." in chat.sent[-1] and job.id in chat.sent[-1]
    audit = [e.action for e in service.ledger.audit_entries(OWNER)]
    assert "open hand-off link" in audit and "approve deployment plan" in audit

    # The same link again (a reload, the leftover cookie): nothing is shown, nothing asked.
    again = _chat(token, answer=APPROVE)
    assert await open_from_link(service) is False and again.sent == [] and again.asked == []
    # A chat without a link is untouched.
    _chat(None)
    assert await open_from_link(service) is False


@pytest.mark.slow
async def test_rejecting_or_a_changed_plan_signs_nothing(service, devnet):
    txs = len(devnet.chain.txs)
    plan = await _plan(service)
    handoffs = handoffs_for(service.settings)
    token = handoffs.issue(plan_id=plan["plan_id"], owner=OWNER, plan_hash=plan["plan_hash"])
    chat = _chat(token, answer=REJECT)
    assert await open_from_link(service) is True
    assert "nothing was signed" in chat.sent[-1] and service.ledger.job_for_plan(plan["plan_id"]) is None

    changed = await _plan(service)
    token = handoffs.issue(plan_id=changed["plan_id"], owner=OWNER, plan_hash=changed["plan_hash"])
    body = json.loads(service.ledger.get_plan(changed["plan_id"], owner=OWNER).body_json)
    service.ledger.update_plan(changed["plan_id"], body_json=json.dumps(body | {"deposit_uact": 49_000_000}))
    chat = _chat(token, answer=APPROVE)
    assert await open_from_link(service) is True
    assert chat.asked == [] and "changed" in chat.sent[-1]
    with pytest.raises(PolicyDenied):
        service.plan_summary(changed["plan_id"], owner=OWNER)
    assert len(devnet.chain.txs) == txs


async def test_the_real_app_routes_handoff_links_ahead_of_the_chat_page(tmp_path):
    # Chainlit's catch-all page route answers every GET with the chat page; FastAPI >= 0.165 keeps it inside an
    # included router, where a plain "insert before the catch-all" does not see it. In the real app a bad
    # link must reach the hand-off route (a 400 page), not the chat page.
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ui"))
    from test_chat_history import _running_chat

    async with _running_chat(tmp_path, {"CHAINLIT_AUTH_SECRET": "handoff-test-" + "x" * 40}) as chat:
        async with httpx.AsyncClient(base_url=chat.base, timeout=10, follow_redirects=False) as http:
            answer = await http.get("/handoff/not-a-real-token")
            assert answer.status_code == 400, answer.text[:300]
            assert "This link does not open" in answer.text
            page = await http.get("/")
            assert page.status_code == 200  # the chat itself still answers
