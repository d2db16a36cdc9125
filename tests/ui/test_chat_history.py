"""Chat history: the shipped DDL, Chainlit's own SQLAlchemyDataLayer over it (SQLite and the PostgreSQL
server on 127.0.0.1:5432), resuming a thread into a new ADK session, and the real app signing users in
over HTTP and listing only their own threads."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import chainlit as cl
import httpx
import pytest
from chainlit.context import init_http_context
from chainlit.types import Feedback, Pagination, ThreadFilter
from chainlit.user import User
from chainlit.utils import utc_now
from google.adk.agents import LlmAgent
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.genai import types
from sqlalchemy import create_engine, inspect, text

from ui import history
from ui.serve import REPO_ROOT, chainlit_command, chainlit_env
from ui.users import hash_password

POSTGRES = "postgresql://127.0.0.1:5432/test"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>'


def _postgres_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL at {POSTGRES} is not reachable ({type(exc).__name__})"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh chat database: a SQLite file, or a schema of its own on the PostgreSQL server (dropped after),
    so parallel runs never share tables."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
        return
    reason = _postgres_reachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"necto_chat_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _schema(database_url: str) -> dict[str, object]:
    engine = create_engine(history.sync_url(database_url))
    try:
        found = inspect(engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
                sorted(i["name"] for i in found.get_indexes(table)),
                found.get_pk_constraint(table)["constrained_columns"],
            )
            for table in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ the DDL
def test_applying_the_ddl_twice_changes_nothing(database_url):
    history.apply_schema(database_url)
    first = _schema(database_url)
    assert sorted(first) == ["elements", "feedbacks", "steps", "threads", "users"]
    engine = create_engine(history.sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(text("""INSERT INTO users ("id", "identifier", "metadata", "createdAt")
                                   VALUES (:id, 'alice', '{}', 'now')"""), {"id": str(uuid.uuid4())})
    history.apply_schema(database_url)
    assert _schema(database_url) == first
    with engine.connect() as connection:
        assert connection.execute(text("SELECT identifier FROM users")).scalars().all() == ["alice"]
    engine.dispose()


def _columns(dialect: str) -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    for statement in history.ddl_statements(dialect):
        if match := re.match(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*)\)$", statement, re.S):
            tables[match[1]] = set(re.findall(r'^\s*"(\w+)"', match[2], re.M))
        elif match := re.match(r'ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS "(\w+)"', statement):
            tables[match[1]].add(match[2])
    return tables


async def test_both_ddl_files_hold_every_column_chainlit_writes():
    """create_step / create_element insert every non-empty key of to_dict() as a column: a Chainlit upgrade
    that adds a key must fail here, not silently drop messages (execute_sql only logs a warning)."""
    init_http_context()
    sqlite, postgres = _columns("sqlite"), _columns("postgresql")
    assert sqlite == postgres
    written = set(cl.Step(name="t").to_dict()) | set(cl.Message(content="m").to_dict())
    assert written <= sqlite["steps"], written - sqlite["steps"]
    element = set(cl.Image(name="i", content=b"x").to_dict())
    assert element <= sqlite["elements"], element - sqlite["elements"]


def test_bad_urls_get_a_sentence():
    with pytest.raises(history.HistoryError) as info:
        history.apply_schema("mysql://db/chat")
    assert "SQLite and PostgreSQL" in info.value.message and info.value.hint
    with pytest.raises(history.HistoryError) as info:
        history.apply_schema("postgresql://nobody:secret-pw@127.0.0.1:1/none")
    assert "secret-pw" not in info.value.message and "NECTO_CHAT_HISTORY=false" in info.value.hint


# ------------------------------------------------------------------------------------------------ round trip
async def _message(layer, thread_id: str, content: str, *, kind: str, author: str) -> str:
    message = cl.Message(content=content, author=author, type=kind)
    message.thread_id, message.created_at = thread_id, utc_now()  # as Message.send() would
    await layer.create_step(message.to_dict())
    return message.id


async def test_data_layer_round_trip_keeps_each_users_threads_apart(database_url):
    history.apply_schema(database_url)
    layer = history.build_data_layer(database_url)
    init_http_context()  # an HTTP context: steps are written at once, not queued for a first message
    try:
        alice = await layer.create_user(User(identifier="alice", metadata={"provider": "password"}))
        bob = await layer.create_user(User(identifier="bob", metadata={"provider": "password"}))
        assert alice and bob and alice.id != bob.id
        assert (await layer.get_user("alice")).metadata == {"provider": "password"}

        mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
        await layer.update_thread(mine, name="deploy my Next.js app", user_id=alice.id)
        await layer.update_thread(theirs, name="bob's chat", user_id=bob.id)
        await _message(layer, mine, "deploy my Next.js app cheaply", kind="user_message", author="alice")
        step = cl.Step(name="list_providers", type="tool")
        step.thread_id, step.input, step.output = mine, '{"workload": "nextjs"}', "12 offers"
        step.created_at = utc_now()  # set by Chainlit when a step is sent
        await layer.create_step(step.to_dict())
        answer = await _message(layer, mine, "The cheapest offer is 0.41 USD/hour.", kind="assistant_message",
                                author="Necto")
        chart = cl.Image(name="price-vs-performance.svg", content=SVG, mime="image/svg+xml", display="inline",
                         for_id=answer, thread_id=mine)
        await layer.create_element(chart)
        await layer.upsert_feedback(Feedback(forId=answer, threadId=mine, value=1, comment="clear"))
        await _message(layer, theirs, "what is running?", kind="user_message", author="bob")

        page = await layer.list_threads(Pagination(first=20), ThreadFilter(userId=alice.id))
        assert [t["id"] for t in page.data] == [mine]
        thread = page.data[0]
        assert thread["userIdentifier"] == "alice" and thread["name"] == "deploy my Next.js app"
        assert [(s["type"], s["output"]) for s in thread["steps"]] == [
            ("user_message", "deploy my Next.js app cheaply"),
            ("tool", "12 offers"),
            ("assistant_message", "The cheapest offer is 0.41 USD/hour."),
        ]
        assert thread["steps"][2]["feedback"]["value"] == 1
        [element] = thread["elements"]
        assert element["forId"] == answer and element["mime"] == "image/svg+xml"
        prefix = "data:image/svg+xml;base64,"
        assert element["url"].startswith(prefix) and base64.b64decode(element["url"][len(prefix):]) == SVG

        assert [t["id"] for t in (await layer.list_threads(Pagination(first=20), ThreadFilter(userId=bob.id))).data] == [theirs]
        assert (await layer.list_threads(Pagination(first=20), ThreadFilter(userId=bob.id, search="next.js"))).data == []
        assert await layer.get_thread_author(mine) == "alice"

        await layer.delete_thread(mine)
        assert await layer.get_thread(mine) is None
        for table, column in (("steps", "threadId"), ("elements", "threadId"), ("feedbacks", "threadId")):
            rows = await layer.execute_sql(f'SELECT COUNT(*) AS n FROM {table} WHERE "{column}" = :id', {"id": mine})
            assert rows == [{"n": 0}], table
        assert (await layer.get_thread(theirs))["steps"][0]["output"] == "what is running?"
    finally:
        await layer.close()


# ------------------------------------------------------------------------------------------------ resume
class RecordingLlm(BaseLlm):
    """Answers every turn with one line and keeps each request, to see what history the model got."""

    model: str = "recording"
    requests: list[LlmRequest] = []

    async def generate_content_async(self, llm_request: LlmRequest, stream: bool = False):
        self.requests.append(llm_request)
        yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text="Still here.")]))


def _thread(owner: str) -> dict:
    steps = [
        {"type": "user_message", "output": "compare prices for one H100 for 10 hours"},
        {"type": "tool", "name": "list_providers", "output": "TOOL OUTPUT that must not be replayed"},
        {"type": "assistant_message", "output": "Akash is cheapest at 1.90 USD/hour.\x1b[31m"},
        {"type": "run", "output": "internal"},
    ]
    return {"id": str(uuid.uuid4()), "userIdentifier": owner, "steps": steps}


def _texts(request: LlmRequest) -> list[tuple[str, str]]:
    return [(c.role, "".join(p.text or "" for p in c.parts or [])) for c in request.contents]


async def test_a_resumed_thread_seeds_a_new_session_and_new_turns_work():
    llm = RecordingLlm(requests=[])
    runner = InMemoryRunner(agent=LlmAgent(name="necto", model=llm, instruction="test"), app_name="necto")
    session_id = await history.seed_session(runner.session_service, app_name="necto", user_id="alice",
                                            agent_name="necto", thread=_thread("alice"))
    async for _event in runner.run_async(user_id="alice", session_id=session_id,
                                         new_message=types.Content(role="user", parts=[types.Part(text="and A100?")])):
        pass
    assert _texts(llm.requests[-1]) == [
        ("user", "compare prices for one H100 for 10 hours"),
        ("model", "Akash is cheapest at 1.90 USD/hour.[31m"),  # control characters stripped
        ("user", "and A100?"),
    ]


def test_only_the_last_messages_are_seeded():
    steps = [{"type": "user_message", "output": f"message {i}" + "x" * 5000} for i in range(100)]
    seeded = history.thread_messages({"steps": steps})
    assert len(seeded) == history.SEED_MESSAGES and seeded[-1][1].startswith("message 99")
    assert all(len(text_) == history.SEED_CHARS for _, text_ in seeded)


async def test_on_chat_resume_gives_the_chat_a_seeded_session_for_its_owner_only(monkeypatch):
    runner = InMemoryRunner(agent=LlmAgent(name="necto", model=RecordingLlm(requests=[])), app_name="necto")

    async def backend():
        return None, runner

    monkeypatch.setattr(history, "_chat_app", lambda: SimpleNamespace(backend=backend, ChatState=history.ResumedChat))
    init_http_context(user=User(identifier="alice"))
    await history.on_chat_resume(_thread("bob"))  # not hers (Chainlit checks too): nothing seeded
    assert cl.user_session.get("necto") is None
    await history.on_chat_resume(_thread("alice"))
    state = cl.user_session.get("necto")
    assert state.user_id == "alice"
    session = await runner.session_service.get_session(app_name="necto", user_id="alice", session_id=state.session_id)
    assert [e.author for e in session.events] == ["user", "necto"]


# ------------------------------------------------------------------------------------------------ real app
def _free_port() -> int:
    """A free port below the kernel's ephemeral range (32768-60999 on Linux), so the server's own embedded
    devnet, which binds port 0, can never take it between this check and the server's bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


async def _seed_threads(database_url: str) -> dict[str, str]:
    """One thread each for alice and bob, written before the server starts."""
    history.apply_schema(database_url)
    layer = history.build_data_layer(database_url)
    init_http_context()
    threads = {}
    try:
        for name in ("alice", "bob"):
            user = await layer.create_user(User(identifier=name, metadata={"provider": "password"}))
            threads[name] = str(uuid.uuid4())
            await layer.update_thread(threads[name], name=f"{name}'s chat", user_id=user.id)
            await _message(layer, threads[name], f"hello from {name}", kind="user_message", author=name)
    finally:
        await layer.close()
    return threads


async def _started(server: subprocess.Popen, base: str, log_path: Path) -> bool:
    """True once the chat answers; False if the server exited (the caller reads why in the log)."""
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(base_url=base, timeout=10) as probe:
        while True:
            if server.poll() is not None:
                return False
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"the chat did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
            try:
                if (await probe.get("/auth/config")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def _running_chat(tmp_path: Path, settings: dict[str, str]):
    """The real app (``chainlit run ui/app.py``, as ``necto serve``) with these NECTO_* settings."""
    data_dir = tmp_path / "necto"
    env = chainlit_env({
        **{k: v for k, v in os.environ.items() if not k.startswith(("NECTO_", "GOOGLE_", "GEMINI_", "CHAINLIT_"))},
        "NECTO_DATA_DIR": str(data_dir), "NECTO_DEVNET_BLOCK_TIME_S": "0.2", "PYTHONUNBUFFERED": "1", **settings,
    })
    log_path = tmp_path / "chainlit.log"
    for attempt in range(3):
        # The port is free when chosen, but the server's own embedded devnet may take it first: pick again.
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        with open(log_path, "wb") as log_file:
            server = subprocess.Popen(chainlit_command(port), cwd=REPO_ROOT, env=env, stdout=log_file,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        if await _started(server, base, log_path):
            break
        server.wait(timeout=15)
        if attempt == 2 or "address already in use" not in log_path.read_text(errors="replace"):
            pytest.fail(f"the chat did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
    try:
        yield SimpleNamespace(base=base, secret=env["CHAINLIT_AUTH_SECRET"], log=log_path, data_dir=data_dir)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        print(f"--- chainlit log ---\n{log_path.read_text(errors='replace')[-4000:]}")


@pytest.fixture
async def password_chat(tmp_path):
    """NECTO_AUTH=password for alice and bob, a thread each already in the chat database."""
    threads = await _seed_threads(f"sqlite+aiosqlite:///{tmp_path / 'necto' / 'chat.db'}")
    users = ",".join(f"{name}:{hash_password(name + '-passphrase', iterations=1000)}" for name in ("alice", "bob"))
    async with _running_chat(tmp_path, {"NECTO_AUTH": "password", "NECTO_AUTH_USERS": users}) as chat:
        chat.threads = threads
        yield chat


@pytest.mark.slow
async def test_the_real_app_takes_the_user_from_the_proxy_header(tmp_path):
    settings = {"NECTO_AUTH": "header", "NECTO_AUTH_HEADER": "X-Auth-Request-User",
                "NECTO_AUTH_PROXY_SECRET": "only-the-proxy-knows"}
    async with _running_chat(tmp_path, settings) as chat:
        async with httpx.AsyncClient(base_url=chat.base, timeout=10) as client:
            assert (await client.get("/auth/config")).json()["headerAuth"] is True
            direct = await client.post("/auth/header", headers={"X-Auth-Request-User": "alice"})
            assert direct.status_code == 401  # straight to the chat, without the proxy's secret
            proxied = await client.post("/auth/header", headers={"X-Auth-Request-User": "alice",
                                                                 "X-Necto-Proxy-Secret": "only-the-proxy-knows"})
            assert proxied.status_code == 200, proxied.text
            assert (await client.get("/user")).json()["identifier"] == "alice"
            listed = await client.post("/project/threads", json={"pagination": {"first": 20}, "filter": {}})
            assert listed.status_code == 200 and listed.json()["data"] == []


@pytest.mark.slow
async def test_the_real_app_signs_users_in_and_lists_only_their_threads(password_chat):
    import jwt

    chat = password_chat
    assert chat.secret == (chat.data_dir / "chainlit_auth_secret").read_text().strip()
    async with httpx.AsyncClient(base_url=chat.base, timeout=10) as probe:
        config = (await probe.get("/auth/config")).json()
        assert config["requireLogin"] is True and config["passwordAuth"] is True
        anonymous = await probe.post("/project/threads", json={"pagination": {"first": 20}, "filter": {}})
        assert anonymous.status_code == 401
        refused = await probe.post("/login", data={"username": "alice", "password": "bob-passphrase"})
        assert refused.status_code == 401 and "access_token" not in refused.cookies

    for name in ("alice", "bob"):
        async with httpx.AsyncClient(base_url=chat.base, timeout=10) as client:
            login = await client.post("/login", data={"username": name, "password": f"{name}-passphrase"})
            assert login.status_code == 200, login.text
            token = login.cookies["access_token"]
            assert jwt.decode(token, chat.secret, algorithms=["HS256"])["identifier"] == name
            assert (await client.get("/user")).json()["identifier"] == name
            # The filter a client sends is replaced by the signed-in user's id on the server.
            listed = await client.post("/project/threads", json={"pagination": {"first": 20}, "filter": {}})
            assert listed.status_code == 200, listed.text
            assert [t["id"] for t in listed.json()["data"]] == [chat.threads[name]]
            other = "bob" if name == "alice" else "alice"
            assert (await client.get(f"/project/thread/{chat.threads[other]}")).status_code in {401, 403, 404}
            assert (await client.get(f"/project/thread/{chat.threads[name]}")).status_code == 200
    assert "-passphrase" not in chat.log.read_text(errors="replace")


CHROMIUM = Path("/usr/bin/chromium")


def _send(page, text_: str) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    composer = page.locator("#chat-input")
    expect(composer).to_be_visible(timeout=60_000)
    sent = page.locator('[data-step-type="user_message"]').filter(has_text=text_)
    before = sent.count()
    for _attempt in range(5):  # a keypress right after load (or a sign-in redirect) can be lost
        try:
            if not composer.inner_text().strip():
                composer.click(timeout=5_000)
                page.keyboard.type(text_)
            page.locator("#chat-submit").click(timeout=5_000)
            expect(sent).to_have_count(before + 1, timeout=5_000)
            return
        except (AssertionError, PlaywrightError):
            continue
    expect(sent).to_have_count(before + 1, timeout=1)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
async def test_sign_in_chat_and_resume_the_thread_in_a_browser(password_chat):
    """Sign in on the login page, chat, come back to the thread from the sidebar: the earlier messages are
    there and a new turn is answered in the resumed session."""
    await asyncio.to_thread(_drive_resume, password_chat.base)
    seeded = re.search(r"resumed a chat: (\d+) earlier messages seeded", password_chat.log.read_text(errors="replace"))
    assert seeded and int(seeded[1]) >= 2  # at least the question and its answer


def _drive_resume(base: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.goto(base)
            page.locator("input").first.fill("alice")
            page.locator("input[type=password]").fill("alice-passphrase")
            page.get_by_role("button", name="Sign In").click()
            expect(page.get_by_role("button", name="Sign In")).to_have_count(0, timeout=30_000)
            _send(page, "what is running?")
            replies = page.locator('[data-step-type="assistant_message"]')
            expect(replies.filter(has_text="no jobs")).to_have_count(1, timeout=60_000)

            page.goto(base)  # a new chat; the old one waits in the sidebar
            expect(page.locator("#chat-input")).to_be_visible(timeout=60_000)
            sidebar = page.locator('a[href*="/thread/"]')
            expect(sidebar.filter(has_text="what is running?")).to_have_count(1, timeout=30_000)
            expect(sidebar.filter(has_text="bob")).to_have_count(0)  # bob's thread is not listed for alice
            sidebar.filter(has_text="what is running?").click()
            expect(page.locator('[data-step-type="user_message"]').filter(has_text="what is running?")).to_have_count(
                1, timeout=30_000)
            expect(replies.filter(has_text="no jobs")).to_have_count(1, timeout=30_000)

            _send(page, "list my jobs")
            expect(replies.filter(has_text="no jobs")).to_have_count(2, timeout=60_000)
        finally:
            browser.close()


def test_the_sql_files_ship_inside_the_ui_package():
    assert Path(history.SQL_DIR).parent == REPO_ROOT / "ui"
    assert {p.name for p in Path(history.SQL_DIR).glob("*.sql")} == {"chainlit_sqlite.sql", "chainlit_postgres.sql"}
