"""An async client for the Akash Console managed-wallet API (akash.md §7, data/akash/console-openapi.json).

Console holds the wallet: it builds and signs the chain transactions and bills the user's card in USD.
Necto authenticates with the ``x-api-key`` header (the OpenAPI ``ApiKeyAuth`` scheme). Every answer is
wrapped in ``{"data": ...}`` and is validated here against the documented shapes before anyone reads it.

Routes used (request -> the ``data`` of the answer):

- ``POST /v1/deployments {data: {sdl, deposit}}`` -> ``{dseq, manifest, signTx: {code, transactionHash, rawLog}}``
  (201; ``deposit`` is USD; Console picks the dseq)
- ``GET /v1/deployments/{dseq}`` -> ``{deployment, leases, escrow_account}``; ``DELETE`` -> ``{success}``
- ``GET /v1/deployments?skip=&limit=`` -> ``{deployments: [...], pagination: {total, skip, limit, hasMore}}``
- ``GET /v1/bids?dseq=`` -> ``[{bid, escrow_account}]`` (the chain's bid shape)
- ``POST /v1/leases {manifest, leases: [{dseq, gseq, oseq, provider}]}`` (no ``data`` wrapper on the request)
  -> ``{deployment, leases, escrow_account}``: creates the leases and sends the manifest, idempotent
- ``POST /v1/create-jwt-token {data: {ttl, leases}}`` -> ``{token}`` (201; a provider JWT for the wallet)
- ``GET /v1/balances`` -> ``{balance, deployments, total}`` (USD)
- ``GET /v1/user/me`` -> ``{userId, ...}``; ``GET /v1/wallets?userId=`` -> ``[{address, creditAmount, ...}]``

Timeouts come from settings; reads and the idempotent writes are retried on 5xx and timeouts, creating a
deployment never is (a retry could pay twice). The API key is a ``SecretStr`` until the header is built and
never appears in an error, a log line or ``repr``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from tools.console.errors import (
    ConsoleAuthError,
    ConsoleBadAnswer,
    ConsoleCreditExhausted,
    ConsoleError,
    ConsoleNotFound,
    ConsoleRefused,
    ConsoleUnavailable,
)
from tools.text import clean_text

log = logging.getLogger(__name__)

RETRIES = 2  # extra attempts for safe calls (reads, DELETE, the idempotent lease call, JWTs)
RETRY_DELAY_S = 0.5
MAX_MESSAGE_CHARS = 240

Uint = Annotated[int, Field(ge=0)]  # uint64 values Console prints as digit strings ("dseq": "1700000000000")


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class SignTx(_Model):
    code: int
    transaction_hash: str = Field(alias="transactionHash")
    raw_log: str = Field(default="", alias="rawLog")


class CreatedDeployment(_Model):
    dseq: Uint
    manifest: str
    sign_tx: SignTx = Field(alias="signTx")


class Coin(_Model):
    denom: str
    amount: Decimal


class DeploymentId(_Model):
    owner: str
    dseq: Uint


class DeploymentInfo(_Model):
    id: DeploymentId
    state: str
    hash: str  # base64 of the 32-byte manifest hash, as the chain REST prints it
    created_at: Uint  # a block height


class EscrowState(_Model):
    owner: str = ""
    state: str = ""
    funds: list[Coin] = []
    transferred: list[Coin] = []


class EscrowAccount(_Model):
    state: EscrowState | None = None

    @property
    def funds_uact(self) -> int:
        if self.state is None:
            return 0
        return int(sum((c.amount for c in self.state.funds if c.denom == "uact"), Decimal(0)))


class LeaseId(_Model):
    owner: str
    dseq: Uint
    gseq: Uint
    oseq: Uint
    provider: str
    bseq: Uint = 0


class ConsoleLease(_Model):
    id: LeaseId
    state: str
    price: Coin
    created_at: Uint
    closed_on: Uint = 0
    reason: str = ""


class DeploymentDetail(_Model):
    """``GET /v1/deployments/{dseq}``, an element of the list, and the answer of ``POST /v1/leases``."""

    deployment: DeploymentInfo
    leases: list[ConsoleLease] = []
    escrow_account: EscrowAccount | None = None


class Pagination(_Model):
    total: int
    skip: int
    limit: int
    has_more: bool = Field(alias="hasMore")


class DeploymentPage(_Model):
    deployments: list[DeploymentDetail]
    pagination: Pagination


class BidBody(_Model):
    id: LeaseId
    state: str
    price: Coin
    created_at: Uint


class BidEntry(_Model):
    bid: BidBody


class Balances(_Model):
    balance: Decimal  # USD the wallet can spend
    deployments: Decimal  # USD held in deployment escrows
    total: Decimal


class ConsoleUser(_Model):
    user_id: str = Field(alias="userId")


class ManagedWallet(_Model):
    address: str
    user_id: str = Field(alias="userId")
    credit_amount: Decimal = Field(default=Decimal(0), alias="creditAmount")
    denom: str = ""


class JwtToken(_Model):
    token: str


M = TypeVar("M", bound=BaseModel)


class ConsoleClient:
    """One Console API base URL and key. Use as ``async with ConsoleClient(...) as console:``."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = RETRIES,
    ) -> None:
        if not isinstance(api_key, SecretStr) or not api_key.get_secret_value():
            raise ConsoleAuthError(
                "No Akash Console API key is configured.",
                hint="Create one in Akash Console (Settings > API keys) and set NECTO_CONSOLE_API_KEY.",
            )
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._retries = retries
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            transport=transport,
            headers={"x-api-key": api_key.get_secret_value(), "accept": "application/json"},
            follow_redirects=False,  # a redirect would carry the key to wherever it points
        )

    def __repr__(self) -> str:
        return f"ConsoleClient({self.base_url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> ConsoleClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # --- the routes --------------------------------------------------------------------------------
    async def create_deployment(self, sdl: str, deposit_usd: Decimal) -> CreatedDeployment:
        payload = {"data": {"sdl": sdl, "deposit": deposit_usd}}
        data = await self._call("POST", "/v1/deployments", json_body=payload, what="create the deployment",
                                retry=False)
        return self._parse(CreatedDeployment, data, "the created deployment")

    async def deployment(self, dseq: int) -> DeploymentDetail | None:
        """The deployment with its leases and escrow; None when Console does not know it."""
        try:
            data = await self._call("GET", f"/v1/deployments/{int(dseq)}", what=f"read deployment {dseq}")
        except ConsoleNotFound:
            return None
        return self._parse(DeploymentDetail, data, f"deployment {dseq}")

    async def deployments(self, *, skip: int = 0, limit: int = 100) -> DeploymentPage:
        data = await self._call("GET", "/v1/deployments", params={"skip": skip, "limit": limit},
                                what="list the deployments")
        return self._parse(DeploymentPage, data, "the deployment list")

    async def close_deployment(self, dseq: int) -> bool:
        data = await self._call("DELETE", f"/v1/deployments/{int(dseq)}", what=f"close deployment {dseq}")
        if not isinstance(data, dict) or not isinstance(data.get("success"), bool):
            raise self._bad_answer("the close answer")
        return data["success"]

    async def bids(self, dseq: int) -> list[dict[str, Any]]:
        """Bids on the deployment as Console lists them (the chain's ``{bid, escrow_account}`` entries),
        each validated; returned as dicts because the bid ranking reads the chain's JSON shape."""
        data = await self._call("GET", "/v1/bids", params={"dseq": str(int(dseq))}, what=f"list bids on {dseq}")
        if not isinstance(data, list):
            raise self._bad_answer("the bid list")
        for entry in data:
            self._parse(BidEntry, entry, "a bid")
        return data

    async def create_leases(self, manifest: str, leases: list[dict[str, Any]]) -> DeploymentDetail:
        data = await self._call("POST", "/v1/leases", json_body={"manifest": manifest, "leases": leases},
                                what="create the lease")
        return self._parse(DeploymentDetail, data, "the lease answer")

    async def create_jwt(self, *, ttl_s: int, leases: dict[str, Any] | None = None) -> str:
        payload = {"data": {"ttl": int(ttl_s), "leases": leases or {"access": "full"}}}
        data = await self._call("POST", "/v1/create-jwt-token", json_body=payload, what="get a provider token")
        token = self._parse(JwtToken, data, "the provider token").token
        if token.count(".") != 2:
            raise self._bad_answer("the provider token")
        return token

    async def balances(self) -> Balances:
        data = await self._call("GET", "/v1/balances", what="read the balance")
        return self._parse(Balances, data, "the balance")

    async def wallet(self) -> ManagedWallet:
        """The key owner's managed wallet (its chain address owns the deployments Console creates)."""
        user = self._parse(ConsoleUser, await self._call("GET", "/v1/user/me", what="read the account"), "the account")
        data = await self._call("GET", "/v1/wallets", params={"userId": user.user_id}, what="read the wallet")
        if not isinstance(data, list):
            raise self._bad_answer("the wallet list")
        wallets = [self._parse(ManagedWallet, item, "a wallet") for item in data]
        if not wallets:
            raise ConsoleRefused(
                "This Akash Console account has no managed wallet yet.",
                hint="Open Akash Console once and start the trial or add a card; then try again.",
            )
        return wallets[0]

    # --- plumbing ----------------------------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        retry: bool = True,
    ) -> Any:
        content = None
        headers = {}
        if json_body is not None:
            content = json.dumps(json_body, default=_json_default).encode()
            headers["content-type"] = "application/json"
        attempts = 1 + (self._retries if retry else 0)
        last: ConsoleError | None = None
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(RETRY_DELAY_S * attempt)
            try:
                response = await self._client.request(method, path, params=params, content=content, headers=headers)
            except httpx.TimeoutException:
                last = ConsoleUnavailable(
                    f"Akash Console did not answer in time ({what}).",
                    hint="Try again in a minute; status.akash.network shows outages.",
                )
                continue
            except httpx.HTTPError as exc:
                # The exception text names the URL at most; never the headers.
                last = ConsoleUnavailable(
                    f"Akash Console could not be reached ({what}): {type(exc).__name__}.",
                    hint="Check NECTO_CONSOLE_API_URL and the network, then try again.",
                )
                continue
            if response.status_code >= 500:
                last = ConsoleUnavailable(
                    f"Akash Console failed with HTTP {response.status_code} ({what}): {self._message(response)}",
                    status=response.status_code,
                    hint="This is on Console's side; try again in a minute.",
                )
                continue
            return self._data(response, what)
        assert last is not None
        log.warning("console %s %s failed: %s", method, path, last.message)
        raise last

    def _data(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise ConsoleAuthError(
                f"Akash Console refused the API key ({what}, HTTP {status}).",
                status=status,
                hint="Check NECTO_CONSOLE_API_KEY (Console > Settings > API keys); nothing was created.",
            )
        if status == 402 or (400 <= status < 500 and "insufficient" in self._message(response).lower()):
            raise ConsoleCreditExhausted(
                f"Akash Console says the account has too little credit ({what}): {self._message(response)}",
                status=status,
                hint="Add credit in Akash Console (Billing), or ask for a smaller or shorter deployment.",
            )
        if status == 404:
            raise ConsoleNotFound(f"Akash Console has no such record ({what}).", status=status)
        if status >= 400:
            raise ConsoleRefused(
                f"Akash Console refused to {what} (HTTP {status}): {self._message(response)}",
                status=status,
                hint="Change the request as the message says, or try again.",
            )
        if status not in (200, 201):
            raise self._bad_answer(what, status)
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise self._bad_answer(what, status) from None
        if not isinstance(body, dict) or "data" not in body:
            raise self._bad_answer(what, status)
        return body["data"]

    def _message(self, response: httpx.Response) -> str:
        """Console's error text (``{message}`` / ``{error}``), cleaned, bounded and without the key."""
        try:
            body = json.loads(response.content)
            text = body.get("message") or body.get("error") if isinstance(body, dict) else None
        except (ValueError, UnicodeDecodeError):
            text = None
        if not isinstance(text, str):
            text = response.reason_phrase or "no message"
        return self._scrub(clean_text(text, MAX_MESSAGE_CHARS))

    def _scrub(self, text: str) -> str:
        key = self._api_key.get_secret_value()
        return text.replace(key, "[api key]") if key else text

    def _parse(self, model: type[M], data: Any, what: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError:
            raise self._bad_answer(what) from None

    @staticmethod
    def _bad_answer(what: str, status: int = 0) -> ConsoleBadAnswer:
        return ConsoleBadAnswer(
            f"Akash Console answered something Necto cannot read ({what}).",
            status=status,
            hint="Console's API may have changed; nothing further was sent. Try again later.",
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Console's ``deposit`` is a JSON number: USD with at most 6 decimals (whole uact) prints exactly.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")
