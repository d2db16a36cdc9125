"""The devnet's Akash Console managed-wallet API: the routes Necto's Console rail uses (tools/console/).

Served beside the Console indexer fakes (``/v1/providers``, ``/v1/gpu-prices``) at the devnet's Console
base URL (= its REST URL). Shapes follow ../shared/data/akash/console-openapi.json: every answer is
``{"data": ...}``; errors are ``{"error": <name>, "message": <sentence>}`` with 400 / 401 / 402 / 404 / 502.

Each API key is a Console account with a USD credit balance and a managed wallet: a secp256k1 key the devnet
holds (derived from the devnet seed and the key's index), whose ``akash1...`` address owns the deployments.
Everything that touches the chain is a real signed transaction through this devnet's own chain (CheckTx,
mempool, inclusion), so bids, leases, escrow payments and refunds are the chain's:

- ``POST /v1/deployments {data: {sdl, deposit}}``: compiles the SDL (Necto's compiler stands in for
  chain-sdk's), debits ``deposit`` USD from the credit, funds the wallet with that much uact (Console's grant)
  and uakt for gas, signs ``MsgCreateDeployment`` with dseq = its clock in ms, waits for inclusion;
  -> 201 ``{dseq, manifest, signTx: {code, transactionHash, rawLog}}``; 402 when the credit is short.
- ``GET /v1/deployments/{dseq}`` -> ``{deployment, leases: [lease + status: null], escrow_account}``;
  ``GET /v1/deployments?skip=&limit=`` -> ``{deployments, pagination: {total, skip, limit, hasMore}}``.
- ``DELETE /v1/deployments/{dseq}``: signs ``MsgCloseDeployment``; the refund the chain pays the wallet goes
  back to the credit -> ``{success: true}``.
- ``GET /v1/bids?dseq=`` -> the chain's bids on the wallet's deployment.
- ``POST /v1/leases {manifest, leases: [{dseq, gseq, oseq, provider}]}``: checks sha256 of the manifest
  (Go-encoded) against the deployment's on-chain hash, signs ``MsgCreateLease`` for each open bid not yet
  leased (idempotent), then PUTs the manifest to each provider with the wallet's JWT
  -> ``{deployment, leases, escrow_account}``.
- ``POST /v1/create-jwt-token {data: {ttl, leases}}`` -> 201 ``{token}``: an ES256K provider JWT issued by
  the wallet (the devnet providers check it against the wallet's on-chain key).
- ``GET /v1/balances`` -> ``{balance, deployments, total}`` (USD); ``GET /v1/user/me`` -> ``{id, userId,
  ...}``; ``GET /v1/wallets?userId=`` -> ``[{id, userId, creditAmount, address, denom, isTrialing, ...}]``.

The sandbox key is ``SANDBOX_CONSOLE_API_KEY`` with $100 of credit. Tests reach the state with
``console_state(chain)`` (add accounts, or ``rewrite_sdl`` to play a Console that deploys something else).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

import coincurve
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devnet import txdecode
from devnet.chain import Chain, Deployment
from devnet.providers import ProviderFleet

__all__ = ["SANDBOX_CONSOLE_API_KEY", "ConsoleState", "console_routes", "console_state"]

log = logging.getLogger(__name__)

SANDBOX_CONSOLE_API_KEY = "ac.sk.sandbox.necto-devnet"
SANDBOX_CREDIT_USD = Decimal(100)
MICRO = Decimal(1_000_000)
MIN_DEPOSIT_UUSD = 500_000  # the chain's minimum deposit (0.5 ACT), in USD as Console bills it
GAS_LIMIT = 400_000
GAS_TOP_UP_UAKT = 5_000_000  # Console pays gas: the wallet is topped up when it runs low
INCLUSION_TIMEOUT_S = 30.0
MAX_SDL_CHARS = 100_000
MAX_JWT_TTL_S = 3600


def _error(status: int, name: str, message: str) -> JSONResponse:
    return JSONResponse({"error": name, "message": message}, status_code=status)


def _uusd_json(amount: int) -> float:
    # USD as a JSON number (Console's schema); 6 decimals print exactly.
    return float(Decimal(amount) / MICRO)


@dataclass
class ConsoleAccount:
    """One API key's Console account: a user, its USD credit (micro-USD) and its managed wallet key."""

    api_key: str
    user_id: str
    key: coincurve.PrivateKey = field(repr=False)
    address: str
    credit_uusd: int
    created_at: str
    lock: asyncio.Lock | None = field(default=None, repr=False)

    def tx_lock(self) -> asyncio.Lock:
        # Created lazily inside the devnet's event loop; one tx at a time keeps the sequence right.
        if self.lock is None:
            self.lock = asyncio.Lock()
        return self.lock


class ConsoleState:
    """Accounts by API key, plus the knobs tests use. One per chain (see ``console_state``)."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.accounts: dict[str, ConsoleAccount] = {}
        self.rewrite_sdl: Callable[[str], str] | None = None
        self._last_dseq = 0
        self.add_account(SANDBOX_CONSOLE_API_KEY, credit_usd=SANDBOX_CREDIT_USD)

    def add_account(self, api_key: str, *, credit_usd: Decimal | int | str) -> ConsoleAccount:
        index = len(self.accounts)
        secret = hashlib.sha256(f"necto-devnet-console/{self.chain.seed}/{index}".encode()).digest()
        key = coincurve.PrivateKey(secret)
        address = txdecode.address_from_pubkey(key.public_key.format(compressed=True))
        user_id = _uuid_from(secret)
        account = ConsoleAccount(
            api_key=api_key, user_id=user_id, key=key, address=address,
            credit_uusd=int(Decimal(str(credit_usd)) * MICRO),
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        )
        self.accounts[api_key] = account
        self.chain.ensure_account(address)
        return account

    def next_dseq(self) -> int:
        # Console's convention: the dseq is its clock in milliseconds (unique per wallet).
        self._last_dseq = max(self._last_dseq + 1, int(time.time() * 1000))
        return self._last_dseq


_STATES: weakref.WeakKeyDictionary[Chain, ConsoleState] = weakref.WeakKeyDictionary()


def console_state(chain: Chain) -> ConsoleState:
    """The Console accounts of this devnet chain (created on first use)."""
    with chain.lock:
        state = _STATES.get(chain)
        if state is None:
            state = _STATES[chain] = ConsoleState(chain)
        return state


def _uuid_from(secret: bytes) -> str:
    h = hashlib.sha256(b"user/" + secret).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


class _Refused(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.response = _error(status, name, message)


def console_routes(chain: Chain, fleet: ProviderFleet | None = None) -> list[Route]:
    """The managed-wallet routes, to mount at the Console base URL."""
    state = console_state(chain)

    def account_of(request: Request) -> ConsoleAccount:
        account = state.accounts.get(request.headers.get("x-api-key") or "")
        if account is None:
            raise _Refused(401, "UnauthorizedError", "Invalid or missing API key")
        return account

    async def json_body(request: Request) -> dict:
        try:
            body = json.loads(await request.body() or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise _Refused(400, "BadRequestError", "Request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _Refused(400, "BadRequestError", "Request body must be a JSON object")
        return body

    def dseq_of(text: Any) -> int:
        if not isinstance(text, str) or not text.isdigit() or not 0 < int(text) < 2**64:
            raise _Refused(400, "BadRequestError", "dseq must be a string of digits")
        return int(text)

    def owned_deployment(account: ConsoleAccount, dseq: int) -> Deployment:
        with chain.lock:
            deployment = chain.deployments.get((account.address, dseq))
        if deployment is None:
            raise _Refused(404, "NotFoundError", "Deployment not found")
        return deployment

    def detail_json(deployment: Deployment) -> dict:
        with chain.lock:
            base = chain.deployment_json(deployment)
            leases = [
                {**chain.lease_json(lease)["lease"], "status": None}
                for lease in chain.leases.values()
                if lease.owner == deployment.owner and lease.dseq == deployment.dseq
            ]
        return {"deployment": base["deployment"], "leases": leases, "escrow_account": base["escrow_account"]}

    async def send_tx(account: ConsoleAccount, messages: list[Any]) -> tuple[int, str, str]:
        """Sign and broadcast with the managed wallet; wait for inclusion -> (code, tx hash, raw log)."""
        from tools.akash.signer import assemble_tx_raw, build_sign_doc
        from tools.akash.tx import build_auth_info, build_tx_body

        async with account.tx_lock():
            if chain.balance(account.address, "uakt") < GAS_TOP_UP_UAKT // 5:
                chain.credit(account.address, "uakt", GAS_TOP_UP_UAKT)
            on_chain = chain.ensure_account(account.address)
            body = build_tx_body(messages)
            auth = build_auth_info(account.key.public_key.format(compressed=True), on_chain.sequence, GAS_LIMIT,
                                   Chain.required_fee(GAS_LIMIT))
            sign_doc = build_sign_doc(body, auth, chain.chain_id, on_chain.account_number)
            signature = account.key.sign_recoverable(sign_doc, hasher=lambda m: hashlib.sha256(m).digest())[:64]
            answer = chain.broadcast(assemble_tx_raw(body, auth, signature))
            if answer["code"] != 0:
                return answer["code"], answer["txhash"], answer["raw_log"]
            deadline = time.monotonic() + INCLUSION_TIMEOUT_S
            while time.monotonic() < deadline:
                record = chain.get_tx(answer["txhash"])
                if record is not None:
                    return record.code, record.txhash, record.raw_log
                await asyncio.sleep(max(0.01, chain.block_time_s / 4))
        raise _Refused(502, "TransactionTimeoutError", "The transaction was not included in time")

    def sweep_uact(account: ConsoleAccount) -> int:
        """Move the wallet's uact back to the USD credit (a refund, or a deposit whose tx failed)."""
        with chain.lock:
            amount = chain.balance(account.address, "uact")
            if amount > 0:
                chain.credit(account.address, "uact", -amount)
                account.credit_uusd += amount
        return amount

    # ---------------------------------------------------------------------------------- deployments
    async def create_deployment(request: Request, account: ConsoleAccount) -> JSONResponse:
        from tools.akash.messages import msg_create_deployment
        from tools.errors import NectoError
        from tools.sdl.compiler import compile_sdl

        data = (await json_body(request)).get("data")
        if not isinstance(data, dict) or not isinstance(data.get("sdl"), str) or not data["sdl"].strip():
            raise _Refused(400, "BadRequestError", "data.sdl is required")
        if len(data["sdl"]) > MAX_SDL_CHARS:
            raise _Refused(400, "BadRequestError", "data.sdl is too long")
        try:
            deposit = int((Decimal(str(data.get("deposit"))) * MICRO).to_integral_value(rounding=ROUND_DOWN))
        except (InvalidOperation, ValueError):
            raise _Refused(400, "BadRequestError", "data.deposit must be a number of dollars") from None
        if deposit < MIN_DEPOSIT_UUSD:
            raise _Refused(400, "BadRequestError", "Deposit must be at least $0.50")
        sdl = state.rewrite_sdl(data["sdl"]) if state.rewrite_sdl else data["sdl"]
        try:
            compiled = compile_sdl(sdl)
        except NectoError as exc:
            raise _Refused(400, "BadRequestError", f"Invalid SDL: {exc.message}") from None
        with chain.lock:
            if account.credit_uusd < deposit:
                raise _Refused(402, "PaymentRequiredError", "Insufficient balance")
            account.credit_uusd -= deposit
            chain.credit(account.address, "uact", deposit)  # Console's grant funds the escrow deposit
        dseq = state.next_dseq()
        message = msg_create_deployment(account.address, dseq, compiled.groups, compiled.manifest_hash, deposit)
        try:
            code, tx_hash, raw_log = await send_tx(account, [message])
        except BaseException:
            sweep_uact(account)
            raise
        if code != 0:
            sweep_uact(account)
            raise _Refused(400, "BadRequestError", f"Transaction failed: {raw_log}")
        return JSONResponse(
            {"data": {"dseq": str(dseq), "manifest": compiled.manifest_json.decode(),
                      "signTx": {"code": code, "transactionHash": tx_hash, "rawLog": raw_log}}},
            status_code=201,
        )

    async def list_deployments(request: Request, account: ConsoleAccount) -> JSONResponse:
        try:
            skip = int(request.query_params.get("skip") or 0)
            limit = int(request.query_params.get("limit") or 1000)
        except ValueError:
            raise _Refused(400, "BadRequestError", "skip and limit must be numbers") from None
        if skip < 0 or limit < 1:
            raise _Refused(400, "BadRequestError", "skip must be >= 0 and limit >= 1")
        with chain.lock:
            mine = sorted((d for (owner, _), d in chain.deployments.items() if owner == account.address),
                          key=lambda d: d.dseq, reverse=True)
        page = [detail_json(d) for d in mine[skip : skip + limit]]
        return JSONResponse({"data": {"deployments": page, "pagination": {
            "total": len(mine), "skip": skip, "limit": limit, "hasMore": skip + limit < len(mine)}}})

    async def deployments(request: Request) -> JSONResponse:
        account = account_of(request)
        if request.method == "POST":
            return await create_deployment(request, account)
        return await list_deployments(request, account)

    async def deployment(request: Request) -> JSONResponse:
        from tools.akash.messages import msg_close_deployment

        account = account_of(request)
        found = owned_deployment(account, dseq_of(request.path_params["dseq"]))
        if request.method == "GET":
            return JSONResponse({"data": detail_json(found)})
        if found.state != "active":
            raise _Refused(400, "BadRequestError", "Deployment is not active")
        code, _tx_hash, raw_log = await send_tx(account, [msg_close_deployment(account.address, found.dseq)])
        if code != 0:
            raise _Refused(400, "BadRequestError", f"Transaction failed: {raw_log}")
        sweep_uact(account)
        return JSONResponse({"data": {"success": True}})

    # ---------------------------------------------------------------------------------- market
    async def bids(request: Request) -> JSONResponse:
        account = account_of(request)
        dseq = dseq_of(request.query_params.get("dseq"))
        with chain.lock:
            found = [chain.bid_json(b) for b in chain.bids.values() if b.owner == account.address and b.dseq == dseq]
        return JSONResponse({"data": found})

    async def leases(request: Request) -> JSONResponse:
        from tools.akash.messages import msg_create_lease
        from tools.sdl.canonical_json import manifest_json_bytes

        account = account_of(request)
        body = await json_body(request)
        manifest_text, wanted = body.get("manifest"), body.get("leases")
        if not isinstance(manifest_text, str) or not isinstance(wanted, list) or not wanted:
            raise _Refused(400, "BadRequestError", "manifest (a string) and leases (a non-empty list) are required")
        try:
            manifest = json.loads(manifest_text)
            digest = hashlib.sha256(manifest_json_bytes(manifest)).digest()
        except (ValueError, TypeError):
            raise _Refused(400, "BadRequestError", "manifest is not a valid manifest JSON document") from None
        targets = []
        for item in wanted:
            if not isinstance(item, dict) or not isinstance(item.get("provider"), str):
                raise _Refused(400, "BadRequestError", "each lease needs dseq, gseq, oseq and provider")
            dseq = dseq_of(item.get("dseq"))
            gseq, oseq = item.get("gseq"), item.get("oseq")
            if not isinstance(gseq, int) or not isinstance(oseq, int) or gseq < 1 or oseq < 1:
                raise _Refused(400, "BadRequestError", "gseq and oseq must be positive integers")
            targets.append((owned_deployment(account, dseq), gseq, oseq, item["provider"]))
        deployments_ = {d.dseq: d for d, *_ in targets}
        if len(deployments_) != 1:
            raise _Refused(400, "BadRequestError", "all leases must belong to one deployment")
        found = next(iter(deployments_.values()))
        if found.state != "active":
            raise _Refused(400, "BadRequestError", "Deployment is not active")
        if digest != found.hash:
            raise _Refused(400, "BadRequestError", "Manifest hash does not match the deployment's version")
        for deployment_, gseq, oseq, provider in targets:
            if chain.active_lease(account.address, deployment_.dseq, provider, gseq) is not None:
                continue  # already leased: a retry
            with chain.lock:
                bid = next((b for b in chain.bids.values() if (b.owner, b.dseq, b.gseq, b.oseq, b.provider)
                            == (account.address, deployment_.dseq, gseq, oseq, provider) and b.state == "open"), None)
            if bid is None:
                raise _Refused(400, "BadRequestError", f"No open bid from {provider} on {deployment_.dseq}/{gseq}/{oseq}")
            message = msg_create_lease(account.address, deployment_.dseq, gseq, oseq, provider, bid.bseq)
            code, _tx_hash, raw_log = await send_tx(account, [message])
            if code != 0:
                raise _Refused(400, "BadRequestError", f"Transaction failed: {raw_log}")
        for provider in sorted({t[3] for t in targets}):
            await send_manifest(account, provider, found.dseq, manifest_text.encode())
        return JSONResponse({"data": detail_json(found)})

    async def send_manifest(account: ConsoleAccount, provider: str, dseq: int, manifest: bytes) -> None:
        from tools.akash.jwt import create_jwt

        record = fleet.by_owner.get(provider) if fleet else None
        host_uri = record.host_uri if record is not None else chain.providers[provider].host_uri
        headers = {"authorization": f"Bearer {create_jwt(account.key, ttl_s=300)}", "content-type": "application/json"}
        answer = None
        async with httpx.AsyncClient(timeout=10.0) as client:
            for _attempt in range(20):
                try:
                    answer = await client.put(f"{host_uri}/deployment/{dseq}/manifest", content=manifest, headers=headers)
                except httpx.HTTPError as exc:
                    raise _Refused(502, "ProviderError", f"Provider {provider} unreachable: {type(exc).__name__}") from None
                if answer.status_code not in (404, 502, 503, 504):
                    break
                await asyncio.sleep(0.25)  # the provider has not seen the lease yet, or is briefly unavailable
        assert answer is not None
        if answer.status_code == 422:
            raise _Refused(400, "BadRequestError", f"Provider rejected the manifest: {answer.text.strip()[:200]}")
        if answer.status_code != 200:
            raise _Refused(502, "ProviderError", f"Provider answered HTTP {answer.status_code} to the manifest")

    # ---------------------------------------------------------------------------------- account
    async def create_jwt_token(request: Request) -> JSONResponse:
        from tools.akash.jwt import InvalidJWT, create_jwt

        account = account_of(request)
        data = (await json_body(request)).get("data")
        if not isinstance(data, dict):
            raise _Refused(400, "BadRequestError", "data is required")
        ttl, lease_access = data.get("ttl"), data.get("leases")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_JWT_TTL_S:
            raise _Refused(400, "BadRequestError", f"data.ttl must be an integer between 1 and {MAX_JWT_TTL_S}")
        if not isinstance(lease_access, dict):
            raise _Refused(400, "BadRequestError", "data.leases is required")
        try:
            token = create_jwt(account.key, ttl_s=ttl, leases=lease_access)
        except InvalidJWT as exc:
            raise _Refused(400, "BadRequestError", str(exc)) from None
        return JSONResponse({"data": {"token": token}}, status_code=201)

    async def balances(request: Request) -> JSONResponse:
        account = account_of(request)
        with chain.lock:
            held = sum(int(d.escrow_funds) for (owner, _), d in chain.deployments.items()
                       if owner == account.address and d.state == "active")
        return JSONResponse({"data": {"balance": _uusd_json(account.credit_uusd), "deployments": _uusd_json(held),
                                      "total": _uusd_json(account.credit_uusd + held)}})

    async def user_me(request: Request) -> JSONResponse:
        account = account_of(request)
        return JSONResponse({"data": {
            "id": account.user_id, "userId": account.user_id, "username": "sandbox",
            "email": "sandbox@necto.invalid", "emailVerified": True, "subscribedToNewsletter": False,
        }})

    async def wallets(request: Request) -> JSONResponse:
        account = account_of(request)
        if request.query_params.get("userId") != account.user_id:
            raise _Refused(403, "ForbiddenError", "Forbidden")
        return JSONResponse({"data": [{
            "id": 1, "userId": account.user_id, "creditAmount": _uusd_json(account.credit_uusd),
            "address": account.address, "denom": "uact", "isTrialing": False, "topUpMinAmountUsd": 20,
            "createdAt": account.created_at,
        }]})

    def guarded(handler: Callable) -> Callable:
        async def endpoint(request: Request) -> JSONResponse:
            try:
                return await handler(request)
            except _Refused as refused:
                return refused.response

        return endpoint

    return [
        Route("/v1/deployments", guarded(deployments), methods=["GET", "POST"]),
        Route("/v1/deployments/{dseq}", guarded(deployment), methods=["GET", "DELETE"]),
        Route("/v1/bids", guarded(bids), methods=["GET"]),
        Route("/v1/leases", guarded(leases), methods=["POST"]),
        Route("/v1/create-jwt-token", guarded(create_jwt_token), methods=["POST"]),
        Route("/v1/balances", guarded(balances), methods=["GET"]),
        Route("/v1/user/me", guarded(user_me), methods=["GET"]),
        Route("/v1/wallets", guarded(wallets), methods=["GET"]),
    ]
