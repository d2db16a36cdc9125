"""The chat's custom elements: props built by code from service data, and the app paths that feed them.

Pure builders (ui/elements.py) are checked on their output. The Chainlit side (ui/app.py, ui/live.py) runs
against Chainlit's own test emitter (``BaseChainlitEmitter``, subclassed to record what the page would
receive) with a real ADK runner and the offline planner where a turn is needed; no browser, no model.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.errors import ProviderError
from tools.events import EventBus
from ui import elements, render

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
JOB = "job-7f3a"


def _offer(provider: str, usd: float, *, gpus: int = 1, age_s: float = 12, ttl_s: int = 300, **extra) -> dict:
    return {
        "offer_id": f"akash:{provider}",
        "provider": provider,
        "source": "akash",
        "region": "us-west",
        "gpu_model": "h100" if gpus else None,
        "gpu_count": gpus,
        "cpu": 8,
        "memory_gib": 32,
        "usd_per_hour": usd,
        "usd_total": usd * 10,
        "observed_at": (NOW - timedelta(seconds=age_s)).isoformat().replace("+00:00", "Z"),
        "ttl_s": ttl_s,
        "uptime": 0.995,
        "audited": True,
        "deployable": True,
        "estimate": False,
        **extra,
    }


# ------------------------------------------------------------------------------------- offer table
def test_offer_rows_carry_every_sort_key_source_and_age_in_rank_order():
    offers = [
        _offer("cheap", 1.2, gpus=2, age_s=12),
        _offer("fast", 2.5, age_s=400, ttl_s=300, source="lambda"),
        _offer("cpu-only", 0.05, gpus=0, age_s=3700, uptime=None),
    ]
    result = {"status": "ok", "offers": offers, "recommendation": offers[1], "offers_total": 9}

    props = elements.offer_table_props(result, now=NOW)

    assert props["sort_keys"] == ["rank", "usd_per_hour", "usd_per_gpu_hour", "provider", "source", "uptime", "age_s"]
    rows = props["rows"]
    assert [r["provider"] for r in rows] == ["cheap", "fast", "cpu-only"]  # the Markdown table's order
    for row in rows:
        assert set(props["sort_keys"]) <= row.keys()
    cheap, fast, cpu = rows
    assert cheap["usd_per_hour"] == 1.2 and cheap["usd_per_gpu_hour"] == 0.6
    assert cheap["price_text"] == "$1.20" and cheap["per_gpu_text"] == "$0.60"
    assert cheap["age_s"] == 12 and cheap["age_text"] == "12 s ago" and not cheap["stale"]
    assert cheap["source"] == "akash" and fast["source"] == "lambda"
    assert fast["stale"] and fast["age_text"] == "6 min ago"  # 400 s old with a 300 s TTL
    assert cpu["usd_per_gpu_hour"] is None and cpu["per_gpu_text"] == "—" and cpu["uptime"] is None
    assert cpu["age_text"] == "1 h ago" and cpu["resources_text"] == "8 vCPU · 32 GiB"
    assert cheap["resources_text"] == "2× h100 · 8 vCPU · 32 GiB"
    assert [r["recommended"] for r in rows] == [False, True, False]
    assert props["recommended_id"] == "akash:fast" and props["offers_total"] == 9


def test_offer_rows_match_the_markdown_fallback_and_stay_inert():
    evil = _offer(
        "\x1b[31mevil\x1b[0m <img src=x onerror=alert(1)>\u202e",
        0.5,
        notes="[click](javascript:alert(1)) \x07",
        source="<b>src</b>",
    )
    result = {"status": "ok", "offers": [evil, _offer("ok", 0.9)], "recommendation": None}

    props = elements.offer_table_props(result, now=NOW)
    markdown = render.offers_table(result)

    row = props["rows"][0]
    assert row["provider"] == "evil" and row["source"] == "src"
    assert "\x07" not in row["notes"] and "\x1b" not in str(props) and "<" not in str(props)
    # Same offers, same order, same price text as the Markdown table under the element.
    md_rows = [line for line in markdown.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(md_rows) == len(props["rows"]) == 2
    assert "$0.50" in md_rows[0] and row["price_text"] == "$0.50"
    assert props["recommended_id"] is None


def test_offer_table_without_timestamps_or_garbage_numbers_does_not_crash():
    result = {"offers": [{"provider": "x", "usd_per_hour": "NaN", "observed_at": "yesterday", "ttl_s": "?"}, "junk"]}
    (row,) = elements.offer_table_props(result, now=NOW)["rows"]
    assert row["usd_per_hour"] is None and row["age_s"] is None and row["age_text"] == "—" and not row["stale"]


# ---------------------------------------------------------------------------------- bid countdown
def _bids_event(bids: list[tuple[str, str, str]], blocks_left: int, job: str = JOB) -> dict:
    return {
        "kind": "progress",
        "job_id": job,
        "state": "bids",
        "message": f"{len(bids)} bid(s) so far.",
        "data": {
            "bids": [{"provider": p, "uact_per_block": u, "usd_per_hour": h} for p, u, h in bids],
            "blocks_left": blocks_left,
        },
    }


PROV_A = "akash1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PROV_B = "akash1bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"


def test_bid_board_counts_down_to_the_chain_deadline_and_marks_the_chosen_bid():
    board = elements.BidBoard(block_time_s=0.5, wait_blocks=8, deadline_s=120, now=100.0)
    assert not board.take({"kind": "progress", "job_id": JOB, "state": "signed", "data": {}}, now=100.0)
    assert board.take(
        {"kind": "progress", "job_id": JOB, "state": "bids", "message": "collecting bids.", "data": {}}, now=100.0
    )
    opened = board.props(now=100.0)
    assert opened["phase"] == "collecting" and opened["seconds_left"] == 4.0 and opened["window_s"] == 4.0
    assert opened["bids"] == []

    assert board.take(_bids_event([(PROV_B, "900", "0.53")], blocks_left=6), now=101.0)
    assert board.take(_bids_event([(PROV_B, "900", "0.53"), (PROV_A, "700", "0.41")], blocks_left=4), now=102.0)
    assert not board.take(_bids_event([(PROV_A, "1", "0.01")], blocks_left=1, job="job-other"), now=102.0)
    props = board.props(now=102.5)
    assert props["seconds_left"] == 1.5 and props["blocks_left"] == 4  # 4 blocks x 0.5 s from t=102
    assert [b["address"] for b in props["bids"]] == [PROV_A, PROV_B]  # cheapest first
    first = props["bids"][0]
    assert first["cheapest"] and first["uact_per_block"] == "700" and first["usd_per_hour_text"] == "$0.41/h"
    assert first["provider"] == "akash1aaaa…aaaa" and first["usd_per_month_text"] == "$299.30/month"
    assert not any(b["chosen"] for b in props["bids"])

    # "Accepting the bid of ..." then the lease: the chosen row is marked and the countdown closes.
    assert board.take({"kind": "progress", "job_id": JOB, "state": "bids", "message": "Accepting the bid of B.",
                       "data": {"provider": PROV_B, "provider_name": "provider-b"}}, now=103.0)
    assert board.take({"kind": "progress", "job_id": JOB, "state": "lease", "message": "Lease created with provider-b.",
                       "data": {"provider": PROV_B, "provider_name": "provider-b"}}, now=103.5)
    done = board.props(now=104.0)
    assert done["phase"] == "leased" and done["seconds_left"] == 0.0 and done["chosen"] == "provider-b"
    assert [b["chosen"] for b in done["bids"]] == [False, True]


def test_bid_board_names_bidders_from_the_quote_and_keeps_the_cheapest_rows():
    names = {f"akash1{i:040d}": f"provider-{i}" for i in range(12)}
    board = elements.BidBoard(block_time_s=1.0, wait_blocks=8, deadline_s=120, now=0.0, names=names)
    bids = [(f"akash1{i:040d}", f"{10 + i}.123456789000000000", str(0.01 * (i + 1))) for i in range(12)]
    board.take(_bids_event(bids, blocks_left=2), now=1.0)
    board.take({"kind": "progress", "job_id": JOB, "state": "bids", "message": "Accepting the bid of provider-11.",
                "data": {"provider": "akash1" + "11".zfill(40)}}, now=2.0)
    props = board.props(now=2.0)
    assert props["bids_total"] == 12 and len(props["bids"]) == elements.MAX_BIDS_SHOWN + 1  # + the chosen one
    assert [b["provider"] for b in props["bids"][:2]] == ["provider-0", "provider-1"]
    assert props["bids"][0]["uact_per_block"] == "10.1235" and props["bids"][-1]["chosen"]
    assert props["chosen"] == "provider-11" and "uact" not in props["bids"][0]


def test_bid_board_without_block_time_uses_the_wall_clock_bound_and_reports_failure():
    board = elements.BidBoard(block_time_s=None, wait_blocks=8, deadline_s=30, now=0.0)
    board.take(_bids_event([], blocks_left=8), now=10.0)
    assert board.props(now=15.0)["seconds_left"] == 25.0
    board.take({"kind": "progress", "job_id": JOB, "state": "failed",
                "message": "No provider bid at or under 1000 uact/block.", "data": {}}, now=41.0)
    props = board.props(now=41.0)
    assert props["phase"] == "failed" and props["message"].startswith("No provider bid")


# ------------------------------------------------------------------------------- deployment card
STATUS_VIEW = {
    "job_id": JOB,
    "state": "running",
    "workload": "nextjs",
    "network": "sandbox",
    "dseq": 4242,
    "provider": "provider-a",
    "provider_address": PROV_A,
    "uris": ["abc.ingress.provider-a.example", "javascript:alert(1)"],
    "usd_per_hour": 0.4127,
    "cost_so_far_usd": 0.021,
    "hours_running": 0.05,
    "deposit_act": 5.0,
    "escrow_left_act": 4.93,
    "escrow_hours_left": 11.9,
    "events": [{"state": "running", "message": "Running.\x1b[0m", "at": "2026-11-20T12:00:00+00:00"}],
}


def test_deployment_card_numbers_and_links_come_from_the_status_view():
    kube = [{"type": "Normal", "reason": "Pulled", "note": 'Pulled image "node:22" <script>', "object_name": "web-1",
             "service": "web"}]
    props = elements.deployment_card_props(STATUS_VIEW, kube_events=kube)

    assert props["state"] == "running" and props["tone"] == "ok" and props["can_close"]
    assert props["provider"] == "provider-a" and props["dseq"] == "4242"
    assert props["uris"] == [
        {"href": "http://abc.ingress.provider-a.example", "text": "http://abc.ingress.provider-a.example"},
        {"href": None, "text": "javascript:alert(1)"},  # shown as text, never as a link
    ]
    assert props["price_text"] == "$0.4127/h" and props["cost_text"] == "$0.021"
    assert props["escrow_text"] == "4.93 ACT" and props["escrow_hours_text"] == "about 11.9 h"
    assert props["events"][0]["message"] == "Running."
    assert props["kube_events"][0]["note"] == 'Pulled image "node:22"' and props["close_action"] == "necto_close_job"
    summary = render.deployment_summary(props)
    assert "[http://abc.ingress.provider-a.example](http://abc.ingress.provider-a.example)" in summary
    assert "](javascript" not in summary and "escrow left 4.93 ACT" in summary


def test_deployment_card_for_a_closed_job_or_garbage_fields():
    props = elements.deployment_card_props({"job_id": JOB, "state": "closed", "uris": "not-a-list",
                                            "escrow_left_act": "lots", "cost_so_far_usd": None})
    assert props["tone"] == "off" and not props["can_close"]
    assert props["escrow_text"] == "—" and props["cost_text"] == "$0.00"


# -------------------------------------------------------------------------------------- log buffer
def test_log_buffer_is_bounded_and_sanitised():
    buffer = elements.LogBuffer(limit=3)
    assert not buffer.add("not a mapping")
    for i in range(5):
        buffer.add({"service": "web", "message": f"\x1b[32mline {i}\x1b[0m <b>x</b>\r"})
    buffer.add({"service": "db\x00", "message": "y" * 5000})
    props = buffer.props(stream_id="s1", job_id=JOB, following=True, service_filter=None, services=["worker"])
    assert [line["text"] for line in props["lines"][:2]] == ["line 3 x", "line 4 x"]
    assert props["lines"][2]["service"] == "db" and len(props["lines"][2]["text"]) == elements.LOG_LINE_CHARS
    assert props["dropped"] == 3 and props["services"] == ["db", "web", "worker"] and props["action"] == "necto_logs"


# ============================================================== the Chainlit side (recording emitter)
chainlit = pytest.importorskip("chainlit")
from chainlit.context import ChainlitContext, context_var  # noqa: E402
from chainlit.emitter import BaseChainlitEmitter  # noqa: E402
from chainlit.session import HTTPSession  # noqa: E402


class RecordingEmitter(BaseChainlitEmitter):
    """Chainlit's test emitter, keeping what the page would receive."""

    def __init__(self, session: Any, ask_answer: Any = None) -> None:
        super().__init__(session)
        self.steps: list[dict] = []
        self.elements: list[dict] = []
        self.asks: list[dict] = []
        self.ask_answer = ask_answer

    async def send_step(self, step_dict):
        self.steps.append(dict(step_dict))

    async def update_step(self, step_dict):
        for i, step in enumerate(self.steps):
            if step.get("id") == step_dict.get("id"):
                self.steps[i] = dict(step_dict)
                return
        self.steps.append(dict(step_dict))

    async def send_element(self, element_dict):
        self.elements.append(dict(element_dict))

    async def send_ask_user(self, step_dict, spec, raise_on_timeout=False):
        self.asks.append(dict(step_dict))
        return self.ask_answer

    def texts(self) -> list[str]:
        return [str(s.get("output") or "") for s in self.steps if s.get("type") == "assistant_message"]

    def latest(self, name: str) -> dict:
        return [e for e in self.elements if e.get("name") == name][-1]["props"]


@pytest.fixture
def page(tmp_path, monkeypatch):
    import chainlit.config

    (tmp_path / "files").mkdir()
    monkeypatch.setattr(chainlit.config, "FILES_DIRECTORY", tmp_path / "files")

    def make(ask_answer: Any = None) -> RecordingEmitter:
        session = HTTPSession(id=f"test-{id(tmp_path)}", thread_id="thread-1", client_type="webapp")
        emitter = RecordingEmitter(session, ask_answer)
        context_var.set(ChainlitContext(session, emitter))
        return emitter

    return make


@pytest.fixture
def app(monkeypatch):
    from ui import app as module

    monkeypatch.setattr(module, "_backend", {})
    return module


def _use(app, service: Any, runner: Any = None) -> None:
    app._backend.update(service=service, runner=runner)


class ServiceDouble:
    """The slice of NectoService the live elements read, answering like the real one (see tools/service.py)."""

    def __init__(self, *, status: Any = None, log_lines: list[Any] | None = None, follow_forever: bool = False,
                 fail_logs: BaseException | None = None) -> None:
        self.events = EventBus()
        self.settings = type("Settings", (), {"bid_wait_blocks": 8, "bid_deadline_s": 120.0})()
        self.backend = self
        self._status = status if status is not None else {"status": "ok", "job": dict(STATUS_VIEW)}
        self.log_lines = log_lines if log_lines is not None else [{"service": "web", "message": "ready on :3000"}]
        self.follow_forever = follow_forever
        self.fail_logs = fail_logs
        self.log_calls: list[dict] = []
        self.status_calls = 0

    async def block_time_s(self) -> float:
        return 0.5

    async def status(self, job_id, *, owner):
        self.status_calls += 1
        if isinstance(self._status, BaseException):
            raise self._status
        return self._status

    async def lease_events(self, job_id, *, owner, limit=20):
        return [{"type": "Normal", "reason": "Started", "note": "Started container web", "object_name": "web-1",
                 "service": "web"}]

    async def stream_logs(self, job_id, *, owner, tail=50, follow=True, service=None) -> AsyncIterator[dict]:
        self.log_calls.append({"tail": tail, "follow": follow, "service": service})
        for line in self.log_lines:
            if service is None or not isinstance(line, dict) or line.get("service") == service:
                yield line
        if self.fail_logs is not None:
            raise self.fail_logs
        while follow and self.follow_forever:
            await asyncio.sleep(0.05)
            yield {"service": "web", "message": "GET / 200"}


def _state(app):
    return app.ChatState(user_id="local", session_id="s-1")


async def test_bid_countdown_is_fed_by_progress_events_next_to_the_text_lines(page, app):
    emitter = page()
    service = ServiceDouble()
    _use(app, service)
    tracker = app.ProgressTracker(service, "local")
    await tracker.start()
    publish = service.events.publish
    publish("local", {"kind": "progress", "job_id": JOB, "state": "bids", "message": "collecting bids.", "data": {}})
    publish("local", _bids_event([(PROV_A, "700", "0.41")], blocks_left=6))
    await tracker._drain(timeout=0.2, job_id=None)
    await asyncio.sleep(app.live.PUSH_INTERVAL_S)
    publish("local", _bids_event([(PROV_A, "700", "0.41"), (PROV_B, "900", "0.53")], blocks_left=3))
    await tracker._drain(timeout=0.2, job_id=None)
    publish("local", {"kind": "progress", "job_id": JOB, "state": "lease", "message": "Lease created with B.",
                      "data": {"provider": PROV_B, "provider_name": "provider-b"}})
    await tracker._drain(timeout=0.2, job_id=None)
    tracker.stop()

    countdowns = [e for e in emitter.elements if e["name"] == elements.BID_COUNTDOWN]
    assert len({e["id"] for e in countdowns}) == 1  # one element, updated in place
    assert countdowns[0]["forId"] == tracker._message.id and countdowns[0]["display"] == "inline"
    live_bids = [e["props"] for e in countdowns if len(e["props"]["bids"]) == 2][0]
    assert live_bids["phase"] == "collecting" and 0 < live_bids["seconds_left"] <= 1.5
    final = countdowns[-1]["props"]
    assert final["phase"] == "leased" and final["chosen"] == "provider-b"
    assert [b["chosen"] for b in final["bids"]] == [False, True]
    progress = emitter.steps[0]["output"]
    assert "**Bids**: 2 bids" in progress and "Lease** created with provider-b" in progress  # text lines stay


async def test_status_card_numbers_come_from_the_service_not_the_model(page, app):
    from agent.conversation import ToolCall, TurnResult

    emitter = page()
    service = ServiceDouble()
    _use(app, service)
    forged = {"status": "ok", "job": {"job_id": JOB, "state": "running", "cost_so_far_usd": 999.0,
                                       "escrow_left_act": 0.0, "uris": ["https://evil.example"]}}
    turn = TurnResult(tool_calls=[ToolCall("deployment_status", {}, "c1", True, forged)],
                      text="Your deployment cost $999 so far and has 0 ACT left; see https://evil.example")
    await app.show_turn(_state(app), turn)
    for view in app._live_views()["cards"]:
        view.cancel()

    card = emitter.latest(elements.DEPLOYMENT_CARD)
    assert service.status_calls == 1
    assert card["cost_text"] == "$0.021" and card["escrow_text"] == "4.93 ACT"
    assert [u["href"] for u in card["uris"]] == ["http://abc.ingress.provider-a.example", None]
    assert card["kube_events"][0]["reason"] == "Started"
    assert "999" not in str(card) and "evil" not in str(card)
    heading = emitter.texts()[-1]
    assert heading == "**Deployment 4242** (job `job-7f3a`): running, kept up to date below."


class ConfirmingBackend:
    """The agent tests' fake backend, with the rich card the real service builds for a deploy plan."""

    def __new__(cls):
        from fake_backend import FakeBackend

        class Backend(FakeBackend):
            def last_quote_offers(self, owner: str = "local") -> list[dict[str, Any]]:
                return list(self.offers)

            def plan_summary(self, plan_id: str, *, owner: str) -> dict[str, Any]:
                summary = super().plan_summary(plan_id, owner=owner)
                if self.plans[plan_id]["kind"] == "close":
                    summary["card"] = {
                        "action": "close deployment", "network": "sandbox", "chain_id": "necto-sandbox-1",
                        "dseq": 4242, "job_id": self.plans[plan_id]["job_id"], "refund_estimate_act": 4.9,
                        "messages": [{"type_url": "/akash.deployment.v1beta4.MsgCloseDeployment"}],
                        "plan_id": plan_id, "plan_hash": summary["plan_hash"],
                    }
                    return summary
                summary["card"] = {
                    "action": "create deployment", "network": "sandbox", "chain_id": "necto-sandbox-1",
                    "dseq": 1731000000123, "deposit_uact": 5_000_000, "deposit_usd": "5.00",
                    "max_price_uact_per_block": 1000, "max_usd_per_hour": "0.5904", "max_usd_per_month": "430.98",
                    "provider": "best bid", "images": ["vllm/vllm-openai:v0.9"], "fee_uakt_max": 200_000,
                    "plan_id": plan_id, "plan_hash": summary["plan_hash"],
                }
                return summary

        return Backend()


async def test_a_model_reply_with_fake_numbers_never_changes_the_card(page, app):
    from helpers import new_session

    from agent.conversation import run_turn

    emitter = page(ask_answer=None)  # no answer: the card expires unapproved
    backend = ConfirmingBackend()
    runner, session_id = await new_session(backend, user_id="local")
    _use(app, backend, runner)
    state = app.ChatState(user_id="local", session_id=session_id)
    await run_turn(runner, user_id="local", session_id=session_id,
                   text="cheapest A100 for 10 hours, image vllm/vllm-openai:v0.9")
    turn = await run_turn(runner, user_id="local", session_id=session_id, text="deploy it")
    assert turn.confirmation is not None
    # What a compromised or confused model might say next to the card:
    turn.text = "Confirm: deposit 0.01 ACT (≈ $0.01), max price 1 uact per block ≈ $0.0001/hour, fee 0 uakt."

    await app.show_turn(state, turn)

    expected = render.confirmation_card(backend.plan_summary(turn.confirmation.plan_id, owner="local")["card"])
    texts = emitter.texts()
    cards = [t for t in texts if t.startswith("### Confirm:")]
    assert cards == [expected]
    assert "5,000,000 uact (5 ACT)" in cards[0] and "1,000 uact per block" in cards[0]
    for fake in ("0.01 ACT", "$0.0001/hour", " 1 uact per block", "fee 0"):
        assert fake not in cards[0]
    assert turn.text in texts  # the model's words are shown as its words, not as the card
    assert len(emitter.asks) == 1 and backend.executed == []
    assert "nothing was signed" in texts[-1]


async def test_failures_reach_the_chat_as_sentences_with_a_next_step(page, app):
    from chainlit.message import Message

    class BrokenRunner:
        """An ADK runner whose model call blows up (say, a provider SDK raising with its own text)."""

        session_service = type("S", (), {})()
        app_name = "necto"

        async def run_async(self, **_kwargs):
            raise RuntimeError("KeyError: 'choices' at /srv/secret/path.py line 42")
            yield  # pragma: no cover

    emitter = page()
    app.cl.user_session.set("necto", _state(app))
    _use(app, ServiceDouble(), BrokenRunner())
    await app.on_message(Message(content="compare prices"))

    # The service raising, and a garbage answer where a status should be.
    _use(app, ServiceDouble(status=RuntimeError("psycopg.OperationalError: connection refused")))
    await app.show_deployment_card(_state(app), JOB)
    _use(app, ServiceDouble(status=ProviderError("The provider answered garbage.", hint="Try again in a minute.")))
    await app.show_deployment_card(_state(app), JOB)
    _use(app, ServiceDouble(status={"status": "ok", "job": "<html>502 Bad Gateway</html>"}))
    await app.show_deployment_card(_state(app), JOB)

    texts = emitter.texts()
    assert len(texts) == 4
    assert all(t.startswith("**Sorry.** ") for t in texts)
    assert texts[0] == render.error_text("That request failed on Necto's side.", "Try again, or rephrase it.")
    assert texts[1].endswith("Ask “status” again in a moment.")
    assert "The provider answered garbage." in texts[2] and texts[2].endswith("Try again in a minute.")
    assert "could not read that deployment's status" in texts[3]
    body = "\n".join(texts)
    for leaked in ("KeyError", "secret", "psycopg", "RuntimeError", "Traceback", "<html>", "502"):
        assert leaked not in body


async def test_an_approved_action_that_raises_does_not_claim_nothing_was_signed(app):
    text = app.failure_text(app.ApprovedActionFailed())
    assert "Nothing was signed" not in text and "status" in text


async def test_log_stream_follow_stop_and_filter_are_driven_by_actions(page, app):
    emitter = page()
    lines = [{"service": "web", "message": "ready on :3000"}, {"service": "db", "message": "\x1b[1mlistening\x1b[0m"},
             "garbage frame", {"service": "web", "message": "<script>alert(1)</script>GET /"}]
    service = ServiceDouble(log_lines=lines, follow_forever=True)
    _use(app, service)
    state = _state(app)
    await app.start_log_stream(state, JOB)
    (stream,) = app._live_views()["logs"].values()
    await asyncio.sleep(0.3)
    assert stream.following and not stream.task.done()

    async def act(op: str, **extra) -> None:
        await app.log_stream_action(app.cl.Action(name=elements.LOG_ACTION,
                                                  payload={"stream_id": stream.id, "op": op, **extra}))

    await act("stop")
    props = emitter.latest(elements.LOG_STREAM)
    assert not stream.following and stream.task is None and props["following"] is False
    assert props["note"].startswith("Stopped.")
    texts = [line["text"] for line in props["lines"]]
    assert texts[:3] == ["ready on :3000", "listening", "alert(1)GET /"]  # no ANSI, no tags, no garbage
    assert props["services"] == ["db", "web"]
    count = len(props["lines"])
    await asyncio.sleep(0.2)
    assert len(stream.buffer.lines) == count  # stopped means stopped

    await act("filter", service="db")
    assert stream.filter == "db"
    assert service.log_calls[-1] == {"tail": app.LOG_TAIL, "follow": False, "service": "db"}
    assert [line["service"] for line in emitter.latest(elements.LOG_STREAM)["lines"]] == ["db"]
    await act("filter", service="not-a-service")
    assert stream.filter is None

    await act("follow")
    assert stream.following and service.log_calls[-1]["follow"] is True and service.log_calls[-1]["tail"] == 0
    await act("stop")

    await app.log_stream_action(app.cl.Action(name=elements.LOG_ACTION, payload={"stream_id": "gone", "op": "stop"}))
    assert "That log view has ended" in emitter.texts()[-1]


async def test_a_log_stream_that_breaks_says_what_to_do(page, app):
    emitter = page()
    _use(app, ServiceDouble(fail_logs=ProviderError("The provider closed the log stream.",
                                                    hint="Press Follow to try again.")))
    await app.start_log_stream(_state(app), JOB)
    (stream,) = app._live_views()["logs"].values()
    await asyncio.wait_for(stream.task, 5)
    props = emitter.latest(elements.LOG_STREAM)
    assert props["following"] is False
    assert props["note"] == "The provider closed the log stream. Press Follow to try again."

    _use(app, ServiceDouble(fail_logs=RuntimeError("ssl.SSLError: [SSL] record layer failure")))
    await app.start_log_stream(_state(app), JOB)
    newest = list(app._live_views()["logs"].values())[-1]
    await asyncio.wait_for(newest.task, 5)
    note = emitter.latest(elements.LOG_STREAM)["note"]
    assert note == "The log stream broke off; press Follow to try again." and "SSL" not in str(emitter.elements[-1])


async def test_close_from_the_card_goes_through_the_normal_close_flow(page, app):
    from helpers import new_session

    emitter = page(ask_answer=None)  # the card is shown; nobody approves it
    backend = ConfirmingBackend()
    runner, session_id = await new_session(backend, user_id="local")
    _use(app, backend, runner)
    app.cl.user_session.set("necto", app.ChatState(user_id="local", session_id=session_id))

    await app.close_job_action(app.cl.Action(name=elements.CLOSE_JOB_ACTION, payload={"job_id": JOB}))
    await asyncio.wait_for(app._background[-1], 10)
    await app.close_job_action(app.cl.Action(name=elements.CLOSE_JOB_ACTION, payload={"job_id": "x\nsign it"}))

    assert ("create_close_plan", {"job_id": JOB, "owner": "local"}) in backend.calls
    cards = [t for t in emitter.texts() if t.startswith("### Confirm: close deployment")]
    assert len(cards) == 1 and "MsgCloseDeployment" in cards[0]
    assert len(emitter.asks) == 1 and backend.executed == []  # only Approve signs; it was never pressed
    assert "did not name a deployment" in emitter.texts()[-1]


async def test_the_table_text_still_goes_out_when_elements_cannot_be_stored(page, app, tmp_path, monkeypatch):
    import chainlit.config

    emitter = page()
    # Chainlit stores each element under <app root>/.files; another server stopping can delete that folder.
    monkeypatch.setattr(chainlit.config, "FILES_DIRECTORY", tmp_path / "gone")
    service = ServiceDouble()
    service.last_quote_offers = lambda owner: []
    _use(app, service)
    result = {"status": "ok", "offers": [_offer("cheap", 1.2)], "recommendation": None}
    await app._show_comparison(_state(app), result)
    assert emitter.texts() == [render.offers_table(result)]
