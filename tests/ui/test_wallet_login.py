"""Sign in to the web chat with a wallet (NECTO_AUTH=wallet, ui/wallet_login.py).

Every signature here is real: a secp256k1 key in Python (tests/wallet/wallet_double.py) signs the server's
ADR-036 challenge, and the real NectoService (on a local devnet) checks it. First the routes in-process
(refusals, the ticket cookie, the Chainlit hooks), then the real app over HTTP (``chainlit run``): sign in,
Chainlit's header sign-in swaps the ticket for its session, sign out.
"""

from __future__ import annotations

import sys
from http.cookies import SimpleCookie
from pathlib import Path
from types import SimpleNamespace

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import Response

from tools.settings import NectoSettings
from tools.wallet import signin
from tools.wallet.errors import LedgerUnsupported, SignInFailed, WalletUnavailable
from tools.wallet.signin import SignInChallenges
from ui import wallet_login
from ui.wallet_login import COOKIE, WalletTickets, check_address, owner_for, read_cookie

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "wallet"))
from wallet_double import PythonWallet, b64  # noqa: E402

CHAIN = "necto-sandbox-1"
SECRET = "a-test-secret-that-is-long-enough-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------------------ pure parts
def test_a_ticket_names_its_address_until_it_expires_and_any_change_spoils_it():
    clock, wallet = Clock(), PythonWallet()
    tickets = WalletTickets(SECRET, ttl_s=600, clock=clock)
    ticket = tickets.issue(wallet.address)
    assert tickets.address(ticket) == wallet.address
    other = PythonWallet().address
    version, address, expiry, mac = ticket.split(".")
    for forged in (f"{version}.{other}.{expiry}.{mac}",              # someone else's address
                   f"{version}.{address}.{int(expiry) + 9999}.{mac}",  # a later expiry
                   f"{version}.{address}.{expiry}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
                   f"v2.{address}.{expiry}.{mac}", ticket + ".x", "", "v1...", "ü" * 40):
        assert tickets.address(forged) is None, forged
    assert WalletTickets("another-secret-entirely-0123456789", clock=clock).address(ticket) is None
    clock.now += 600
    assert tickets.address(ticket) is None
    assert tickets.address(None) is None


def test_addresses_and_cookies():
    wallet = PythonWallet()
    assert check_address(wallet.address) == wallet.address
    for bad in (wallet.address.upper(), wallet.address[:-1] + ("q" if wallet.address[-1] != "q" else "p"),
                "cosmos1" + wallet.address[6:], "akash1", None, 42, "akash1" + "q" * 100):
        with pytest.raises(SignInFailed):
            check_address(bad)
    assert read_cookie(f'a=1; broken; {COOKIE}=v1.x.1.y; b="2"') == "v1.x.1.y"
    assert read_cookie("a=1") is None and read_cookie(None) is None
    assert owner_for(wallet.address) == "wallet:" + wallet.address


async def test_the_header_callback_maps_a_ticket_to_a_wallet_user_and_refuses_the_rest():
    wallet = PythonWallet()
    tickets = WalletTickets(SECRET)
    check = wallet_login.header_callback(tickets)
    user = await check(Headers({"cookie": f"access_token=x; {COOKIE}={tickets.issue(wallet.address)}"}))
    assert user.identifier == f"wallet:{wallet.address}" and user.metadata == {"provider": "wallet",
                                                                              "address": wallet.address}
    assert await check(Headers({})) is None
    assert await check(Headers({"cookie": f"{COOKIE}=v1.{wallet.address}.9999999999.forged"})) is None
    # A proxy-style header or a password-style name is no wallet sign-in.
    assert await check(Headers({"X-Forwarded-User": wallet.address})) is None


async def test_sign_out_deletes_the_ticket():
    response = Response()
    assert await wallet_login.on_logout(None, response) == {"success": True}
    cookie = SimpleCookie(response.headers["set-cookie"])
    assert cookie[COOKIE].value == "" and cookie[COOKIE]["max-age"] == "0" and cookie[COOKIE]["path"] == "/"


def test_challenges_stay_bounded_under_a_flood(monkeypatch):
    monkeypatch.setattr(signin, "_MAX_PENDING", 5)
    challenges = SignInChallenges(chain_id=CHAIN)
    issued = [challenges.issue(f"wallet:{i}")["nonce"] for i in range(8)]
    assert list(challenges._pending) == issued[-5:]  # the newest are kept, memory is bounded


async def test_install_in_wallet_mode_registers_the_ticket_check_sign_out_and_routes(tmp_path, monkeypatch):
    import os

    from chainlit.config import config

    from ui import accounts

    for name in ("password_auth_callback", "header_auth_callback", "on_logout", "data_layer", "on_chat_resume"):
        monkeypatch.setattr(config.code, name, None)
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    installed: list = []
    monkeypatch.setattr(wallet_login, "install_routes", lambda new_routes, app=None: installed.extend(new_routes))
    assert accounts.install(NectoSettings(data_dir=tmp_path, auth="wallet", chat_history=False)) == "wallet"
    assert config.code.password_auth_callback is None and config.code.on_logout is not None
    assert sorted((r.path, *sorted(r.methods)) for r in installed) == [
        ("/login", "GET", "HEAD"), ("/wallet-login", "GET", "HEAD"),
        ("/wallet-login/challenge", "POST"), ("/wallet-login/verify", "POST")]
    wallet = PythonWallet()
    ticket = WalletTickets(os.environ["CHAINLIT_AUTH_SECRET"]).issue(wallet.address)  # keyed from the session secret
    user = await config.code.header_auth_callback(Headers({"cookie": f"{COOKIE}={ticket}"}))
    assert user.identifier == f"wallet:{wallet.address}"


async def test_routes_go_ahead_of_chainlits_catch_all_even_inside_an_included_router():
    from fastapi import APIRouter, FastAPI
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    app, router = FastAPI(), APIRouter()

    @router.get("/{full_path:path}")
    async def index(full_path: str):
        return PlainTextResponse("chainlit page")

    app.include_router(router)

    async def mine(request):
        return PlainTextResponse("wallet page")

    wallet_login.install_routes([Route("/wallet-login", mine, methods=["GET"], name="necto_test")], app=app)
    wallet_login.install_routes([Route("/wallet-login", mine, methods=["GET"], name="necto_test")], app=app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://necto.test") as client:
        assert (await client.get("/wallet-login")).text == "wallet page"
        assert (await client.get("/other")).text == "chainlit page"
    assert sum(getattr(r, "name", None) == "necto_test" for r in app.router.routes) == 1


def test_necto_serve_on_a_public_interface_is_allowed_in_wallet_mode(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ui import cli

    started: list = []
    monkeypatch.setenv("NECTO_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(cli.os, "execvpe", lambda program, argv, env: started.append((argv, env)))
    monkeypatch.setattr(cli.os, "chdir", lambda path: None)
    monkeypatch.setenv("NECTO_AUTH", "none")
    refused = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 1 and "NECTO_AUTH=wallet" in refused.output and not started
    monkeypatch.setenv("NECTO_AUTH", "wallet")
    result = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0", "--port", "8123"])
    assert result.exit_code == 0, result.output
    [(argv, env)] = started
    assert argv[-4:] == ["--host", "0.0.0.0", "--port", "8123"] and env["CHAINLIT_AUTH_SECRET"]


# ------------------------------------------------------------------------------------------------ the routes
@pytest.fixture(scope="module")
def devnet():
    from devnet.server import start_devnet

    with start_devnet(block_time_s=0.05, providers=4, seed=11) as handle:
        yield handle


@pytest.fixture
def service(devnet, tmp_path):
    from tools.wiring import build_service

    svc = build_service(NectoSettings(data_dir=tmp_path, rest_url=devnet.rest_url,
                                      catalog_dir=tmp_path / "no-catalogs", auth="wallet"))
    yield svc
    svc.close()


@pytest.fixture
async def login(service):
    """The wallet sign-in routes over the real service, served in-process at http://necto.test."""
    tickets = WalletTickets(SECRET)
    app = Starlette(routes=wallet_login.routes(service.settings, tickets, service_provider=lambda: service))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://necto.test",
                                 headers={"Origin": "http://necto.test"}) as client:
        yield SimpleNamespace(client=client, tickets=tickets, service=service)


async def _sign_in(client: httpx.AsyncClient, wallet: PythonWallet, *, address: str | None = None,
                   signer: PythonWallet | None = None, public_key: bytes | None = None, **extra) -> httpx.Response:
    """The page's steps: ask for a challenge for ``address``, sign it (``signer``'s key), post the answer."""
    address = address or wallet.address
    challenge = (await client.post("/wallet-login/challenge", json={"address": address})).json()
    assert challenge["status"] == "ok" and challenge["nonce"] in challenge["text"], challenge
    signed = (signer or wallet).sign_arbitrary(address, challenge["text"])
    body = {"wallet": "keplr", "chainId": CHAIN, "address": address,
            "pubKey": b64(public_key or wallet.public_key), "isNanoLedger": False,
            "nonce": challenge["nonce"], "signature": signed["signature"], **extra}
    return await client.post("/wallet-login/verify", json=body)


def _ticket(response: httpx.Response) -> SimpleCookie:
    cookie = SimpleCookie(response.headers["set-cookie"])
    return cookie[COOKIE]


async def test_a_wallet_signs_in_gets_a_ticket_and_becomes_its_own_owner(login):
    wallet = PythonWallet()
    answer = await _sign_in(login.client, wallet)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok", "address": wallet.address, "user": f"wallet:{wallet.address}",
                             "note": None, "next": "/"}
    ticket = _ticket(answer)
    assert ticket["httponly"] and ticket["samesite"].lower() == "lax" and ticket["path"] == "/"
    assert not ticket["secure"]  # plain http on 127.0.0.1; https public URLs get Secure (below)
    assert int(ticket["max-age"]) == wallet_login.TICKET_TTL_S
    assert login.tickets.address(ticket.value) == wallet.address
    user = await wallet_login.header_callback(login.tickets)(Headers({"cookie": f"{COOKIE}={ticket.value}"}))
    assert user.identifier == f"wallet:{wallet.address}"

    # The signed-in wallet is the user's remembered wallet: it, not the machine's key, signs their plans.
    owner = f"wallet:{wallet.address}"
    status = await login.service.wallet_status(owner)
    assert status["connected"] and status["address"] == wallet.address and status["wallet"] == "keplr"
    assert login.service.backend_for(owner).address == wallet.address
    assert login.service.backend_for("local").address != wallet.address
    assert [a.action for a in login.service.ledger.audit_entries(owner)][-1:] == ["connect wallet"]


async def test_a_used_or_expired_nonce_is_refused(login):
    wallet = PythonWallet()
    challenge = (await login.client.post("/wallet-login/challenge", json={"address": wallet.address})).json()
    body = {"chainId": CHAIN, "address": wallet.address, "pubKey": b64(wallet.public_key), "nonce": challenge["nonce"],
            "signature": wallet.sign_arbitrary(wallet.address, challenge["text"])["signature"]}
    assert (await login.client.post("/wallet-login/verify", json=body)).status_code == 200
    again = await login.client.post("/wallet-login/verify", json=body)
    assert again.status_code == 401 and "already used" in again.json()["message"]
    assert "set-cookie" not in again.headers

    clock = Clock()
    login.service.signin = SignInChallenges(chain_id=CHAIN, ttl_s=60, clock=clock)
    challenge = (await login.client.post("/wallet-login/challenge", json={"address": wallet.address})).json()
    assert challenge["expires_at"] == int(clock.now) + 60
    clock.now += 61
    late = await login.client.post("/wallet-login/verify", json={
        **body, "nonce": challenge["nonce"], "signature": wallet.sign_arbitrary(wallet.address, challenge["text"])["signature"]})
    assert late.status_code == 401 and "expired" in late.json()["message"] and "set-cookie" not in late.headers


async def test_another_key_a_borrowed_address_or_another_chain_is_refused(login):
    wallet, other = PythonWallet(), PythonWallet()
    cases = [
        ({"signer": other}, "does not verify"),                                   # signed by another key
        ({"public_key": other.public_key, "signer": other}, "does not belong"),  # address is not the key's
        ({"chainId": "akashnet-2"}, "akashnet-2"),                               # the wallet answered for mainnet
    ]
    for options, words in cases:
        answer = await _sign_in(login.client, wallet, **options)
        assert answer.status_code in {400, 401} and words in answer.json()["message"], answer.text
        assert answer.json()["hint"] and "set-cookie" not in answer.headers
        assert not (await login.service.wallet_status(f"wallet:{wallet.address}"))["connected"]
    # A challenge issued for one address cannot sign in another, even with that address's own signature.
    challenge = (await login.client.post("/wallet-login/challenge", json={"address": wallet.address})).json()
    stolen = await login.client.post("/wallet-login/verify", json={
        "chainId": CHAIN, "address": other.address, "pubKey": b64(other.public_key), "nonce": challenge["nonce"],
        "signature": other.sign_arbitrary(other.address, challenge["text"])["signature"]})
    assert stolen.status_code == 401 and "unknown" in stolen.json()["message"]


async def test_malformed_and_cross_site_requests_get_a_sentence(login):
    client = login.client
    foreign = await client.post("/wallet-login/challenge", json={"address": PythonWallet().address},
                                headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "Necto's own page" in foreign.json()["message"]
    form = await client.post("/wallet-login/verify", data={"address": "x"})
    assert form.status_code == 415
    huge = await client.post("/wallet-login/verify", json={"pad": "x" * 20_000})
    assert huge.status_code == 413
    for body in ([], {"address": "cosmos1xyz"}, {"address": PythonWallet().address, "pubKey": "%%%"}):
        answer = await client.post("/wallet-login/verify", json=body)
        assert answer.status_code in {400, 401} and answer.json()["message"] and answer.json()["hint"], answer.text
        assert "Traceback" not in answer.text
    assert (await client.post("/wallet-login/challenge", content=b"{not json",
                              headers={"Content-Type": "application/json"})).status_code == 400


async def test_a_ledger_signs_in_but_never_signs_with_the_machines_key(login):
    wallet = PythonWallet()
    answer = await _sign_in(login.client, wallet, isNanoLedger=True)
    assert answer.status_code == 200 and "Ledger" in answer.json()["note"] and _ticket(answer).value
    owner = f"wallet:{wallet.address}"
    with pytest.raises(LedgerUnsupported):
        login.service.backend_for(owner)
    with pytest.raises(WalletUnavailable):  # a wallet user with no wallet on this chain: no fallback either
        login.service.backend_for(f"wallet:{PythonWallet().address}")


async def test_the_page_and_the_login_redirect(login):
    page = await login.client.get("/wallet-login")
    assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY"
    assert "signArbitrary" in page.text and f'"chainId": "{CHAIN}"' in page.text
    assert "experimentalSuggestChain" in page.text and "/auth/header" in page.text
    redirect = await login.client.get("/login", follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/wallet-login"


async def test_secure_cookie_when_the_public_url_is_https(service):
    tickets = WalletTickets(SECRET)
    settings = service.settings.model_copy(update={"public_url": "https://necto.example"})
    app = Starlette(routes=wallet_login.routes(settings, tickets, service_provider=lambda: service))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000",
                                 headers={"Origin": "https://necto.example"}) as client:
        answer = await _sign_in(client, PythonWallet())
    assert answer.status_code == 200 and _ticket(answer)["secure"]


# ------------------------------------------------------------------------------------------------ the real app
@pytest.mark.slow
async def test_the_real_app_signs_a_wallet_in_through_chainlits_header_sign_in(tmp_path):
    from test_chat_history import _running_chat

    wallet, other = PythonWallet(), PythonWallet()
    async with _running_chat(tmp_path, {"NECTO_AUTH": "wallet"}) as chat:
        async with httpx.AsyncClient(base_url=chat.base, timeout=30, headers={"Origin": chat.base}) as client:
            config = (await client.get("/auth/config")).json()
            assert config["requireLogin"] and config["headerAuth"] and not config["passwordAuth"]
            to_page = await client.get("/login")  # Chainlit sends signed-out browsers here
            assert to_page.status_code == 303 and to_page.headers["location"] == "/wallet-login"
            page = await client.get("/wallet-login")
            assert page.status_code == 200 and "Sign in with Keplr" in page.text
            assert (await client.post("/auth/header")).status_code == 401  # no ticket
            forged = f"v1.{wallet.address}.9999999999.AAAA"
            assert (await client.post("/auth/header", headers={"Cookie": f"{COOKIE}={forged}"})).status_code == 401
            assert (await client.post("/project/threads", json={"pagination": {"first": 5}, "filter": {}})).status_code == 401

            refused = await _sign_in(client, wallet, signer=other)
            assert refused.status_code == 401 and COOKIE not in client.cookies

            signed = await _sign_in(client, wallet)
            assert signed.status_code == 200, signed.text
            ticket = client.cookies[COOKIE]
            tampered = ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")
            assert (await client.post("/auth/header", headers={"Cookie": f"{COOKIE}={tampered}"})).status_code == 401
            login_page = await client.get("/login")  # with a ticket: Chainlit's page, which exchanges it
            assert login_page.status_code == 200 and '<div id="root">' in login_page.text

            exchanged = await client.post("/auth/header")
            assert exchanged.status_code == 200, exchanged.text
            claims = jwt.decode(client.cookies["access_token"], chat.secret, algorithms=["HS256"])
            assert claims["identifier"] == f"wallet:{wallet.address}" and claims["metadata"]["provider"] == "wallet"
            assert (await client.get("/user")).json()["identifier"] == f"wallet:{wallet.address}"
            listed = await client.post("/project/threads", json={"pagination": {"first": 5}, "filter": {}})
            assert listed.status_code == 200 and listed.json()["data"] == []

            out = await client.post("/logout")
            assert out.status_code == 200
            assert COOKIE not in client.cookies and "access_token" not in client.cookies
            assert (await client.post("/auth/header")).status_code == 401
            assert (await client.get("/login")).status_code == 303
    log = chat.log.read_text(errors="replace")
    assert f"signed in with wallet {wallet.address}" in log and "Traceback" not in log


@pytest.mark.browser
@pytest.mark.slow
async def test_sign_in_at_wallet_login_in_a_browser_and_land_in_the_chat(tmp_path):
    """Chromium with the injected test wallet: the chat sends a signed-out browser to /wallet-login; the wallet
    suggests the sandbox network, signs the challenge, and the chat opens for wallet:<address>, with this page
    as the wallet's signer. Sign-out leads back to /wallet-login."""
    import asyncio

    from test_chat_browser import CHROMIUM
    from test_chat_history import _running_chat

    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
    pytest.importorskip("playwright.sync_api")
    wallet = PythonWallet(bytes.fromhex("5a" * 32))
    async with _running_chat(tmp_path, {"NECTO_AUTH": "wallet"}) as chat:
        state = await asyncio.to_thread(_drive_wallet_sign_in, chat.base, wallet)
    assert state["suggested"] == [CHAIN]
    assert [(r["kind"], r["signer"]) for r in state["requests"]] == [("arbitrary", wallet.address)]


def _drive_wallet_sign_in(base: str, wallet: PythonWallet) -> dict:
    from playwright.sync_api import expect, sync_playwright
    from test_chat_browser import CHROMIUM, CHROMIUM_ARGS, STEP_TIMEOUT_MS
    from test_keplr_browser import install_wallet

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            install_wallet(page, wallet)
            # What the sign-in page asked of the wallet, kept across the navigation into the chat.
            page.add_init_script("""addEventListener("pagehide", () => { if (location.pathname === "/wallet-login")
                sessionStorage.setItem("necto-wallet-login", JSON.stringify(window.__nectoWallet)); });""")
            page.goto(base)
            expect(page).to_have_url(f"{base}/wallet-login", timeout=STEP_TIMEOUT_MS)
            page.locator('[data-necto="wallet-login-keplr"]').click()
            expect(page.locator("#chat-input")).to_be_visible(timeout=STEP_TIMEOUT_MS)
            assert page.url.rstrip("/") == base
            state = page.evaluate("() => JSON.parse(sessionStorage.getItem('necto-wallet-login'))")
            # The signed-in wallet is this user's signer at once: no second signature to connect it.
            expect(page.get_by_text("Signed in with your wallet")).to_be_visible(timeout=STEP_TIMEOUT_MS)
            expect(page.get_by_text(wallet.address).first).to_be_visible()
            user = page.evaluate("async () => (await (await fetch('/user')).json()).identifier")
            assert user == f"wallet:{wallet.address}"
            assert not errors, errors
            assert page.evaluate("async () => (await fetch('/logout', {method: 'POST'})).status") == 200
            page.goto(base)
            expect(page).to_have_url(f"{base}/wallet-login", timeout=STEP_TIMEOUT_MS)
            return state
        finally:
            browser.close()
