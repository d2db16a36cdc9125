"""ConsoleClient against failure answers (httpx.MockTransport) and the documented request shapes.

Each test serves what a real Console (or a broken proxy in front of it) could answer, and checks the typed
error a user sees, that retries stop where they must (never a second create), and that the API key never
appears in an error.
"""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from tools.console.client import ConsoleClient
from tools.console.errors import (
    ConsoleAuthError,
    ConsoleBadAnswer,
    ConsoleCreditExhausted,
    ConsoleRefused,
    ConsoleUnavailable,
)
from tools.errors import InsufficientFunds

KEY = "ac.sk.test.5ecret-value-never-shown"
pytestmark = pytest.mark.asyncio


def client_with(handler) -> ConsoleClient:
    return ConsoleClient("https://console.test", SecretStr(KEY), timeout_s=2, transport=httpx.MockTransport(handler),
                         retries=2)


def answering(status: int, body: object = None, *, content: bytes | None = None, seen: list | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if content is not None:
            return httpx.Response(status, content=content)
        return httpx.Response(status, json=body)

    return handler


def assert_no_key(error: Exception) -> None:
    assert KEY not in str(error) and KEY not in getattr(error, "hint", "") and KEY not in repr(error)


async def test_requests_carry_the_key_header_and_the_documented_bodies():
    seen: list[httpx.Request] = []
    created = {"data": {"dseq": "1700000000000", "manifest": "[]",
                        "signTx": {"code": 0, "transactionHash": "AB" * 32, "rawLog": ""}}}
    async with client_with(answering(201, created, seen=seen)) as console:
        answer = await console.create_deployment("version: '2.0'", Decimal("5.000364"))
    assert answer.dseq == 1_700_000_000_000 and answer.sign_tx.transaction_hash == "AB" * 32
    request = seen[0]
    assert request.method == "POST" and request.url.path == "/v1/deployments"
    assert request.headers["x-api-key"] == KEY
    body = json.loads(request.content)
    assert body == {"data": {"sdl": "version: '2.0'", "deposit": 5.000364}}  # deposit: a JSON number, in USD
    assert b'"deposit": 5.000364' in request.content

    lease_answer = {"data": {"deployment": {"id": {"owner": "akash1x", "dseq": "7"}, "state": "active",
                                            "hash": "AA==", "created_at": "5"},
                             "leases": [], "escrow_account": {"id": {"scope": "deployment", "xid": "akash1x/7"}}}}
    seen.clear()
    async with client_with(answering(200, lease_answer, seen=seen)) as console:
        await console.create_leases("[]", [{"dseq": "7", "gseq": 1, "oseq": 1, "provider": "akash1p"}])
    # POST /v1/leases is the one route whose request is not wrapped in {data: ...} (console-openapi.json).
    assert json.loads(seen[0].content) == {"manifest": "[]", "leases": [{"dseq": "7", "gseq": 1, "oseq": 1,
                                                                         "provider": "akash1p"}]}


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_is_a_clear_auth_error_without_the_key(status):
    async with client_with(answering(status, {"error": "UnauthorizedError", "message": f"bad key {KEY}"})) as console:
        with pytest.raises(ConsoleAuthError) as info:
            await console.balances()
    assert "API key" in info.value.message and "NECTO_CONSOLE_API_KEY" in info.value.hint
    assert_no_key(info.value)


async def test_a_refusal_that_echoes_the_key_is_scrubbed():
    async with client_with(answering(400, {"message": f"key {KEY} may not deploy this"})) as console:
        with pytest.raises(ConsoleRefused) as info:
            await console.close_deployment(7)
    assert "[api key]" in info.value.message
    assert_no_key(info.value)


@pytest.mark.parametrize("status, body", [
    (402, {"error": "PaymentRequiredError", "message": "Payment required"}),
    (400, {"message": "Insufficient balance"}),
])
async def test_short_credit_is_a_typed_insufficient_funds(status, body):
    async with client_with(answering(status, body)) as console:
        with pytest.raises(ConsoleCreditExhausted) as info:
            await console.create_deployment("sdl", Decimal(5))
    assert isinstance(info.value, InsufficientFunds)
    assert "credit" in info.value.message and "Billing" in info.value.hint


async def test_404_reads_as_absent():
    async with client_with(answering(404, {"error": "NotFoundError", "message": "Deployment not found"})) as console:
        assert await console.deployment(123) is None


async def test_5xx_is_retried_for_reads_but_a_create_is_sent_once():
    seen: list[httpx.Request] = []
    async with client_with(answering(503, {"message": "upstream down"}, seen=seen)) as console:
        with pytest.raises(ConsoleUnavailable) as info:
            await console.balances()
        assert len(seen) == 3 and info.value.status == 503
        seen.clear()
        with pytest.raises(ConsoleUnavailable):
            await console.create_deployment("sdl", Decimal(5))
        assert len(seen) == 1, "a retried create could pay twice"


async def test_a_timeout_is_unavailable_not_a_crash():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    async with client_with(handler) as console:
        with pytest.raises(ConsoleUnavailable) as info:
            await console.bids(7)
    assert "in time" in info.value.message
    assert_no_key(info.value)


async def test_connection_refused_is_unavailable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client_with(handler) as console:
        with pytest.raises(ConsoleUnavailable):
            await console.deployments()


@pytest.mark.parametrize("answer", [
    {"content": b"<html>502 Bad Gateway</html>"},  # not JSON (a proxy page with a 200)
    {"body": {"dseq": "1"}},  # no {data: ...} wrapper
    {"body": {"data": {"dseq": "12x", "manifest": "[]", "signTx": {"code": 0, "transactionHash": "A", "rawLog": ""}}}},
    {"body": {"data": {"dseq": "1", "manifest": "[]"}}},  # signTx missing
    {"body": {"data": []}},
    {"body": [1, 2, 3]},
])
async def test_garbage_answers_are_bad_answers(answer):
    async with client_with(answering(201, answer.get("body"), content=answer.get("content"))) as console:
        with pytest.raises(ConsoleBadAnswer) as info:
            await console.create_deployment("sdl", Decimal(5))
    assert "cannot read" in info.value.message


async def test_garbage_in_lists_and_tokens_is_refused():
    bad_bid = {"data": [{"bid": {"id": {"owner": "a"}, "state": "open"}}]}
    async with client_with(answering(200, bad_bid)) as console:
        with pytest.raises(ConsoleBadAnswer):
            await console.bids(7)
    async with client_with(answering(201, {"data": {"token": "not-a-jwt"}})) as console:
        with pytest.raises(ConsoleBadAnswer):
            await console.create_jwt(ttl_s=60)
    async with client_with(answering(200, {"data": {"balance": "lots", "deployments": 0, "total": 0}})) as console:
        with pytest.raises(ConsoleBadAnswer):
            await console.balances()


async def test_no_key_configured_is_refused_before_any_request():
    with pytest.raises(ConsoleAuthError) as info:
        ConsoleClient("https://console.test", SecretStr(""))
    assert "NECTO_CONSOLE_API_KEY" in info.value.hint


async def test_redirects_are_not_followed_with_the_key():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "https://elsewhere.test/steal"})

    async with client_with(handler) as console:
        with pytest.raises(ConsoleBadAnswer):
            await console.balances()
    assert [r.url.host for r in seen] == ["console.test"]
