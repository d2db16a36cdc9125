"""How the web chat is started, shared by ``necto serve`` and the browser test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_PATH = REPO_ROOT / "ui" / "app.py"


def repo_root() -> Path:
    """The app root Chainlit needs (CHAINLIT_APP_ROOT): chainlit.md, .chainlit/ and public/ live here."""
    return REPO_ROOT


def chainlit_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The argv that runs the chat headless (``-h``: no browser tab) on ``host:port``.

    Run it with ``chainlit_env()`` so Chainlit reads ``chainlit.md``, ``.chainlit/`` and ``public/`` from the
    repository root whatever the working directory is.
    """
    chainlit = Path(sys.executable).with_name("chainlit")
    program = [str(chainlit)] if chainlit.exists() else [sys.executable, "-m", "chainlit"]
    return [*program, "run", str(APP_PATH), "-h", "--host", host, "--port", str(int(port))]


def chainlit_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``chainlit_command``: CHAINLIT_APP_ROOT at the repo root, no .env loading by ADK."""
    env = dict(os.environ if base is None else base)
    env["CHAINLIT_APP_ROOT"] = str(REPO_ROOT)
    env.setdefault("ADK_DISABLE_LOAD_DOTENV", "1")
    return env
