"""The devnet's chain REST (LCD) app: Cosmos + Akash queries, broadcast, Console-compatible routes, faucet.

Routes and JSON shapes follow devnet/WIRE.md. Errors use the gRPC-gateway shape Cosmos nodes answer with,
``{"code": <grpc code>, "message": ..., "details": []}`` (5 NotFound -> HTTP 404, 3 InvalidArgument ->
HTTP 400); garbage input never produces a traceback.

Two routes whose upstream shape is not pinned down in WIRE.md:

- ``GET /akash/oracle/v2/aggregated_price/akt`` ->
  ``{"aggregated_price": {"denom": "akt", "twap": "1.250000000000000000", "median_price": ...,
  "min_price": ..., "max_price": ..., "timestamp": RFC3339, "num_sources": 1, "deviation_bps": "0"},
  "price_health": {"denom": "akt", "is_healthy": true, "has_min_sources": true,
  "deviation_ok": true, "total_sources": 1, "failure_reason": []}}`` (LegacyDec strings, USD per AKT);
- ``GET /akash/bme/v1/status`` -> ``{"status": "mint_status_healthy" | "mint_status_halt_cr",
  "collateral_ratio": dec, "warn_threshold": "0.950000000000000000", "halt_threshold":
  "0.900000000000000000", "mints_allowed": bool, "refunds_allowed": true}``.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from devnet import txdecode
from devnet.chain import Chain, dec_str
from devnet.console_api import console_routes
from devnet.providers import ProviderFleet, console_gpu_prices, console_provider
from devnet.txdecode import TxError, b64

__all__ = ["build_rest_app"]

logger = logging.getLogger(__name__)
NODE_VERSION = "v2.0.0"
HTTP_FOR_GRPC = {3: 400, 5: 404, 12: 501, 13: 500}


def grpc_error(code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "details": []}, status_code=HTTP_FOR_GRPC.get(code, 400)
    )


def _pagination(request: Request, items: list) -> tuple[list, dict]:
    """Cosmos pagination: ``pagination.key`` (opaque, base64) or ``pagination.offset`` + ``pagination.limit``."""
    params = request.query_params
    try:
        limit = int(params.get("pagination.limit") or 100)
        offset = int(params.get("pagination.offset") or 0)
        key = params.get("pagination.key")
        if key:
            offset = int(base64.b64decode(key, validate=True).decode())
        reverse = (params.get("pagination.reverse") or "false").lower() == "true"
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _BadRequest("invalid pagination parameters") from None
    if limit <= 0 or offset < 0:
        raise _BadRequest("invalid pagination parameters: limit must be > 0, offset >= 0")
    if reverse:
        items = list(reversed(items))
    page = items[offset : offset + limit]
    next_offset = offset + limit
    next_key = base64.b64encode(str(next_offset).encode()).decode() if next_offset < len(items) else None
    return page, {"next_key": next_key, "total": str(len(items))}


class _BadRequest(Exception):
    pass


def _uint(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) >= 2**64:
        raise _BadRequest(f"invalid {name}: {text!r} is not an unsigned integer")
    return int(text)


def build_rest_app(chain: Chain, fleet: ProviderFleet | None = None) -> Starlette:
    """The chain REST + console + faucet app for one devnet."""
    providers = fleet.providers if fleet else []

    def route(path: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
        def register(fn: Callable) -> Callable:
            async def endpoint(request: Request) -> JSONResponse:
                try:
                    return await fn(request)
                except _BadRequest as err:
                    return grpc_error(3, str(err))
                except TxError as err:
                    return grpc_error(3, err.raw_log)

            routes.append(Route(path, endpoint, methods=list(methods)))
            return fn

        return register

    routes: list = []

    async def json_body(request: Request) -> dict:
        try:
            body = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError):
            raise _BadRequest("invalid JSON body") from None
        if not isinstance(body, dict):
            raise _BadRequest("request body must be a JSON object")
        return body

    def tx_bytes_of(body: dict) -> bytes:
        value = body.get("tx_bytes")
        if not isinstance(value, str) or not value:
            raise _BadRequest("tx_bytes is required (base64 of a TxRaw)")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _BadRequest("tx_bytes is not valid base64") from None

    # ------------------------------------------------------------------ cosmos
    @route("/cosmos/auth/v1beta1/accounts/{address}")
    async def account(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        if not txdecode.is_valid_address(address):
            return grpc_error(3, f"invalid address {address!r}: decoding bech32 failed")
        with chain.lock:
            acct = chain.get_account(address)
            if acct is None:
                return grpc_error(5, f"account {address} not found")
            return JSONResponse({"account": chain.account_json(acct)})

    @route("/cosmos/bank/v1beta1/balances/{address}")
    async def balances(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        if not txdecode.is_valid_address(address):
            return grpc_error(3, f"invalid address {address!r}: decoding bech32 failed")
        items = chain.balances_json(address)
        page, pagination = _pagination(request, items)
        return JSONResponse({"balances": page, "pagination": pagination})

    @route("/cosmos/bank/v1beta1/balances/{address}/by_denom")
    async def balance_by_denom(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        denom = request.query_params.get("denom") or ""
        if not txdecode.is_valid_address(address) or not denom:
            return grpc_error(3, "a valid address and denom are required")
        return JSONResponse({"balance": {"denom": denom, "amount": str(chain.balance(address, denom))}})

    @route("/cosmos/tx/v1beta1/simulate", ("POST",))
    async def simulate(request: Request) -> JSONResponse:
        tx_bytes = tx_bytes_of(await json_body(request))
        try:
            gas = chain.simulate(tx_bytes)
        except TxError as err:
            return grpc_error(3, err.raw_log)
        return JSONResponse(
            {
                "gas_info": {"gas_wanted": "0", "gas_used": str(gas)},
                "result": {"data": "", "log": "", "events": []},
            }
        )

    @route("/cosmos/tx/v1beta1/txs", ("POST",))
    async def broadcast(request: Request) -> JSONResponse:
        body = await json_body(request)
        mode = body.get("mode", "BROADCAST_MODE_SYNC")
        if mode not in ("BROADCAST_MODE_SYNC", "BROADCAST_MODE_ASYNC", 2, 3):
            return grpc_error(3, f"unsupported broadcast mode {mode!r}: use BROADCAST_MODE_SYNC")
        tx_bytes = tx_bytes_of(body)
        return JSONResponse({"tx_response": chain.broadcast(tx_bytes)})

    @route("/cosmos/tx/v1beta1/txs/{txhash}")
    async def get_tx(request: Request) -> JSONResponse:
        txhash = request.path_params["txhash"]
        try:
            if len(txhash) != 64:
                raise ValueError
            bytes.fromhex(txhash)
        except ValueError:
            return grpc_error(3, f"invalid tx hash {txhash!r}: expected 64 hex characters")
        with chain.lock:
            record = chain.get_tx(txhash)
            if record is None:
                return grpc_error(5, f"tx not found: {txhash.upper()}")
            return JSONResponse(chain.tx_json(record))

    def block_json(height: int) -> JSONResponse:
        with chain.lock:
            block = chain.blocks.get(height)
            if block is None:
                return grpc_error(
                    3, f"requested block height {height} is not available; latest is {chain.height}"
                )
            return JSONResponse(
                {
                    "block_id": {"hash": b64(block.hash)},
                    "block": {
                        "header": {
                            "chain_id": chain.chain_id,
                            "height": str(block.height),
                            "time": block.time,
                        },
                        "data": {"txs": [b64(tx) for tx in block.txs]},
                    },
                }
            )

    @route("/cosmos/base/tendermint/v1beta1/blocks/latest")
    async def latest_block(request: Request) -> JSONResponse:
        return block_json(chain.height)

    @route("/cosmos/base/tendermint/v1beta1/blocks/{height}")
    async def block_at(request: Request) -> JSONResponse:
        height = _uint(request.path_params["height"], "height")
        return block_json(height or 0)

    @route("/cosmos/base/tendermint/v1beta1/node_info")
    async def node_info(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "default_node_info": {
                    "network": chain.chain_id,
                    "version": "0.38.17",
                    "moniker": "necto-devnet",
                },
                "application_version": {"name": "akash", "app_name": "akash", "version": NODE_VERSION},
            }
        )

    # ------------------------------------------------------------------ akash: deployment / market
    def filters(request: Request) -> dict:
        params = request.query_params
        owner = params.get("filters.owner") or None
        if owner is not None and not txdecode.is_valid_address(owner):
            raise _BadRequest(f"invalid filters.owner {owner!r}")
        provider = params.get("filters.provider") or None
        if provider is not None and not txdecode.is_valid_address(provider):
            raise _BadRequest(f"invalid filters.provider {provider!r}")
        return {
            "owner": owner,
            "dseq": _uint(params.get("filters.dseq"), "filters.dseq"),
            "gseq": _uint(params.get("filters.gseq"), "filters.gseq"),
            "oseq": _uint(params.get("filters.oseq"), "filters.oseq"),
            "provider": provider,
            "state": params.get("filters.state") or None,
        }

    def matches(obj: Any, f: dict) -> bool:
        for name in ("owner", "dseq", "gseq", "oseq", "provider", "state"):
            want = f.get(name)
            if want is not None and hasattr(obj, name) and getattr(obj, name) != want:
                return False
        return True

    @route("/akash/deployment/v1beta4/deployments/list")
    async def deployments_list(request: Request) -> JSONResponse:
        f = filters(request)
        with chain.lock:
            items = [chain.deployment_json(d) for d in chain.deployments.values() if matches(d, f)]
        page, pagination = _pagination(request, items)
        return JSONResponse({"deployments": page, "pagination": pagination})

    @route("/akash/deployment/v1beta4/deployments/info")
    async def deployment_info(request: Request) -> JSONResponse:
        owner = request.query_params.get("id.owner") or ""
        dseq = _uint(request.query_params.get("id.dseq"), "id.dseq")
        if not txdecode.is_valid_address(owner) or dseq is None:
            return grpc_error(3, "id.owner (akash1... address) and id.dseq are required")
        with chain.lock:
            deployment = chain.deployments.get((owner, dseq))
            if deployment is None:
                return grpc_error(5, "deployment not found")
            return JSONResponse(chain.deployment_json(deployment))

    @route("/akash/market/v1beta5/orders/list")
    async def orders_list(request: Request) -> JSONResponse:
        f = filters(request)
        with chain.lock:
            items = [chain.order_json(o) for o in chain.orders.values() if matches(o, f)]
        page, pagination = _pagination(request, items)
        return JSONResponse({"orders": page, "pagination": pagination})

    @route("/akash/market/v1beta5/bids/list")
    async def bids_list(request: Request) -> JSONResponse:
        f = filters(request)
        with chain.lock:
            items = [chain.bid_json(b) for b in chain.bids.values() if matches(b, f)]
        page, pagination = _pagination(request, items)
        return JSONResponse({"bids": page, "pagination": pagination})

    @route("/akash/market/v1beta5/leases/list")
    async def leases_list(request: Request) -> JSONResponse:
        f = filters(request)
        with chain.lock:
            items = [chain.lease_json(lease_) for lease_ in chain.leases.values() if matches(lease_, f)]
        page, pagination = _pagination(request, items)
        return JSONResponse({"leases": page, "pagination": pagination})

    # ------------------------------------------------------------------ akash: provider / audit
    @route("/akash/provider/v1beta4/providers")
    async def providers_list(request: Request) -> JSONResponse:
        with chain.lock:
            items = [chain.provider_json(p) for p in chain.providers.values()]
        page, pagination = _pagination(request, items)
        return JSONResponse({"providers": page, "pagination": pagination})

    @route("/akash/provider/v1beta4/providers/{owner}")
    async def provider_get(request: Request) -> JSONResponse:
        owner = request.path_params["owner"]
        if not txdecode.is_valid_address(owner):
            return grpc_error(3, f"invalid provider address {owner!r}")
        with chain.lock:
            record = chain.providers.get(owner)
            if record is None:
                return grpc_error(5, f"provider {owner} not found: invalid provider: address not found")
            return JSONResponse({"provider": chain.provider_json(record)})

    @route("/akash/audit/v1/audit/attributes/list")
    async def audit_list(request: Request) -> JSONResponse:
        with chain.lock:
            items = [
                {
                    "owner": p.owner,
                    "auditor": auditor,
                    "attributes": [{"key": k, "value": v} for k, v in p.audited_attributes],
                }
                for p in chain.providers.values()
                for auditor in p.auditors
            ]
        page, pagination = _pagination(request, items)
        return JSONResponse({"providers": page, "pagination": pagination})

    # ------------------------------------------------------------------ akash: cert (singular filter.*)
    @route("/akash/cert/v1/certificates/list")
    async def certificates_list(request: Request) -> JSONResponse:
        params = request.query_params
        owner = params.get("filter.owner") or None
        if owner is not None and not txdecode.is_valid_address(owner):
            return grpc_error(3, f"invalid owner address {owner!r}")
        serial = _uint(params.get("filter.serial"), "filter.serial")
        state = params.get("filter.state") or None
        if state not in (None, "valid", "revoked"):
            return grpc_error(3, f"invalid certificate state {state!r}: expected valid or revoked")
        items = chain.certificates_json(
            owner=owner, serial=None if serial is None else str(serial), state=state
        )
        page, pagination = _pagination(request, items)
        return JSONResponse({"certificates": page, "pagination": pagination})

    # ------------------------------------------------------------------ oracle / bme
    @route("/akash/oracle/v2/aggregated_price/{denom}")
    async def oracle_price(request: Request) -> JSONResponse:
        denom = request.path_params["denom"].lower()
        if denom not in ("akt", "uakt"):
            return grpc_error(5, f"no price for denom {denom!r}")
        price = dec_str(chain.akt_price_usd)
        return JSONResponse(
            {
                "aggregated_price": {
                    "denom": "akt",
                    "twap": price,
                    "median_price": price,
                    "min_price": price,
                    "max_price": price,
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    "num_sources": 1,
                    "deviation_bps": "0",
                },
                "price_health": {
                    "denom": "akt",
                    "is_healthy": True,
                    "has_min_sources": True,
                    "deviation_ok": True,
                    "total_sources": 1,
                    "failure_reason": [],
                },
            }
        )

    @route("/akash/bme/v1/status")
    async def bme_status(request: Request) -> JSONResponse:
        allowed = chain.mints_allowed
        return JSONResponse(
            {
                "status": "mint_status_healthy" if allowed else "mint_status_halt_cr",
                "collateral_ratio": dec_str(Decimal("1.35") if allowed else Decimal("0.87")),
                "warn_threshold": dec_str(Decimal("0.95")),
                "halt_threshold": dec_str(Decimal("0.90")),
                "mints_allowed": allowed,
                "refunds_allowed": True,
            }
        )

    # ------------------------------------------------------------------ console-compatible indexer
    @route("/v1/providers")
    async def console_providers(request: Request) -> JSONResponse:
        wanted = {a for a in (request.query_params.get("addresses") or "").split(",") if a}
        items = [console_provider(p, chain) for p in providers if not wanted or p.owner in wanted]
        return JSONResponse(items)

    @route("/v1/providers/{address}")
    async def console_provider_detail(request: Request) -> JSONResponse:
        address = request.path_params["address"]
        provider = fleet.by_owner.get(address) if fleet else None
        if provider is None:
            return JSONResponse({"error": "NotFoundError", "message": "Provider not found"}, status_code=404)
        return JSONResponse(console_provider(provider, chain, detail=True))

    @route("/v1/gpu-prices")
    async def gpu_prices(request: Request) -> JSONResponse:
        return JSONResponse(console_gpu_prices(providers, chain))

    # ------------------------------------------------------------------ console managed-wallet API
    routes.extend(console_routes(chain, fleet))  # devnet/console_api.py: deployments, bids, leases, JWTs

    # ------------------------------------------------------------------ devnet-only
    @route("/necto-devnet/faucet", ("POST",))
    async def faucet(request: Request) -> JSONResponse:
        body = await json_body(request)
        address = body.get("address")
        if not isinstance(address, str) or not txdecode.is_valid_address(address):
            return grpc_error(3, "address must be a bech32 akash1... account address")
        credited = chain.faucet(address)
        return JSONResponse({"address": address, "credited": credited})

    @route("/necto-devnet/info")
    async def info(request: Request) -> JSONResponse:
        with chain.lock:
            return JSONResponse(
                {
                    "chain_id": chain.chain_id,
                    "height": str(chain.height),
                    "block_time_s": chain.block_time_s,
                    "bid_window_blocks": chain.bid_window_blocks,
                    "min_gas_price_uakt": "0.0025",
                    "providers": [
                        {"owner": p.owner, "host_uri": p.host_uri} for p in chain.providers.values()
                    ],
                }
            )

    for prefix, module_name, builder in MARKET_FAKES:
        app = _market_fake(module_name, builder, chain.seed)
        if app is not None:
            routes.append(Mount(prefix, app=app))

    async def not_found(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return JSONResponse({"code": 12, "message": "Not Implemented", "details": []}, status_code=501)
        if exc.status_code == 405:
            return JSONResponse({"code": 12, "message": "Method Not Allowed", "details": []}, status_code=405)
        return JSONResponse(
            {"code": 2, "message": str(exc.detail), "details": []}, status_code=exc.status_code
        )

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"code": 13, "message": f"internal error: {type(exc).__name__}", "details": []}, status_code=500
        )

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: internal})


# The other markets' fakes, served beside the chain so one sandbox URL carries every price source:
# (mount prefix, module, builder(seed) -> ASGI app).
MARKET_FAKES: tuple[tuple[str, str, str], ...] = (
    ("/lambda", "devnet.lambda_api", "build_lambda_app"),
    ("/aws", "devnet.aws_api", "build_aws_app"),
    ("/ionet", "devnet.ionet_api", "build_ionet_app"),
    ("/render", "devnet.render_api", "build_render_app"),
    ("/coingecko", "devnet.coingecko_api", "build_coingecko_app"),
    ("/evm", "devnet.evm", "build_evm_app"),  # ADI Chain stand-in: Ethereum JSON-RPC at <rest_url>/evm/
)


def _market_fake(module_name: str, builder: str, seed: int) -> Any:
    """A market's fake API app; a broken fake is logged and left out rather than taking the devnet down."""
    try:
        module = importlib.import_module(module_name)
        return getattr(module, builder)(seed)
    except Exception:
        logger.warning("%s failed to load; it is not served", module_name, exc_info=True)
        return None
