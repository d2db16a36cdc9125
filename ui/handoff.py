"""Hand-off links: a plan a Slack or Discord user asked for, opened for approval in the web chat.

Bots cannot show a trustworthy confirmation (security.md rule 6), so for anything that signs (deploy,
close, mint) a bot replies with ``{public_url}/handoff/{token}``. The web chat then shows the stored plan's
code-built card and asks for approval there; nothing ever signs from a bot.

How a Slack user proves in the web chat that the plan is theirs (the choice, and why):

- The token is ``base64url(claims) "." base64url(HMAC-SHA256(secret, claims))``; the claims bind the plan
  id, its owner (the bot identity, ``slack:T…:U…`` / ``discord:<id>``), the plan hash shown on the card,
  an expiry (``handoff_ttl_s``, 10 minutes) and a random nonce. A changed character anywhere is refused.
- It works **once**: the nonce is recorded (``<data_dir>/handoff.db``, one row per use) when the chat
  opens the plan, so a forwarded, replayed or reloaded link is refused.
- It is delivered **privately**: in a DM, or as a Slack ephemeral message / a Discord DM when the request
  came from a channel (ui/bots/reply.py), so other channel members never see it.
- With sign-in on (``NECTO_AUTH``), the signed-in web user must also be the owner, or the web account
  linked to it by the operator in ``NECTO_BOT_LINKS``; anyone else is refused even with a valid link.
  Without sign-in the web chat has one local user (like the CLI) and the private, single-use, short-lived
  link is the proof.
- The plan must still be the owner's, unexecuted, unexpired and have the hash in the link; the service
  re-checks the hash again before it signs. Every opening is audited.

Approval then comes from the user's click in the web chat, on a card rendered from the stored plan (rules
1 and 2); the approved plan runs as its owner, so the bot user sees the job in ``jobs`` and ``status``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from tools.errors import NectoError, PolicyDenied
from tools.settings import NectoSettings

log = logging.getLogger("necto.handoff")

ROUTE = "/handoff/{token}"
COOKIE = "necto_handoff"
SECRET_FILE = "handoff_secret"
STORE_FILE = "handoff.db"
VERSION = 1
_MAX_TOKEN_CHARS = 2048
EXECUTORS = {"deploy": "execute_deploy_plan", "close": "execute_close_plan", "mint": "execute_mint_plan"}
TOOL_NAMES = {"deploy": "deploy", "close": "close_deployment", "mint": "mint_act"}


class HandoffRefused(PolicyDenied):
    """A hand-off link that does not open: forged, changed, expired, used, or not this user's."""


@dataclass(frozen=True)
class Grant:
    """What a valid link names: the plan, its owner (a bot identity) and the hash of the card to approve."""

    plan_id: str
    owner: str
    plan_hash: str
    expires_at: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_secret(settings: NectoSettings) -> bytes:
    """The key that signs links: ``NECTO_HANDOFF_SECRET``, else ``<data_dir>/handoff_secret`` made on first use."""
    if settings.handoff_secret is not None and settings.handoff_secret.get_secret_value():
        return settings.handoff_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:  # first use: two processes racing here both end up reading the winner's file
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < 32:
        raise PolicyDenied(f"The hand-off secret in {path} is damaged.", hint="Delete the file; Necto makes a new one.")
    return secret.encode()


class Handoffs:
    """Issues and checks hand-off tokens; remembers which were used (single use across restarts)."""

    def __init__(self, *, secret: bytes, store: Path, ttl_s: int, public_url: str,
                 links: Mapping[str, str] | None = None) -> None:
        self._secret = secret
        self._store = Path(store)
        self.ttl_s = int(ttl_s)
        self.public_url = public_url.rstrip("/")
        self.links = dict(links or {})

    @classmethod
    def from_settings(cls, settings: NectoSettings) -> Handoffs:
        return cls(secret=load_secret(settings), store=Path(settings.data_dir) / STORE_FILE,
                   ttl_s=settings.handoff_ttl_s, public_url=settings.public_url, links=settings.bot_links)

    # --- tokens ------------------------------------------------------------------------------------
    def _mac(self, claims_b64: str) -> str:
        return _b64(hmac.new(self._secret, b"necto-handoff." + claims_b64.encode(), hashlib.sha256).digest())

    def issue(self, *, plan_id: str, owner: str, plan_hash: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = {"v": VERSION, "p": plan_id, "o": owner, "h": plan_hash, "x": int(now) + self.ttl_s,
                  "n": secrets.token_urlsafe(12)}
        claims_b64 = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{claims_b64}.{self._mac(claims_b64)}"

    def url(self, token: str) -> str:
        return f"{self.public_url}{ROUTE.format(token=token)}"

    def verify(self, token: str, *, now: float | None = None) -> Grant:
        """The grant a token names, if its signature is intact, it has not expired and was not used yet."""
        now = time.time() if now is None else now
        claims_b64, _, mac = str(token or "").partition(".")
        if not claims_b64 or not mac or len(token) > _MAX_TOKEN_CHARS or not hmac.compare_digest(
            mac.encode(), self._mac(claims_b64).encode()
        ):
            raise HandoffRefused("This approval link is not valid (it was changed or cut short).",
                                 hint="Copy the whole link, or ask the bot again for a fresh one.")
        try:
            claims = json.loads(_unb64(claims_b64))
            grant = Grant(plan_id=str(claims["p"]), owner=str(claims["o"]), plan_hash=str(claims["h"]),
                          expires_at=int(claims["x"]), nonce=str(claims["n"]))
            if claims.get("v") != VERSION:
                raise ValueError("version")
        except (ValueError, KeyError, TypeError):  # signed by us, so only an old format gets here
            raise HandoffRefused("This approval link is from another Necto version.",
                                 hint="Ask the bot again for a fresh link.") from None
        if now >= grant.expires_at:
            raise HandoffRefused("This approval link has expired (links work for a few minutes).",
                                 hint="Ask the bot again for a fresh link.")
        if self._used(grant.nonce):
            raise HandoffRefused("This approval link was already used (each link opens once).",
                                 hint="Ask the bot again for a fresh link.")
        return grant

    def may_open(self, grant: Grant, web_user: str | None) -> bool:
        """Whether the web chat's user may open ``grant``: no sign-in (the link is the proof), the owner
        themselves, or the web account the operator linked to that bot identity."""
        return web_user is None or web_user == grant.owner or self.links.get(grant.owner) == web_user

    def redeem(self, token: str, *, web_user: str | None, now: float | None = None) -> Grant:
        """Check the link for this web user and use it up; raises HandoffRefused with the reason."""
        grant = self.verify(token, now=now)
        if not self.may_open(grant, web_user):
            # Not used up: the rightful owner can still open it.
            raise HandoffRefused("This approval link belongs to another account; nothing was opened.",
                                 hint="Open it signed in as the account linked to your Slack or Discord user "
                                      "(NECTO_BOT_LINKS), or ask the bot for a new link.")
        if not self._use(grant):
            raise HandoffRefused("This approval link was already used (each link opens once).",
                                 hint="Ask the bot again for a fresh link.")
        return grant

    # --- the single-use store --------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        self._store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self._store, timeout=5)
        db.execute("CREATE TABLE IF NOT EXISTS used (nonce TEXT PRIMARY KEY, plan_id TEXT, used_at REAL)")
        return db

    def _used(self, nonce: str) -> bool:
        with self._db() as db:
            return db.execute("SELECT 1 FROM used WHERE nonce = ?", (nonce,)).fetchone() is not None

    def _use(self, grant: Grant) -> bool:
        db = self._db()
        try:
            with db:
                db.execute("DELETE FROM used WHERE used_at < ?", (time.time() - 86_400 - self.ttl_s,))
                db.execute("INSERT INTO used (nonce, plan_id, used_at) VALUES (?, ?, ?)",
                           (grant.nonce, grant.plan_id, time.time()))
            return True
        except sqlite3.IntegrityError:  # another tab or process used it first
            return False
        finally:
            db.close()


_cache: dict[tuple[Any, ...], Handoffs] = {}


def handoffs_for(settings: NectoSettings) -> Handoffs:
    key = (str(settings.data_dir), settings.public_url, settings.handoff_ttl_s,
           json.dumps(settings.bot_links, sort_keys=True), settings.handoff_secret is not None)
    if key not in _cache:
        _cache[key] = Handoffs.from_settings(settings)
    return _cache[key]


# --------------------------------------------------------------------------------------- the plan
def plan_card(service: Any, grant: Grant) -> dict[str, Any]:
    """The stored plan's card, after checking it is still the one the link names and can still run."""
    from datetime import UTC, datetime

    plan = service.ledger.get_plan(grant.plan_id, owner=grant.owner)  # someone else's plan: not found
    if plan.status != "proposed":
        raise HandoffRefused("This plan was already carried out.", hint="Ask the bot for `status` or `jobs`.")
    expires = plan.expires_at
    if expires is not None and (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) < datetime.now(UTC):
        raise HandoffRefused("This plan has expired (prices move); nothing was signed.",
                             hint="Ask the bot again for a fresh plan.")
    summary = service.plan_summary(grant.plan_id, owner=grant.owner)  # re-hashes the stored plan
    card = dict(summary["card"])
    if summary["plan_hash"] != grant.plan_hash or str(card.get("plan_hash")) != grant.plan_hash:
        raise HandoffRefused("This plan changed after the link was made; it will not be signed.",
                             hint="Ask the bot again for a fresh plan.")
    return card


def issue_link(service: Any, *, plan_id: str, owner: str) -> tuple[str, dict[str, Any]]:
    """A hand-off URL for ``owner``'s stored plan, and the plan's card (for the bot's short summary)."""
    summary = service.plan_summary(plan_id, owner=owner)
    handoffs = handoffs_for(service.settings)
    token = handoffs.issue(plan_id=plan_id, owner=owner, plan_hash=summary["plan_hash"])
    return handoffs.url(token), dict(summary["card"])


# --------------------------------------------------------------------------------------- the route
def _page(status: int, title: str, sentence: str, hint: str) -> Any:
    from html import escape

    from starlette.responses import HTMLResponse

    body = (f"<!doctype html><meta charset=utf-8><title>Necto</title><h1>{escape(title)}</h1>"
            f"<p>{escape(sentence)}</p><p>{escape(hint)}</p>")
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def open_link(request: Any) -> Any:
    """GET /handoff/{token}: check the link, keep it in a short-lived cookie, and open the web chat.

    The chat (``open_from_link``) uses the token up when it shows the card: only there is it known who is
    signed in. The cookie is HttpOnly and path-wide so the chat's websocket carries it.
    """
    from starlette.responses import RedirectResponse

    from tools.service import get_service

    token = str(request.path_params.get("token") or "")
    try:
        service = await asyncio.to_thread(get_service)
        grant = handoffs_for(service.settings).verify(token)
    except HandoffRefused as exc:
        return _page(400, "This link does not open", exc.message, exc.hint or "")
    except Exception:
        log.exception("hand-off link check failed")
        return _page(503, "Necto is not ready", "Necto could not check this link right now.", "Try again in a minute.")
    root = str(request.scope.get("root_path") or "").rstrip("/")
    response = RedirectResponse(f"{root}/", status_code=303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.set_cookie(
        COOKIE, token, max_age=max(1, grant.expires_at - int(time.time())), path="/", httponly=True,
        samesite="lax", secure=service.settings.public_url.startswith("https://"),
    )
    return response


def install_route(app: Any = None) -> None:
    """Add GET /handoff/{token} to Chainlit's server, ahead of its catch-all page route. Idempotent."""
    from starlette.routing import Route

    from ui.routes import install_routes

    install_routes([Route(ROUTE, open_link, methods=["GET"], name="necto_handoff")], app=app)


# --------------------------------------------------------------------------------------- the chat
def token_from_environ(environ: Mapping[str, Any] | None) -> str | None:
    cookie = SimpleCookie()
    try:
        cookie.load(str((environ or {}).get("HTTP_COOKIE") or ""))
    except Exception:  # a malformed Cookie header is no hand-off
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


async def open_from_link(service: Any, *, confirm_timeout_s: int = 600) -> bool:
    """When this web chat was opened from a hand-off link: show the plan's card, ask, and run it on Approve.

    Returns True when a link was handled (shown or refused with a sentence), False when there was none.
    """
    import chainlit as cl

    from ui import render

    session = cl.context.session
    if getattr(session, "client_type", "webapp") != "webapp":
        return False
    token = token_from_environ(getattr(session, "environ", None))
    if token is None:
        return False
    user = cl.user_session.get("user")
    web_user = str(user.identifier) if getattr(user, "identifier", None) else None
    handoffs = handoffs_for(service.settings)
    try:
        grant = handoffs.verify(token)
    except HandoffRefused:
        # The link already showed its card (the cookie outlives it by design) or was refused at the route.
        return False
    try:
        card = plan_card(service, grant)
        grant = handoffs.redeem(token, web_user=web_user)
    except NectoError as exc:
        await cl.Message(content=render.error_text(exc.message, exc.hint or "Ask the bot again."), author="Necto").send()
        return True
    service.ledger.audit(owner=grant.owner, action="open hand-off link", plan_id=grant.plan_id,
                         plan_hash=grant.plan_hash, result=f"shown in the web chat to {web_user or 'the local user'}")
    await cl.Message(content="You asked for this in Slack or Discord; approve it here.\n\n"
                     + render.confirmation_card(card), author="Necto").send()
    action = render.safe_text(card.get("action") or "this action", 40)
    answer = await cl.AskActionMessage(
        content=f"Approve **{action}**? Approving signs and broadcasts exactly the card above.",
        actions=[cl.Action(name="necto_handoff_approve", payload={"plan_id": grant.plan_id}, label="Approve", icon="check"),
                 cl.Action(name="necto_handoff_reject", payload={"plan_id": grant.plan_id}, label="Reject", icon="x")],
        author="Necto", timeout=confirm_timeout_s,
    ).send()
    if not (isinstance(answer, Mapping) and answer.get("name") == "necto_handoff_approve"):
        reason = "You rejected it" if isinstance(answer, Mapping) else "No answer came in time"
        await cl.Message(content=f"{reason}: nothing was signed and nothing was spent.", author="Necto").send()
        return True
    await _execute(service, grant, card)
    return True


async def _execute(service: Any, grant: Grant, card: Mapping[str, Any]) -> None:
    """Run the approved plan as its owner, showing progress events in one message as they arrive."""
    import chainlit as cl

    from ui import render

    plan = service.ledger.get_plan(grant.plan_id, owner=grant.owner)
    if plan.kind not in EXECUTORS:
        await cl.Message(content=render.error_text("Necto cannot carry out this kind of plan from a link.",
                                                   "Ask for it in the web chat instead."), author="Necto").send()
        return
    execute = getattr(service, EXECUTORS[plan.kind])
    lines = ["**Approved**: signing exactly the plan on the card."]
    progress = cl.Message(content="\n".join(f"- {x}" for x in lines), author="Necto")
    await progress.send()
    queue = service.events.subscribe(grant.owner)
    task = asyncio.ensure_future(execute(grant.plan_id, confirmed_hash=grant.plan_hash, owner=grant.owner))
    try:
        while not task.done():
            try:
                event = await asyncio.wait_for(queue.get(), 0.5)
            except TimeoutError:
                continue
            line = render.progress_line(event) if isinstance(event, Mapping) else None
            if line and line != lines[-1]:
                lines = (lines + [line])[-30:]
                progress.content = "\n".join(f"- {x}" for x in lines)
                await progress.update()
        result = task.result()
    except NectoError as exc:
        await cl.Message(content=render.error_text(exc.message, exc.hint or "Ask the bot for `status`."),
                         author="Necto").send()
        return
    except Exception:
        log.exception("hand-off execution failed")
        await cl.Message(content=render.error_text("Carrying out the plan failed on Necto's side.",
                                                   "Ask the bot for `status`; nothing is signed twice."),
                         author="Necto").send()
        return
    finally:
        service.events.unsubscribe(grant.owner, queue)
    summary = render.tool_summary(TOOL_NAMES.get(plan.kind, "deploy"), result)
    await cl.Message(content=f"**Done.** {summary} Follow it from the bot with `status` or `jobs`.",
                     author="Necto").send()
