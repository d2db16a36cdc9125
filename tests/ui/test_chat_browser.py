"""The web chat end to end: the real Chainlit app (service, agent, devnet) driven by headless Chromium.

Starts ``chainlit run ui/app.py -h`` (the command ``necto serve`` uses) on a free port with a fresh data
dir, the embedded devnet at 0.2 s blocks and no Gemini key (the offline planner answers), then types the
headline request and checks what the user sees: tool steps, the comparison table, the confirmation card,
progress after Approve, the app's URI and its logs. Screenshots of the three main screens go to
docs/screenshots/.
"""

from __future__ import annotations

import os
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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    env.update(
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
    for attempt in range(3):
        if attempt == 0 or not composer.inner_text().strip():
            composer.click()
            page.keyboard.type(text)
        page.locator("#chat-submit").click()
        try:
            expect(sent).to_have_count(before + 1, timeout=5_000)
            return
        except AssertionError:
            continue
    expect(sent).to_have_count(before + 1, timeout=1)


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
    table = page.locator("table").filter(has_text="$/hour").first
    expect(table).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(table.locator("th")).to_have_count(12)
    assert 1 <= table.locator("tbody tr").count() <= 8
    expect(page.get_by_text("Recommended:").first).to_be_visible()
    if screenshots is not None:
        table.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "1-comparison-table.png"), full_page=False)

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

    approve.click()
    expect(page.get_by_text("Deploy progress")).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Lease created with"))).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    expect(page.get_by_text(re.compile(r"Manifest sent to"))).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    live = page.locator("a", has_text=".ingress.").first
    expect(live).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)

    logs = page.locator("pre").filter(has_text="[").last
    expect(logs).to_be_visible(timeout=STEP_TIMEOUT_MS)
    expect(
        page.get_by_text(re.compile(r"Showing the first|Stopped following|End of the log stream"))
    ).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert "(no log lines yet)" not in logs.inner_text()
    body = page.locator("body").inner_text()
    assert "Traceback" not in body
    if screenshots is not None:
        # The log block's bottom at the bottom of the window: progress, the live URI and the logs in one shot.
        logs.evaluate("node => node.scrollIntoView({block: 'end'})")
        page.screenshot(path=str(screenshots / "3-running-with-logs.png"), full_page=False)


def drive_close_chat(page) -> None:
    """Closing signs too: it gets its own code-built card, and only Approve closes and refunds."""
    from playwright.sync_api import expect

    send(page, "shut it down")
    expect(page.locator("#step-close_deployment").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
    card = page.locator("table").filter(has_text="Plan hash").last
    expect(card).to_contain_text("MsgCloseDeployment", timeout=STEP_TIMEOUT_MS)
    expect(card).to_contain_text("Refund estimate")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_visible(timeout=STEP_TIMEOUT_MS)
    approve.click()
    expect(page.get_by_text(re.compile(r"refunded", re.I)).last).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
    assert "Traceback" not in page.locator("body").inner_text()


def drive_gpu_comparison(page, screenshots: Path | None = SCREENSHOTS) -> None:
    """A GPU comparison: the table and, under it, the price-versus-performance chart drawn by code."""
    from playwright.sync_api import expect

    send(page, "compare GPU prices for 10 hours")
    table = page.locator("table").filter(has_text="$/PFLOP-h").last
    expect(table).to_be_visible(timeout=STEP_TIMEOUT_MS)
    chart = page.locator("img[src*='price-vs-performance'], img[alt*='price-vs-performance']").last
    expect(chart).to_be_visible(timeout=STEP_TIMEOUT_MS)
    assert chart.evaluate("img => img.naturalWidth") > 0, "the chart image did not load"
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
