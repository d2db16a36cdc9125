"""Sign-in for the web chat, chosen by settings (``NECTO_AUTH``), and chat history for signed-in users.

    none      no sign-in: one local user, the owner "local" (as the CLI); no chat history
    password  Chainlit's login form, checked against ``NECTO_AUTH_USERS`` and the users file
              (``necto user add NAME``); see ui/users.py for the hashes
    header    an authenticating reverse proxy puts the user's name in ``NECTO_AUTH_HEADER``; with
              ``NECTO_AUTH_PROXY_SECRET`` the proxy must also send X-Necto-Proxy-Secret
    wallet    sign in with Keplr or Leap at /wallet-login: an ADR-036 signature over a single-use server
              nonce proves the Akash address, and the user is ``wallet:<address>`` (ui/wallet_login.py)

The signed-in name is the ``owner`` every service call uses (ui/app.py ``_user_id``), so each user sees
only their own jobs, plans and wallets. Chainlit signs its session token with CHAINLIT_AUTH_SECRET:
``necto serve`` sets it (ui/serve.py), and ``install`` does too when the chat was started another way.

ui/app.py imports this module once; importing it registers the callbacks the settings ask for.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import chainlit as cl

from tools.settings import NectoSettings
from ui.users import AccountError, UserDirectory, header_identity

log = logging.getLogger("necto.accounts")

LOCAL_OWNER = "local"  # no sign-in: the chat shares the CLI's ledger owner


def owner_of(user: Any) -> str:
    """The ledger owner for a Chainlit user (None, or no identifier: the local owner)."""
    identifier = getattr(user, "identifier", None)
    return str(identifier) if identifier else LOCAL_OWNER


def password_callback(directory: UserDirectory) -> Callable[[str, str], Awaitable[cl.User | None]]:
    """The ``@cl.password_auth_callback`` body: a cl.User for a right name and password, else None."""

    async def check_password(username: str, password: str) -> cl.User | None:
        try:
            # PBKDF2 takes a good fraction of a second: keep it off the event loop.
            name = await asyncio.to_thread(directory.authenticate, username, password)
        except Exception:  # never let a sign-in attempt crash or show a traceback
            log.exception("password check failed")
            return None
        if name is None:
            log.info("sign-in refused")  # no name: a typo'd password pasted as a name must not be logged
            return None
        return cl.User(identifier=name, display_name=name, metadata={"provider": "password"})

    return check_password


def header_callback(settings: NectoSettings) -> Callable[[Mapping[str, str]], Awaitable[cl.User | None]]:
    """The ``@cl.header_auth_callback`` body: a cl.User for the name the trusted proxy sent, else None."""
    header = settings.auth_header
    secret = settings.auth_proxy_secret.get_secret_value() if settings.auth_proxy_secret else None

    async def check_header(headers: Mapping[str, str]) -> cl.User | None:
        try:
            name = header_identity(headers, header=header, proxy_secret=secret)
        except Exception:
            log.exception("header check failed")
            return None
        if name is None:
            log.info("sign-in refused: no valid %s header from the proxy", header)
            return None
        return cl.User(identifier=name, display_name=name, metadata={"provider": "header"})

    return check_header


def _ensure_auth_secret(settings: NectoSettings) -> None:
    if not os.environ.get("CHAINLIT_AUTH_SECRET"):
        from ui.serve import auth_secret

        os.environ["CHAINLIT_AUTH_SECRET"] = auth_secret(settings.data_dir)


def install(settings: NectoSettings | None = None) -> str:
    """Register the sign-in callback (and chat history) that ``settings.auth`` asks for; returns the mode."""
    settings = settings or NectoSettings()
    if settings.auth == "none":
        return "none"
    _ensure_auth_secret(settings)
    if settings.auth == "password":
        try:
            directory = UserDirectory.from_settings(settings)
        except AccountError as exc:
            log.error("%s %s Nobody can sign in until this is fixed.", exc.message, exc.hint)
            directory = UserDirectory({})
        if not len(directory):
            log.error("NECTO_AUTH=password but no users are configured: run `necto user add NAME`.")
        cl.password_auth_callback(password_callback(directory))
    elif settings.auth == "wallet":
        from ui import wallet_login

        wallet_login.install(settings, os.environ["CHAINLIT_AUTH_SECRET"])
    else:
        if not settings.auth_proxy_secret:
            log.warning("NECTO_AUTH=header without NECTO_AUTH_PROXY_SECRET: anyone who reaches the chat "
                        "directly can name themselves in %s; keep it on 127.0.0.1 behind the proxy",
                        settings.auth_header)
        cl.header_auth_callback(header_callback(settings))
    from ui import history

    history.install(settings)
    return settings.auth


MODE = install()
