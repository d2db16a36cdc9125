"""Sign in to the web chat with a browser wallet (``NECTO_AUTH=wallet``): the user IS their Akash address.

    GET  /wallet-login            a small page: Keplr (or Leap) enables the chain (suggested when unknown),
                                  reads the account, signs the server's challenge with ``signArbitrary``
    POST /wallet-login/challenge  {address} -> {nonce, text, expires_at}: a single-use challenge that names the
                                  user, the chain, the nonce and the expiry (tools/wallet/signin.py)
    POST /wallet-login/verify     {address, pubKey, signature, nonce, ...}: NectoService.connect_wallet checks
                                  the nonce (single use, unexpired, issued for this address), that the address
                                  is the public key's and the ADR-036 signature, and remembers the wallet as
                                  the user's signer; then a sign-in ticket is set as an HttpOnly cookie
    GET  /login                   with a valid ticket: Chainlit's login page, which exchanges it (below);
                                  without one: a redirect here, so Chainlit's empty login form never shows

The ticket is ``v1.<address>.<expiry>.<HMAC-SHA256>``, keyed from CHAINLIT_AUTH_SECRET with a label of its
own, valid for TICKET_TTL_S. Chainlit's header sign-in (``POST /auth/header``, which its login page calls by
itself) runs ``header_callback``: a valid ticket becomes ``cl.User("wallet:<address>")`` and Chainlit sets its
own session cookie. ``wallet:`` cannot collide with a password or proxy user name (no ``:`` allowed there),
so the owner of a wallet user's jobs, plans and wallets is that identifier and nobody else's. Sign-out
(Chainlit's /logout) also deletes the ticket.

Cross-site requests cannot use these routes: POSTs must be JSON (a browser preflights that) from this
site's own origin. Ledger accounts may sign in (ADR-036 works there); they only cannot sign Necto's
transactions, as in the chat.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any
from urllib.parse import urlsplit

from tools.akash.messages import is_account_address
from tools.errors import NectoError
from tools.wallet.errors import LedgerUnsupported, SignInFailed
from ui import routes as routes_module

log = logging.getLogger("necto.wallet_login")

PAGE_ROUTE = "/wallet-login"
CHALLENGE_ROUTE = "/wallet-login/challenge"
VERIFY_ROUTE = "/wallet-login/verify"
LOGIN_ROUTE = "/login"  # Chainlit's own login page path (its POST /login stays Chainlit's)
COOKIE = "necto_wallet_ticket"
TICKET_TTL_S = 600  # the ticket only has to last until Chainlit's header sign-in swaps it for a session
OWNER_PREFIX = "wallet:"
_TICKET_LABEL = b"necto wallet sign-in ticket v1"
_MAX_BODY_BYTES = 8192
_MAX_FIELD_CHARS = 4096


def owner_for(address: str) -> str:
    """The chat user (and ledger owner) for a wallet address."""
    return OWNER_PREFIX + address


def check_address(value: Any) -> str:
    """``value`` if it is an akash1... account address (bech32, 20 bytes), else SignInFailed."""
    if is_account_address(value):
        return value
    raise SignInFailed("The wallet did not report an akash1... account address.",
                       hint="Choose an Akash account in Keplr (or Leap) and sign in again.")


# ------------------------------------------------------------------------------------------------ tickets
class WalletTickets:
    """Short-lived, HMAC-signed proof that this browser signed in as an address (module docstring)."""

    def __init__(self, secret: str, *, ttl_s: int = TICKET_TTL_S, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a ticket secret is required")
        self._key = hmac.new(secret.encode("utf-8"), _TICKET_LABEL, hashlib.sha256).digest()
        self.ttl_s = ttl_s
        self._clock = clock

    def _mac(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def issue(self, address: str) -> str:
        body = f"v1.{check_address(address)}.{int(self._clock()) + int(self.ttl_s)}"
        return f"{body}.{self._mac(body)}"

    def address(self, ticket: str | None) -> str | None:
        """The address a valid, unexpired ticket was issued for; None for anything else."""
        if not isinstance(ticket, str) or len(ticket) > 256:
            return None
        parts = ticket.split(".")
        if len(parts) != 4 or parts[0] != "v1" or not parts[2].isdigit():
            return None
        body = ".".join(parts[:3])
        try:
            if not hmac.compare_digest(self._mac(body), parts[3]):
                return None
        except (TypeError, UnicodeEncodeError):
            return None
        if self._clock() >= int(parts[2]):
            return None
        try:
            return check_address(parts[1])
        except SignInFailed:
            return None


def read_cookie(cookie_header: str | None, name: str = COOKIE) -> str | None:
    """The value of cookie ``name`` in a Cookie header (a tolerant parser: one bad cookie spoils nothing)."""
    for pair in (cookie_header or "").split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key == name and value:
            return value.strip().strip('"')
    return None


# ------------------------------------------------------------------------------------------------ Chainlit hooks
def header_callback(tickets: WalletTickets) -> Callable[[Mapping[str, str]], Awaitable[Any]]:
    """The ``@cl.header_auth_callback`` body: a cl.User for the ticket's address, else None."""
    import chainlit as cl

    async def check_ticket(headers: Mapping[str, str]) -> cl.User | None:
        try:
            address = tickets.address(read_cookie(headers.get("cookie")))
        except Exception:
            log.exception("wallet ticket check failed")
            return None
        if address is None:
            log.info("sign-in refused: no valid wallet ticket")
            return None
        return cl.User(identifier=owner_for(address), display_name=f"{address[:12]}…{address[-6:]}",
                       metadata={"provider": "wallet", "address": address})

    return check_ticket


async def on_logout(request: Any, response: Any) -> dict[str, bool]:
    """Chainlit's /logout clears its session cookie; this clears the wallet ticket too."""
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return {"success": True}


# ------------------------------------------------------------------------------------------------ the routes
class _Refused(Exception):
    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def _root(request: Any) -> str:
    return str(request.scope.get("root_path") or "").rstrip("/")


def _json(status: int, body: dict[str, Any]) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _error(status: int, message: str, hint: str) -> Any:
    return _json(status, {"status": "error", "message": message, "hint": hint})


def _same_site(request: Any, public_url: str) -> bool:
    """True unless the browser says the request came from another site's page."""
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site") in (None, "same-origin", "none")
    netloc = urlsplit(origin).netloc
    return bool(netloc) and (netloc == request.headers.get("host") or netloc == urlsplit(public_url).netloc)


async def _json_body(request: Any, public_url: str) -> dict[str, Any]:
    if not _same_site(request, public_url):
        raise _Refused(403, "Sign-in requests must come from Necto's own page.", "Open /wallet-login on this site.")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise _Refused(415, "The sign-in request was not JSON.", "Sign in from the /wallet-login page.")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY_BYTES:
            raise _Refused(413, "The sign-in request is too large.", "Sign in from the /wallet-login page.")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise _Refused(400, "The sign-in request was not a JSON object.", "Sign in from the /wallet-login page.")
    return body


def _b64(value: Any, what: str) -> bytes:
    if isinstance(value, str) and 0 < len(value) <= _MAX_FIELD_CHARS:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise SignInFailed(f"The wallet's {what} is missing or not base64.", hint="Sign in again from /wallet-login.")


def _page_html(config: Mapping[str, Any]) -> str:
    # JSON in a <script type="application/json">: "<" is escaped, so no value can close the tag.
    data = json.dumps(config).replace("<", "\\u003c")
    return _PAGE.replace("__CONFIG__", data)


def routes(settings: Any, tickets: WalletTickets, *, service_provider: Callable[[], Any] | None = None) -> list[Any]:
    """The Starlette routes of the wallet sign-in (module docstring). ``service_provider`` returns the
    NectoService (default: the process's, ``tools.service.get_service``)."""
    from starlette.responses import HTMLResponse, RedirectResponse
    from starlette.routing import Route

    def _default_service() -> Any:
        from tools.service import get_service

        return get_service()

    provide = service_provider or _default_service
    public_url = str(settings.public_url)

    async def service() -> Any:
        try:
            return await asyncio.to_thread(provide)
        except Exception as exc:
            log.exception("the service is not ready for a wallet sign-in")
            raise _Refused(503, "Necto is not ready yet.", "Wait a minute, then reload this page.") from exc

    async def page(request: Any) -> Any:
        from ui.wallet import chain_info

        try:
            svc = await service()
        except _Refused as exc:
            return HTMLResponse(f"<!doctype html><p>{escape(exc.message)} {escape(exc.hint)}</p>", status_code=503)
        chain_id = svc.settings.effective_chain_id
        info = chain_info(chain_id, str(getattr(svc.backend, "rest_url", "")))
        config = {"chainId": chain_id, "chainName": info["chainName"], "chainInfo": info, "root": _root(request)}
        return HTMLResponse(_page_html(config), headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        })

    async def challenge(request: Any) -> Any:
        try:
            body = await _json_body(request, public_url)
            address = check_address(body.get("address"))
            svc = await service()
            issued = svc.wallet_challenge(owner_for(address))
        except _Refused as exc:
            return _error(exc.status, exc.message, exc.hint)
        except NectoError as exc:
            return _error(400, exc.message, exc.hint or "Sign in again.")
        return _json(200, {"status": "ok", "nonce": issued["nonce"], "text": issued["text"],
                           "expires_at": issued["expires_at"]})

    async def verify(request: Any) -> Any:
        note = None
        try:
            body = await _json_body(request, public_url)
            address = check_address(body.get("address"))
            public_key, signature = _b64(body.get("pubKey"), "public key"), _b64(body.get("signature"), "signature")
            svc = await service()
            wallet = "leap" if body.get("wallet") == "leap" else "keplr"
            try:
                await svc.connect_wallet(
                    owner_for(address), address=address, public_key=public_key, chain_id=str(body.get("chainId") or ""),
                    wallet=wallet, is_ledger=bool(body.get("isNanoLedger")), nonce=str(body.get("nonce") or "")[:128],
                    signature=signature,
                )
            except LedgerUnsupported as exc:  # the signature checked out: signed in, but it cannot sign deploys
                note = f"{exc.message} {exc.hint}"
        except _Refused as exc:
            return _error(exc.status, exc.message, exc.hint)
        except SignInFailed as exc:
            log.info("wallet sign-in refused: %s", exc.message)
            return _error(401, exc.message, exc.hint or "Sign in again from /wallet-login.")
        except NectoError as exc:
            return _error(400, exc.message, exc.hint or "Sign in again from /wallet-login.")
        except Exception:
            log.exception("wallet sign-in failed")
            return _error(500, "Necto could not finish the sign-in.", "Reload the page and try again.")
        log.info("signed in with wallet %s", address)
        response = _json(200, {"status": "ok", "address": address, "user": owner_for(address), "note": note,
                               "next": f"{_root(request)}/"})
        response.set_cookie(COOKIE, tickets.issue(address), max_age=tickets.ttl_s, path="/", httponly=True,
                            samesite="lax", secure=public_url.startswith("https://") or request.url.scheme == "https")
        return response

    async def login(request: Any) -> Any:
        if tickets.address(read_cookie(request.headers.get("cookie"))) is not None:
            from chainlit.server import serve  # Chainlit's page: its login view exchanges the ticket

            return await serve(request)
        response = RedirectResponse(f"{_root(request)}{PAGE_ROUTE}", status_code=303)
        response.headers["Cache-Control"] = "no-store"
        return response

    return [
        Route(PAGE_ROUTE, page, methods=["GET"], name="necto_wallet_login"),
        Route(CHALLENGE_ROUTE, challenge, methods=["POST"], name="necto_wallet_challenge"),
        Route(VERIFY_ROUTE, verify, methods=["POST"], name="necto_wallet_verify"),
        Route(LOGIN_ROUTE, login, methods=["GET"], name="necto_wallet_login_redirect"),
    ]


install_routes = routes_module.install_routes  # (a module attribute, so tests can replace it)


def install(settings: Any, secret: str) -> WalletTickets:
    """Wallet mode: the header callback that reads the ticket, sign-out, and the routes (ui/accounts.py)."""
    import chainlit as cl

    tickets = WalletTickets(secret)
    cl.header_auth_callback(header_callback(tickets))
    cl.on_logout(on_logout)
    install_routes(routes(settings, tickets))
    return tickets


# ------------------------------------------------------------------------------------------------ the page
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to Necto</title>
<style>
 body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#0f1115;color:#e8e8ea;margin:0;
      min-height:100vh;display:flex;align-items:center;justify-content:center}
 main{max-width:28rem;padding:2rem;border:1px solid #2a2d35;border-radius:12px;background:#161922}
 h1{font-size:1.4rem;margin:0 0 .5rem} p{line-height:1.45;color:#b9bcc6}
 button{font:inherit;padding:.6rem 1rem;border-radius:8px;border:1px solid #3b82f6;background:#3b82f6;color:#fff;
        cursor:pointer;margin:.25rem .5rem .25rem 0} button.alt{background:transparent;color:#93b4f8}
 button:disabled{opacity:.5;cursor:wait} #status{min-height:1.5rem;color:#e8e8ea} #status.error{color:#f87171}
 code{font-size:.85em;word-break:break-all}
</style></head>
<body><main>
<h1>Sign in to Necto with your wallet</h1>
<p>Your Akash address is your account. Your wallet signs a one-time sign-in message from Necto (network
<code id="chain"></code>); the signature cannot move funds.</p>
<div><button id="keplr" data-necto="wallet-login-keplr">Sign in with Keplr</button>
<button id="leap" class="alt" data-necto="wallet-login-leap">Sign in with Leap</button></div>
<p id="status" data-necto="wallet-login-status" role="status"></p>
</main>
<script type="application/json" id="necto-config">__CONFIG__</script>
<script>
(() => {
  const CONFIG = JSON.parse(document.getElementById("necto-config").textContent);
  const TIMEOUT_MS = 120000;
  const status = document.getElementById("status");
  const buttons = [document.getElementById("keplr"), document.getElementById("leap")];
  document.getElementById("chain").textContent = CONFIG.chainId;
  const MESSAGES = {
    missing: "No Keplr or Leap wallet was found in this browser. Install the extension, then reload this page.",
    locked: "Your wallet is locked. Unlock it, then try again.",
    rejected: "You rejected the request in your wallet. Click a button to try again.",
    wrong_network: "Your wallet does not have Necto's network. Accept the network it suggests, then try again.",
    timeout: "Your wallet did not answer in time. Open its pop-up (it may be behind this window) and try again.",
    error: "The wallet could not sign in. Reload this page and try again.",
  };
  function show(text, isError) { status.textContent = text; status.className = isError ? "error" : ""; }
  function toB64(bytes) { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); }
  function classify(error) {
    const text = String((error && error.message) || error || "");
    if (/reject|denied|cancel/i.test(text)) return "rejected";
    if (/lock/i.test(text)) return "locked";
    if (/chain info|not supported|unknown chain|chain id/i.test(text)) return "wrong_network";
    if (/timed out/i.test(text)) return "timeout";
    return "error";
  }
  function withTimeout(promise) {
    return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), TIMEOUT_MS))]);
  }
  async function enableChain(wallet) {
    try { await wallet.enable(CONFIG.chainId); }
    catch (error) {
      if (classify(error) !== "wrong_network" || !wallet.experimentalSuggestChain) throw error;
      await wallet.experimentalSuggestChain(CONFIG.chainInfo);
      await wallet.enable(CONFIG.chainId);
    }
  }
  class ServerError extends Error {}
  async function post(path, body) {
    const response = await fetch(CONFIG.root + path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok || (data.status && data.status !== "ok")) {
      throw new ServerError([data.message || "Necto refused the sign-in.", data.hint || ""].join(" ").trim());
    }
    return data;
  }
  async function signIn(name) {
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const wallet = name === "leap" ? window.leap : window.keplr;
      if (!wallet) { show(MESSAGES.missing, true); return; }
      show("Waiting for your wallet…");
      await withTimeout(enableChain(wallet));
      const key = await withTimeout(wallet.getKey(CONFIG.chainId));
      const challenge = await post("/wallet-login/challenge", { address: key.bech32Address });
      show("Sign the sign-in message in your wallet…");
      const signed = await withTimeout(wallet.signArbitrary(CONFIG.chainId, key.bech32Address, challenge.text));
      show("Checking the signature…");
      const result = await post("/wallet-login/verify", {
        wallet: name, chainId: CONFIG.chainId, address: key.bech32Address, pubKey: toB64(key.pubKey),
        isNanoLedger: !!key.isNanoLedger, nonce: challenge.nonce, signature: signed.signature,
      });
      await post("/auth/header", {});
      show(result.note ? "Signed in. " + result.note : "Signed in. Opening the chat…");
      window.location.replace(result.next || CONFIG.root + "/");
    } catch (error) {
      show(error instanceof ServerError ? error.message : MESSAGES[classify(error)], true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
  buttons[0].addEventListener("click", () => signIn("keplr"));
  buttons[1].addEventListener("click", () => signIn("leap"));
})();
</script>
</body></html>
"""
