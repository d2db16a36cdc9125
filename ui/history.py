"""Chat history: Chainlit's SQLAlchemyDataLayer on tables Necto creates, and picking a chat up again.

Chainlit stores threads, steps (messages, tool steps), elements and feedback through
``chainlit.data.sql_alchemy.SQLAlchemyDataLayer`` but never creates its tables: ``apply_schema`` runs
``ui/sql/chainlit_<dialect>.sql`` (idempotent) at start-up. SQLite (``<data_dir>/chat.db``, 0600) by
default, PostgreSQL with ``NECTO_CHAT_DATABASE_URL``. Elements (the price chart) are kept in the row
itself as a ``data:`` URL by ``InlineElementStore``, so no bucket is needed.

Chainlit lists and resumes threads only for a signed-in user, so ``ui/accounts.py`` turns history on
only when NECTO_AUTH is password or header. Resuming a thread keeps its messages on the page, and
``on_chat_resume`` gives the agent a new ADK session seeded with the thread's last messages, so the user
carries on where they stopped. A confirmation card left unanswered in an old thread cannot be approved
after a resume: the user asks again and gets a fresh card.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from tools.errors import NectoError

log = logging.getLogger("necto.history")

SQL_DIR = Path(__file__).resolve().parent / "sql"
SEED_MESSAGES = 40  # the last messages of a resumed thread the agent sees again
SEED_CHARS = 4000  # per message
MAX_INLINE_ELEMENT_BYTES = 2 * 1024 * 1024
USER_THREAD_LIMIT = 200
_PG_SCHEMA_LOCK = 0x6E6563746F  # "necto": one start-up applies the DDL at a time
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


class HistoryError(NectoError):
    """The chat history database cannot be used as configured."""


# ------------------------------------------------------------------------------------------------ URLs
def _url(database_url: str) -> URL:
    try:
        url = make_url(database_url)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises ArgumentError and friends
        raise HistoryError("NECTO_CHAT_DATABASE_URL is not a database URL.",
                           hint="Use sqlite+aiosqlite:///PATH or postgresql://HOST:PORT/DB.") from exc
    if url.get_backend_name() in {"postgres"}:
        url = url.set(drivername="postgresql")
    if url.get_backend_name() not in ASYNC_DRIVERS:
        raise HistoryError(f"Chat history supports SQLite and PostgreSQL, not {url.get_backend_name()}.",
                           hint="Set NECTO_CHAT_DATABASE_URL to a sqlite or postgresql URL.")
    return url


def dialect_of(database_url: str) -> str:
    return _url(database_url).get_backend_name()


def async_url(database_url: str) -> str:
    """``database_url`` with the async driver Chainlit's data layer needs (aiosqlite, psycopg 3)."""
    url = _url(database_url)
    driver = url.get_driver_name()
    if url.get_backend_name() == "sqlite" or driver not in {"asyncpg", "psycopg"}:
        url = url.set(drivername=ASYNC_DRIVERS[url.get_backend_name()])
    return url.render_as_string(hide_password=False)


def sync_url(database_url: str) -> str:
    url = _url(database_url)
    return url.set(drivername=SYNC_DRIVERS[url.get_backend_name()]).render_as_string(hide_password=False)


def safe_url(database_url: str) -> str:
    """For logs: the URL without its password."""
    try:
        return _url(database_url).render_as_string(hide_password=True)
    except HistoryError:
        return "(unparsable URL)"


# ------------------------------------------------------------------------------------------------ schema
def ddl_statements(dialect: str) -> list[str]:
    """The statements of ``ui/sql/chainlit_<dialect>.sql`` (none of them contains a semicolon)."""
    name = {"sqlite": "chainlit_sqlite.sql", "postgresql": "chainlit_postgres.sql"}[dialect]
    lines = [line.split("--", 1)[0] for line in (SQL_DIR / name).read_text(encoding="utf-8").splitlines()]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def _prepare_sqlite_file(url: URL) -> None:
    """Create the SQLite file 0600 (chats are private) in a 0700 folder before SQLite makes it 0644."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)


def apply_schema(database_url: str) -> None:
    """Create Chainlit's tables if they are missing; applying it again changes nothing."""
    url = _url(database_url)
    dialect = url.get_backend_name()
    if dialect == "sqlite":
        _prepare_sqlite_file(url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.begin() as connection:
            if dialect == "postgresql":
                # Two processes starting at once would race on CREATE TABLE IF NOT EXISTS.
                connection.execute(text(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})"))
            for statement in ddl_statements(dialect):
                connection.execute(text(statement))
    except Exception as exc:  # noqa: BLE001 - driver errors vary; the log keeps the detail
        log.debug("applying the chat schema failed", exc_info=True)
        raise HistoryError(
            f"Necto could not prepare the chat history database ({safe_url(database_url)}): "
            f"{type(exc).__name__}.",
            hint="Check NECTO_CHAT_DATABASE_URL and that the database server is running, "
            "or set NECTO_CHAT_HISTORY=false to run without history.",
        ) from exc
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ layer
def _storage_base():
    from chainlit.data.storage_clients.base import BaseStorageClient

    return BaseStorageClient


class InlineElementStore(_storage_base()):
    """Elements kept in the database row as a ``data:`` URL (the chart is a few KB of SVG).

    ``object_key`` is left empty on purpose: Chainlit then serves the stored URL on resume and has no
    file to delete with the thread. Larger elements are stored without content (they do not come back).
    """

    async def upload_file(self, object_key: str, data: bytes | str, mime: str = "application/octet-stream",
                          overwrite: bool = True, content_disposition: str | None = None) -> dict[str, Any]:
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if len(raw) > MAX_INLINE_ELEMENT_BYTES:
            log.info("element %s not kept in the chat history: %d bytes", object_key, len(raw))
            return {"object_key": None, "url": None}
        mime = mime if "/" in (mime or "") and ";" not in mime and "," not in mime else "application/octet-stream"
        return {"object_key": None, "url": f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"}

    async def delete_file(self, object_key: str) -> bool:
        return True

    async def get_read_url(self, object_key: str) -> str:
        raise KeyError(object_key)  # never reached: no element has an object key

    async def close(self) -> None:
        return None


def build_data_layer(database_url: str):
    """Chainlit's SQLAlchemyDataLayer on ``database_url`` (tables from ``apply_schema``)."""
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    return SQLAlchemyDataLayer(
        conninfo=async_url(database_url), storage_provider=InlineElementStore(), user_thread_limit=USER_THREAD_LIMIT
    )


# ------------------------------------------------------------------------------------------------ resume
def _clean(text_value: Any) -> str:
    value = text_value if isinstance(text_value, str) else ""
    value = "".join(ch for ch in value if ch.isprintable() or ch in "\n\t")
    return value[:SEED_CHARS]


def thread_messages(thread: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``[(role, text)]`` of a thread's user and assistant messages, oldest first (the last SEED_MESSAGES).

    Tool steps are left out: their results were shown to the user, but what the agent may act on is only
    what it asks its tools again.
    """
    roles = {"user_message": "user", "assistant_message": "model"}
    messages = []
    for step in thread.get("steps") or []:
        role = roles.get(str(step.get("type")))
        content = _clean(step.get("output"))
        if role and content.strip():
            messages.append((role, content))
    return messages[-SEED_MESSAGES:]


async def seed_session(session_service: Any, *, app_name: str, user_id: str, agent_name: str,
                       thread: Mapping[str, Any]) -> str:
    """A new ADK session for ``user_id`` holding ``thread``'s messages; returns its id."""
    from google.adk.events.event import Event
    from google.genai import types

    session = await session_service.create_session(app_name=app_name, user_id=user_id)
    invocation_id = f"resume-{uuid.uuid4().hex[:12]}"
    for role, content in thread_messages(thread):
        event = Event(
            invocation_id=invocation_id,
            author="user" if role == "user" else agent_name,
            content=types.Content(role=role, parts=[types.Part(text=content)]),
        )
        await session_service.append_event(session, event)
    return session.id


class ResumedChat:
    """The chat's ADK user and session, shaped like ui/app.py's ChatState."""

    __slots__ = ("user_id", "session_id")

    def __init__(self, user_id: str, session_id: str) -> None:
        self.user_id = user_id
        self.session_id = session_id


def _chat_app() -> Any:
    """The module Chainlit loaded from ui/app.py (registered under its file path, not as ``ui.app``)."""
    from chainlit.config import config

    name = getattr(config.run, "module_name", None)
    module = sys.modules.get(name) if name else None
    if module is None:
        module = next((m for key, m in list(sys.modules.items())
                       if key.endswith(os.path.join("ui", "app.py")) and hasattr(m, "backend")), None)
    return module


async def on_chat_resume(thread: Mapping[str, Any]) -> None:
    """A thread from the sidebar: its messages stay on the page; the agent gets them back in a new session."""
    import chainlit as cl

    from ui.accounts import owner_of

    owner = owner_of(cl.user_session.get("user"))
    if thread.get("userIdentifier") != owner:
        # Chainlit checks this before calling us; a thread of someone else's never seeds a session.
        log.warning("refused to resume a thread that is not the signed-in user's")
        return
    app = _chat_app()
    backend = getattr(app, "backend", None)
    if backend is None:
        log.warning("resuming: ui/app.py has no backend(); the next message starts a fresh session")
        return
    try:
        _service, runner = await backend()
        session_id = await seed_session(
            runner.session_service, app_name=runner.app_name, user_id=owner, agent_name=runner.agent.name,
            thread=thread,
        )
    except Exception:  # the page still shows the thread; the next message starts a fresh session
        log.exception("seeding the resumed chat failed")
        return
    state_class = getattr(app, "ChatState", None) or ResumedChat
    cl.user_session.set("necto", state_class(user_id=owner, session_id=session_id))
    log.info("resumed a chat: %d earlier messages seeded", len(thread_messages(thread)))


# ------------------------------------------------------------------------------------------------ wiring
def install(settings: Any) -> bool:
    """Register the data layer and the resume handler with Chainlit; False when history stays off."""
    import chainlit as cl

    if not settings.chat_history:
        return False
    database_url = settings.effective_chat_database_url
    try:
        apply_schema(database_url)
    except HistoryError as exc:
        log.error("%s %s Chats will not be kept.", exc.message, exc.hint)
        return False

    @cl.data_layer
    def _chat_data_layer():
        return build_data_layer(database_url)

    cl.on_chat_resume(on_chat_resume)
    log.info("chat history in %s", safe_url(database_url))
    return True
