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
    """The environment for ``chainlit_command``: CHAINLIT_APP_ROOT at the repo root, no .env loading by ADK,
    and, when sign-in is on (NECTO_AUTH), the CHAINLIT_AUTH_SECRET that signs session tokens."""
    env = dict(os.environ if base is None else base)
    env["CHAINLIT_APP_ROOT"] = str(REPO_ROOT)
    env.setdefault("ADK_DISABLE_LOAD_DOTENV", "1")
    if not env.get("CHAINLIT_AUTH_SECRET") and env.get("NECTO_AUTH", "none").strip().lower() != "none":
        env["CHAINLIT_AUTH_SECRET"] = auth_secret(_data_dir(env))
    return env


def _data_dir(env: dict[str, str]) -> Path:
    """The data dir the chat process will use (its NECTO_DATA_DIR, else the settings' default)."""
    from tools.settings import NectoSettings

    if env.get("NECTO_DATA_DIR"):
        return Path(env["NECTO_DATA_DIR"])
    return NectoSettings.model_fields["data_dir"].get_default(call_default_factory=True)


AUTH_SECRET_FILE = "chainlit_auth_secret"


def auth_secret(data_dir: Path) -> str:
    """The secret that signs the chat's session tokens: ``<data_dir>/chainlit_auth_secret`` (0600), made
    on first use. Deleting the file signs everyone out at the next start."""
    import secrets

    path = Path(data_dir) / AUTH_SECRET_FILE
    for _attempt in range(3):
        try:
            secret = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            secret = None
        if secret is not None and len(secret) >= 32:
            return secret
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = secrets.token_urlsafe(48)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(fresh + "\n")
        try:
            if secret is None:
                os.link(temporary, path)  # two processes starting at once: the first one's secret wins
            else:
                os.replace(temporary, path)  # a damaged file: replace it
                return fresh
        except FileExistsError:
            continue
        finally:
            temporary.unlink(missing_ok=True)
        return fresh
    raise RuntimeError(f"could not create {path}")
