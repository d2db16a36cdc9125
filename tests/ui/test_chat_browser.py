"""The web chat end to end: the real Chainlit app (service, agent, devnet) driven by headless Chromium.

Starts ``chainlit run ui/app.py -h`` (the command ``necto serve`` uses) on a free port with a fresh data
dir, the embedded devnet at 0.2 s blocks and no Gemini key (the offline planner answers), then types the
headline request and checks what the user sees: tool steps, the sortable comparison table, the confirmation
card, the bid countdown after Approve, the deployment card with the app's URI, the log stream (Stop), and
Close from the card. With NECTO_UPDATE_SCREENSHOTS=1 the screens go to docs/screenshots/.
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ui.serve import REPO_ROOT, chainlit_command, chainlit_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshots are refreshed only on request, so `make test` never dirties the work tree.
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots" if os.environ.get("NECTO_UPDATE_SCREENSHOTS") == "1" else None
START_TIMEOUT_S = 90
STEP_TIMEOUT_MS = 60_000
DEPLOY_TIMEOUT_MS = 150_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run does this)",
    ),
]


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


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def chat_url(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = chainlit_env()
    for name in (
        "GOOGLE_API_KEY",
        "NECTO_GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "NECTO_REST_URL",
        "NECTO_NETWORK",
    ):
        env.pop(name, None)
    # Its own app root (links to chainlit.md, .chainlit/ and public/): Chainlit keeps element files in
    # <app root>/.files and deletes that folder when it stops, so servers sharing the repo root break each other.
    app_root = tmp_path / "app"
    app_root.mkdir()
    for name in ("chainlit.md", ".chainlit", "public"):
        (app_root / name).symlink_to(REPO_ROOT / name)
    env.update(
        CHAINLIT_APP_ROOT=str(app_root),
        NECTO_DATA_DIR=str(tmp_path / "necto"),
        NECTO_DEVNET_BLOCK_TIME_S="0.2",
        ADK_DISABLE_LOAD_DOTENV="1",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "chainlit.log"
    with open(log_path, "wb") as log_file:
        server = subprocess.Popen(
            chainlit_command(port, "127.0.0.1"),
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the chat server did not start; its log:\n{log_path.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        # Keep the server's log next to the test output when something went wrong.
        print(f"--- chainlit log ({log_path}) ---\n{log_path.read_text(errors='replace')[-6000:]}")


def send(page, text: str) -> None:
    """Type a message and send it; retried once, as a keypress right after load can beat the socket."""
    from playwright.sync_api import expect

    composer = page.locator("#chat-input")
    expect(composer).to_be_visible(timeout=STEP_TIMEOUT_MS)
    sent = page.locator('[data-step-type="user_message"]').filter(has_text=text)
    before = sent.count()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(5):
        # Messages arriving at chat start (the wallet card) can re-render the composer and drop keystrokes:
        # type again whenever it is empty, and only click Send once it is enabled.
        if attempt == 0 or not composer.evaluate("n => n.value ?? n.innerText").strip():
            composer.click()
            page.keyboard.type(text)
        try:
            page.locator("#chat-submit").click(timeout=5_000)
            expect(sent).to_have_count(before + 1, timeout=5_000)
            return
        except (AssertionError, PlaywrightTimeout):
            continue
    expect(sent).to_have_count(before + 1, timeout=1)


def _offer_order(table) -> list[str]:
    return table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.offerId)")


def _providers(table) -> list[str]:
    return table.locator("tbody tr td:nth-child(2)").evaluate_all(
        "cells => cells.map(c => c.firstElementChild.textContent.trim())"
    )


def drive_deploy_chat(page, base_url: str, screenshots: Path | None = SCREENSHOTS) -> None:
    """The headline path a user takes, with the checks; shared with manual runs against other backends."""
    from playwright.sync_api import expect

    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
    page.goto(base_url)
    send(page, "deploy my Next.js app cheaply")

    # Each tool call shows as a step; the table and the card are written by code.
    # (Chainlit gives each step's header the id "step-<name>": "Used list_providers".)
    expect(page.locator("#step-list_providers").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.locator("#step-list_providers").first).to_contain_text("Used")
    for tool in ("build_sdl", "deploy"):
        expect(page.locator(f"#step-{tool}").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    card = page.locator("table").filter(has_text="Plan hash").first
    expect(card).to_be_visible(timeout=STEP_TIMEOUT_MS)
    for label in ("Network", "Deposit (escrow)", "Max price", "Provider", "Images", "Ports", "Fee cap"):
        expect(card.get_by_text(label, exact=True)).to_be_visible()
    expect(card).to_contain_text("uact per block")
    expect(card).to_contain_text("/month")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Reject")).to_be_visible()
    if screenshots is not None:
        approve.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "2-confirmation-card.png"), full_page=False)

    # Checked once the turn is over (until then new messages re-render the thread): the sortable table
    # (OfferTable.jsx). The Markdown table stays in the message text for Slack and Discord; the element
    # hides it on the page.
    table = page.locator("[data-necto='offer-table']").first
    expect(table).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(table.locator("th")).to_have_count(10)
    rows = table.locator("tbody tr")
    assert 1 <= rows.count() <= 8
    expect(table.locator("tr[data-recommended='true']")).to_have_count(1)
    expect(rows.first.locator("td[data-age]")).to_contain_text(re.compile(r"\d+ (s|min) ago"))
    expect(page.locator("[data-necto-fallback='hidden']").first).to_be_hidden()
    expect(page.get_by_text("Recommended:").first).to_be_visible()
    if screenshots is not None:
        table.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "1-comparison-table.png"), full_page=False)

    # Sorting happens in the page: a header click reorders the rows, a second click reverses them.
    by_rank = _offer_order(table)
    table.locator("th[data-sort-key='provider']").click()
    names = _providers(table)
    assert names == sorted(names, key=str.lower) or names == sorted(names), names
    expect(table.locator("th[data-sort-key='provider']")).to_have_attribute("aria-sort", "ascending")
    table.locator("th[data-sort-key='provider']").click()
    assert _providers(table) == list(reversed(names))
    if len(set(names)) > 1:
        assert _offer_order(table) != by_rank
    table.locator("th[data-sort-key='rank']").click()
    assert _offer_order(table) == by_rank

    approve.click()
    expect(page.get_by_text("Deploy progress")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    # The bid window: a countdown with the bids as they arrived, and the chosen one marked.
    countdown = page.locator("[data-necto='bid-countdown']").first
    expect(countdown).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    expect(countdown.locator("[data-countdown]")).to_be_visible()
    expect(countdown.locator("tr[data-bid]").first).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    expect(countdown.locator("tr[data-chosen='true']")).to_have_count(1, timeout=DEPLOY_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Lease created with")).first).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Manifest sent to"))).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    expect(countdown).to_have_attribute("data-phase", "leased")
    live = page.locator("a", has_text=".ingress.").first
    expect(live).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    if screenshots is not None:
        countdown.evaluate("node => node.scrollIntoView({block: 'end'})")
        page.screenshot(path=str(screenshots / "3-running-with-logs.png"), full_page=False)

    # The deployment card: state, provider, the URI as a link, cost so far and escrow left, from the service.
    deployment = page.locator("[data-necto='deployment-card']").first
    expect(deployment).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(deployment.locator("[data-field='state']")).to_have_text("running")
    expect(deployment.locator("[data-field='uris'] a", has_text=".ingress.")).to_be_visible()
    expect(deployment.locator("[data-field='escrow']")).to_contain_text("ACT")
    expect(deployment.locator("[data-field='cost']")).to_contain_text("$")
    deployment.locator("[data-action='events']").click()
    expect(deployment.locator("[data-field='events']")).to_contain_text("running")  # the job's own events
    # and the provider's Kubernetes events (the gateway's kubeevents websocket, via service.lease_events)
    expect(deployment.locator("[data-field='events']")).to_contain_text("Started container")

    # The log stream: lines arrive while it follows; Stop stops it (the server ends the stream task).
    logs = page.locator("[data-necto='log-stream']").first
    expect(logs).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(logs.locator("[data-log-line]").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(logs).to_have_attribute("data-following", "true")
    if screenshots is not None:
        deployment.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "7-deployment-card.png"), full_page=False)
    logs.locator("[data-action='stop']").click()
    expect(logs).to_have_attribute("data-following", "false", timeout=STEP_TIMEOUT_MS)
    expect(logs.locator("[data-field='note']")).to_contain_text("Stopped")
    count = logs.locator("[data-log-line]").count()
    page.wait_for_timeout(1500)
    assert logs.locator("[data-log-line]").count() == count, "lines kept arriving after Stop"
    expect(logs.locator("[data-action='follow']")).to_be_visible()
    body = page.locator("body").inner_text()
    assert "Traceback" not in body
    if screenshots is not None:
        logs.evaluate("node => node.scrollIntoView({block: 'end'})")
        page.screenshot(path=str(screenshots / "8-log-stream.png"), full_page=False)


def drive_close_chat(page) -> None:
    """Close from the deployment card: it starts the normal close flow (a code-built card, then Approve)."""
    from playwright.sync_api import expect

    deployment = page.locator("[data-necto='deployment-card']").first
    deployment.locator("[data-action='close']").click()
    expect(page.locator("#step-close_deployment").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    card = page.locator("table").filter(has_text="Plan hash").last
    expect(card).to_contain_text("MsgCloseDeployment", timeout=STEP_TIMEOUT_MS)
    expect(card).to_contain_text("Refund estimate")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible(timeout=STEP_TIMEOUT_MS)
    approve.click()
    expect(page.get_by_text(re.compile(r"refunded", re.I)).last).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    # The card follows the job's events: closed, and no Close button any more.
    expect(deployment.locator("[data-field='state']")).to_have_text("closed", timeout=STEP_TIMEOUT_MS)
    expect(deployment.locator("[data-action='close']")).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()


def drive_gpu_comparison(page, screenshots: Path | None = SCREENSHOTS) -> None:
    """A GPU comparison: the table and, under it, the price-versus-performance chart drawn by code."""
    from playwright.sync_api import expect

    send(page, "compare GPU prices for 10 hours")
    table = page.locator("[data-necto='offer-table']").last
    expect(table).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(table.locator("tbody tr").first).to_contain_text("×")  # GPU offers: "1× h100 · ..."
    chart = page.locator("img[src*='price-vs-performance'], img[alt*='price-vs-performance']").last
    expect(chart).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert chart.evaluate("img => img.naturalWidth") > 0, "the chart image did not load"
    # $/GPU-h sorts numerically, cheapest per GPU first.
    table.locator("th[data-sort-key='usd_per_gpu_hour']").click()
    per_gpu = table.locator("tbody tr td:nth-child(7)").all_inner_texts()
    values = [float(re.sub(r"[^0-9.]", "", v)) for v in per_gpu if "$" in v]
    assert values == sorted(values), per_gpu
    if screenshots is not None:
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "4-price-vs-performance.png"), full_page=False)


def test_deploy_and_close_from_the_chat(chat_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            drive_deploy_chat(page, chat_url)
            drive_close_chat(page)
            drive_gpu_comparison(page)
            assert not errors, errors
        finally:
            browser.close()


# Manual use: drive an already running chat, e.g. `python tests/ui/test_chat_browser.py http://127.0.0.1:8000`.
if __name__ == "__main__":
    import sys

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1200})
        out = Path(os.environ.get("SCREENSHOTS_DIR", str(SCREENSHOTS)))
        drive_deploy_chat(page, sys.argv[1], out)
        browser.close()
        print("ok")
