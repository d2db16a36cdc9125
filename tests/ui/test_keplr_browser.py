"""The wallet path in the real web chat: headless Chromium with an injected ``window.keplr`` that signs with a
real secp256k1 test key (Python, coincurve, through ``page.expose_function``), so every signature the server
checks and the devnet verifies is real.

Connect (the network is suggested, the sign-in is an ADR-036 signature over the server's nonce), ask for a
deploy, compare, approve, sign in "Keplr", see the URI and the logs (the provider token is an ES256KADR36
JWT from ``signArbitrary``), close (signed by the wallet too). With NECTO_UPDATE_SCREENSHOTS=1 it refreshes
docs/screenshots/5-wallet-connected.png and 6-keplr-sign.png.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import httpx
import pytest
from test_chat_browser import (  # noqa: F401  (chat_url is a fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    DEPLOY_TIMEOUT_MS,
    SCREENSHOTS,
    STEP_TIMEOUT_MS,
    chat_url,
    send,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wallet"))
from wallet_double import PythonWallet, b64  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"),
]

# The shape of Keplr's injected API (enable, experimentalSuggestChain, getKey, signDirect, signArbitrary);
# the signing itself happens in Python with a real key. signDirect waits while ``hold`` is set, so the test
# can look at (and photograph) the signing prompt first.
FAKE_KEPLR = """
(() => {
  const known = new Set(["cosmoshub-4"]);
  const state = (window.__nectoWallet = { suggested: [], requests: [], hold: true });
  const toB64 = (bytes) => { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); };
  const fromB64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const released = async () => { while (state.hold) await new Promise((r) => setTimeout(r, 100)); };
  window.keplr = {
    version: "test",
    async enable(chainId) {
      if (!known.has(chainId)) throw new Error(`There is no chain info for ${chainId}`);
    },
    async experimentalSuggestChain(info) {
      state.suggested.push(info.chainId);
      known.add(info.chainId);
    },
    async getKey(chainId) {
      const key = await window.__nectoKey();
      return { name: "necto-test", algo: "secp256k1", pubKey: fromB64(key.pubKey), bech32Address: key.address,
               isNanoLedger: false };
    },
    async signArbitrary(chainId, signer, data) {
      state.requests.push({ kind: "arbitrary", chainId, signer });
      return await window.__nectoSignArbitrary(signer, typeof data === "string" ? data : new TextDecoder().decode(data));
    },
    async signDirect(chainId, signer, doc, options) {
      state.requests.push({ kind: "direct", chainId, signer, options });
      await released();
      const answer = await window.__nectoSignDirect({
        chainId: doc.chainId, accountNumber: doc.accountNumber.toString(),
        bodyBytes: toB64(doc.bodyBytes), authInfoBytes: toB64(doc.authInfoBytes),
      });
      return {
        signed: { bodyBytes: fromB64(answer.signed.bodyBytes), authInfoBytes: fromB64(answer.signed.authInfoBytes),
                  chainId: answer.signed.chainId, accountNumber: { toString: () => answer.signed.accountNumber } },
        signature: answer.signature,
      };
    },
  };
})();
"""


def install_wallet(page, wallet: PythonWallet) -> None:
    page.expose_function("__nectoKey", lambda: {"address": wallet.address, "pubKey": b64(wallet.public_key)})
    page.expose_function("__nectoSignArbitrary", lambda signer, data: wallet.sign_arbitrary(signer, data))
    page.expose_function("__nectoSignDirect", lambda doc: wallet.sign_direct(doc))
    page.add_init_script(FAKE_KEPLR)


def wallet_state(page) -> dict:
    return page.evaluate("() => JSON.parse(JSON.stringify(window.__nectoWallet))")


def test_deploy_and_close_signed_in_keplr(chat_url: str, tmp_path: Path) -> None:  # noqa: F811
    sync_api = pytest.importorskip("playwright.sync_api")
    from playwright.sync_api import expect

    wallet = PythonWallet(bytes.fromhex("4e" * 32))  # a fixed test key: the screenshots stay stable
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            install_wallet(page, wallet)
            page.goto(chat_url)

            # A new chat shows its starters (no wallet card yet); the wallet starter opens the card.
            starter = page.get_by_text("Sign with my Keplr wallet")
            expect(starter).to_be_visible(timeout=STEP_TIMEOUT_MS)
            starter.click()
            # Connect: the devnet's chain is unknown to the wallet, so it is suggested first; then sign-in.
            card = page.locator('[data-necto="wallet"]').first
            expect(card).to_be_visible(timeout=STEP_TIMEOUT_MS)
            card.get_by_role("button", name="Connect Keplr").click()
            expect(card.locator('[data-necto="wallet-address"]')).to_have_text(wallet.address, timeout=STEP_TIMEOUT_MS)
            expect(card.locator('[data-necto="wallet-balances"]')).to_contain_text(re.compile(r"[1-9][0-9.]* ACT"))
            state = wallet_state(page)
            assert state["suggested"] == ["necto-sandbox-1"]
            assert [r["kind"] for r in state["requests"]] == ["arbitrary"]  # the sign-in
            if SCREENSHOTS is not None:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                card.scroll_into_view_if_needed()
                page.screenshot(path=str(SCREENSHOTS / "5-wallet-connected.png"), full_page=False)

            # Ask, compare, approve.
            send(page, "deploy my Next.js app cheaply")
            # (How the comparison and the card are drawn is ui/app.py's business; the card's owner being the
            # wallet is checked in tests/wallet/test_wallet_deploy.py.)
            expect(page.locator("#step-list_providers").first).to_be_visible(timeout=STEP_TIMEOUT_MS)
            approve = page.get_by_role("button", name="Approve")
            expect(approve).to_be_visible(timeout=STEP_TIMEOUT_MS)
            approve.click()

            # The wallet prompt, built by the server's code from the exact bytes.
            prompt = page.locator('[data-necto="keplr-sign"][data-kind="direct"]').first
            expect(prompt).to_be_visible(timeout=STEP_TIMEOUT_MS)
            expect(prompt).to_contain_text("Create deployment")
            expect(prompt).to_contain_text("Fee")
            if SCREENSHOTS is not None:
                prompt.scroll_into_view_if_needed()
                page.screenshot(path=str(SCREENSHOTS / "6-keplr-sign.png"), full_page=False)
            page.evaluate("() => { window.__nectoWallet.hold = false; }")

            live = page.locator("a", has_text=".ingress.").first
            expect(live).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)
            expect(page.get_by_text(re.compile(r"Showing the first|Stopped following|End of the log stream|following"))
                   .first).to_be_visible(timeout=STEP_TIMEOUT_MS)

            # Close: its own card, then the wallet signs again.
            send(page, "shut it down")
            approve = page.get_by_role("button", name="Approve")
            expect(approve).to_be_visible(timeout=STEP_TIMEOUT_MS)
            approve.click()
            expect(page.get_by_text(re.compile(r"closed; [0-9.]+ ACT refunded")).last).to_be_visible(timeout=DEPLOY_TIMEOUT_MS)

            state = wallet_state(page)
            kinds = [r["kind"] for r in state["requests"]]
            # sign-in, create deployment, create lease, provider token (manifest + logs), close deployment
            assert kinds.count("direct") == 3 and kinds.count("arbitrary") == 2, json.dumps(kinds)
            for request in state["requests"]:
                assert request["signer"] == wallet.address and request["chainId"] == "necto-sandbox-1"
                if request["kind"] == "direct":
                    assert request["options"] == {"preferNoSetFee": True, "preferNoSetMemo": True}
            body = page.locator("body").inner_text()
            assert "Traceback" not in body
            assert not errors, errors
        finally:
            browser.close()

    # On chain the deployment was the wallet's (the devnet's REST, published in the data dir).
    rest_url = json.loads((tmp_path / "necto" / "sandbox.json").read_text())["rest_url"]
    listed = httpx.get(f"{rest_url}/akash/deployment/v1beta4/deployments/list",
                       params={"filters.owner": wallet.address}, timeout=10).json()
    assert [d["deployment"]["state"] for d in listed["deployments"]] == ["closed"]
