"""The browser wallet in the web chat: the ``Wallet`` element, sign-in, and the page as a signer.

- At chat start the ``Wallet`` custom element (``public/elements/Wallet.jsx``) shows the network and a
  Connect button. It signs the server's sign-in message with ``signArbitrary`` and calls
  ``necto_wallet_connect``; the service verifies the ADR-036 signature over the single-use nonce, stores
  the wallet and answers with balances. From then on this chat is the wallet's signer: new plans are
  built for the wallet's address and every transaction is signed in the wallet.
- Signing: ``ask`` shows a ``KeplrSign`` element (``public/elements/KeplrSign.jsx``) carrying the request
  the server built (bytes, plus a summary written by code) and waits for its ``submitElement``; the
  service verifies the answer before broadcasting (``tools.wallet``).
- "resume" continues a job the wallet did not sign (rejected, timed out, not open), after reconnecting.

Without a connected wallet the chat keeps signing with the local sandbox key, as before. Element props
carry only public data: chain info, addresses, the sign-in text, balances, the bytes to sign.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import chainlit as cl

from ui import render

log = logging.getLogger("necto.ui.wallet")

CONNECT_ACTION = "necto_wallet_connect"
SIGN_TIMEOUT_S = 300  # the page's own timeout (180 s) answers first; this bounds a page that went away
RESUME_WORDS = frozenset({"resume", "resume it", "resume the job", "resume deploy", "resume the deploy", "continue"})
# "connect my wallet", "use keplr", "sign with leap", "link my Keplr wallet" ... (the starter says the first)
CONNECT_WORDS = re.compile(r"^\s*(connect|link|use|sign with|open)\b.{0,20}\b(wallet|keplr|leap)\b.{0,12}$", re.I)
SESSION_ASK = "necto_wallet_ask"
INTRO = (
    "Optional: connect Keplr or Leap to deploy from your own account. Necto builds each transaction, your "
    "wallet shows and signs it, and Necto checks the signature before broadcasting. Without a wallet this "
    "chat signs with Necto's sandbox key."
)

# Keplr's ChainInfo for experimentalSuggestChain (public endpoints; akash.md §1).
PUBLIC_ENDPOINTS = {
    "akashnet-2": ("https://rpc.akt.dev/rpc", "https://rpc.akt.dev/rest", "Akash"),
    "sandbox-2": ("https://rpc.sandbox-2.aksh.pw:443", "https://api.sandbox-2.aksh.pw:443", "Akash Sandbox"),
}


def chain_info(chain_id: str, rest_url: str) -> dict[str, Any]:
    """What ``experimentalSuggestChain`` needs to add the network to the wallet (akash prefix, coin type 118,
    fees in uakt, deposits in uact)."""
    rpc, rest, name = PUBLIC_ENDPOINTS.get(chain_id, (rest_url, rest_url, f"Necto sandbox ({chain_id})"))
    akt = {"coinDenom": "AKT", "coinMinimalDenom": "uakt", "coinDecimals": 6}
    act = {"coinDenom": "ACT", "coinMinimalDenom": "uact", "coinDecimals": 6}
    return {
        "chainId": chain_id,
        "chainName": name,
        "rpc": rpc,
        "rest": rest,
        "bip44": {"coinType": 118},
        "bech32Config": {
            "bech32PrefixAccAddr": "akash", "bech32PrefixAccPub": "akashpub",
            "bech32PrefixValAddr": "akashvaloper", "bech32PrefixValPub": "akashvaloperpub",
            "bech32PrefixConsAddr": "akashvalcons", "bech32PrefixConsPub": "akashvalconspub",
        },
        "currencies": [akt, act],
        "feeCurrencies": [{**akt, "gasPriceStep": {"low": 0.0025, "average": 0.025, "high": 0.04}}],
        "stakeCurrency": akt,
    }


def _owner() -> str:
    # The same rule as ui/app.py: the authenticated user, or "local" without auth (as the CLI).
    user = cl.user_session.get("user")
    identifier = getattr(user, "identifier", None)
    return str(identifier) if identifier else "local"


async def _service() -> Any:
    from tools.service import get_service

    return get_service()


# ----------------------------------------------------------------------------- chat start / end
async def on_chat_start(service: Any, owner: str) -> None:
    """Show the wallet card at chat start to users who connected a wallet before (the card would otherwise
    hide the starters of a new chat); others open it with "connect my wallet" (a starter)."""
    if not hasattr(service, "wallet_challenge"):
        return
    try:
        status = await service.wallet_status(owner)
    except Exception:
        log.exception("wallet status failed")
        status = {}
    address = str(status.get("address") or "")
    if owner == f"wallet:{address}" and status.get("connected") and not status.get("is_ledger"):
        # Signed in with this very wallet (NECTO_AUTH=wallet): this page is its signer, no second signature.
        ask = make_ask(cl.context.session, str(status.get("wallet") or "keplr"))
        cl.user_session.set(SESSION_ASK, ask)
        service.attach_wallet_signer(owner, ask)
        await cl.Message(
            content=f"**Signed in with your wallet** `{render.safe_text(address, 64)}`: your deployments are signed "
            "in it, and Necto checks each signature before broadcasting.",
            author="Necto",
        ).send()
        return
    if status.get("connected"):
        await show_card(service, owner, status=status)


async def show_card(service: Any, owner: str, *, status: Mapping[str, Any] | None = None) -> None:
    """The wallet card (connected state if the user has a wallet on this chain; ``status``: the caller's
    fresh ``wallet_status``, so the chain is not asked twice)."""
    settings = service.settings
    chain_id = settings.effective_chain_id
    props: dict[str, Any] = {
        "action": CONNECT_ACTION,
        "chainId": chain_id,
        "chainInfo": chain_info(chain_id, str(getattr(service.backend, "rest_url", ""))),
        "challenge": service.wallet_challenge(owner),
        "status": "disconnected",
        "intro": INTRO,
    }
    if status is None:
        try:
            status = await service.wallet_status(owner)
        except Exception:
            log.exception("wallet status failed")
            status = {}
    if status.get("connected") and not status.get("is_ledger"):
        props.update(status="disconnected", message=None,
                     intro=f"Your wallet {status['address']} is remembered: click Connect to sign from this page.")
    element = cl.CustomElement(name="Wallet", props=props, display="inline")
    await cl.Message(content="", author="Necto", elements=[element]).send()


def on_chat_end(service: Any, owner: str) -> None:
    ask = cl.user_session.get(SESSION_ASK)
    if ask is not None and hasattr(service, "detach_wallet_signer"):
        service.detach_wallet_signer(owner, ask)


# ----------------------------------------------------------------------------- connect
def _b64(value: Any) -> bytes:
    if not isinstance(value, str) or not value or len(value) > 4096:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


@cl.action_callback(CONNECT_ACTION)
async def connect(action: cl.Action) -> dict[str, Any]:
    """The Wallet element's answer: verify the sign-in, remember the wallet, make this page its signer."""
    from tools.errors import NectoError
    from tools.wallet.errors import wallet_error

    owner = _owner()
    payload = action.payload if isinstance(action.payload, Mapping) else {}
    service = await _service()
    try:
        if payload.get("error"):
            raise wallet_error(payload.get("error"), payload.get("message"))
        name = "leap" if payload.get("wallet") == "leap" else "keplr"
        result = await service.connect_wallet(
            owner, address=str(payload.get("address") or ""), public_key=_b64(payload.get("pubKey")),
            chain_id=str(payload.get("chainId") or ""), wallet=name, is_ledger=bool(payload.get("isNanoLedger")),
            nonce=str(payload.get("nonce") or ""), signature=_b64(payload.get("signature")),
        )
    except NectoError as exc:
        return {"status": "error", "message": exc.message, "hint": exc.hint, "challenge": service.wallet_challenge(owner)}
    except Exception:
        log.exception("wallet connect failed")
        return {"status": "error", "message": "Necto could not connect the wallet.",
                "hint": "Reload the page and try again.", "challenge": service.wallet_challenge(owner)}
    ask = make_ask(cl.context.session, name)
    previous = cl.user_session.get(SESSION_ASK)
    if previous is not None:
        service.detach_wallet_signer(owner, previous)
    cl.user_session.set(SESSION_ASK, ask)
    service.attach_wallet_signer(owner, ask)
    await cl.Message(
        content=f"**Wallet connected:** `{render.safe_text(result['address'], 64)}`. New deployments are signed "
        "in your wallet; Necto checks each signature before broadcasting.",
        author="Necto",
    ).send()
    return {**result, "challenge": service.wallet_challenge(owner)}


# ----------------------------------------------------------------------------- the page as a signer
def _prompt(request: Mapping[str, Any], wallet: str) -> str:
    name = "Leap" if wallet == "leap" else "Keplr"
    if request.get("kind") == "direct":
        summary = request.get("summary") or {}
        lines = "; ".join(render.safe_text(line, 160) for line in summary.get("lines") or [])
        return f"**Sign in {name}:** {lines} (fee {render.safe_text(summary.get('fee'), 60)})."
    return f"**Sign in {name}:** provider access for your deployments' logs and status."


def make_ask(session: Any, wallet: str) -> Any:
    """The function the service calls to have this chat's page sign ``request`` (one prompt at a time)."""
    lock = asyncio.Lock()

    async def ask(request: dict[str, Any]) -> Mapping[str, Any] | None:
        from chainlit.context import init_ws_context

        async with lock:
            init_ws_context(session)  # the deploy task may run outside this chat's handler
            props = {"request": request, "wallet": wallet, "requestId": uuid.uuid4().hex}
            element = cl.CustomElement(name="KeplrSign", props=props, display="inline")
            message = cl.AskElementMessage(content=_prompt(request, wallet), element=element, author="Necto",
                                           timeout=SIGN_TIMEOUT_S)
            try:
                answer = await message.send()
            except Exception:  # the page went away mid-prompt: the job waits for the wallet, resumable
                log.exception("the signing prompt could not be shown")
                return {"error": "unavailable", "message": "the signing prompt could not be shown"}
            if answer is None:
                reply: Mapping[str, Any] = {"error": "timeout"}
            elif not answer.get("submitted"):
                reply = {"error": "rejected", "message": "Cancelled in the chat"}
            elif isinstance(answer.get("response"), Mapping):
                reply = answer["response"]
            else:
                reply = {"error": str(answer.get("error") or "error"), "message": str(answer.get("message") or "")}
            message.content = _prompt(request, wallet) + (
                " Signed in the wallet; Necto verifies it before broadcasting." if "error" not in reply
                else " Not signed.")
            await message.update()
            return reply

    return ask


# ----------------------------------------------------------------------------- resume
async def handle_message(service: Any, owner: str, text: str) -> bool:
    """'connect my wallet': show the wallet card; 'resume': continue the newest job of this user that stopped
    waiting for the wallet. True if handled."""
    if CONNECT_WORDS.match(text or "") and hasattr(service, "wallet_challenge"):
        await show_card(service, owner)
        return True
    if text.strip().lower().rstrip(".!") not in RESUME_WORDS or not hasattr(service, "paused_jobs"):
        return False
    jobs = service.paused_jobs(owner)
    if not jobs:
        return False
    job = jobs[0]
    await cl.Message(content=f"Resuming job {render.safe_text(job.id, 40)} from *{render.safe_text(job.state, 20)}*: "
                     "your wallet will ask you to sign.", author="Necto").send()
    try:
        result = await service.resume_job(job.id, owner=owner)
    except Exception as exc:  # a NectoError has a sentence; anything else stays in the log
        log.exception("resume failed")
        message = getattr(exc, "message", "Resuming failed on Necto's side.")
        await cl.Message(content=render.error_text(message, getattr(exc, "hint", "") or "Try again."),
                         author="Necto").send()
        return True
    if result.get("status") == "ok" and result.get("state") == "running":
        links = ", ".join(render.uri_link(u) for u in (result.get("uris") or [])[:4]) or "no public URI"
        text_out = f"**Live:** {links}"
    elif result.get("status") == "ok":
        text_out = f"Job {render.safe_text(result.get('job_id'), 40)} is {render.safe_text(result.get('state'), 20)}."
    else:
        text_out = render.error_text(str(result.get("message") or "The job did not resume."), str(result.get("hint") or ""))
    await cl.Message(content=text_out, author="Necto").send()
    return True
