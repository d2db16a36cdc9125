"""Async client for the chain's REST (LCD) API: Cosmos and Akash queries, simulate, broadcast, poll.

The same code talks to mainnet, sandbox-2 and Necto's devnet; only ``base_url`` differs (devnet/WIRE.md
is the contract). Every request has an explicit timeout; idempotent GETs are retried a few times on
connection errors and 5xx. Any answer that is not the documented JSON shape becomes a ``ChainError`` with
a one-line message: no ``KeyError`` or ``httpx`` exception leaks out of this module.

    ChainError                 unreachable node, HTTP error, garbage answer
    ├── BroadcastError         CheckTx rejected the tx (code, raw_log), or simulation failed
    └── InsufficientFunds      simulation says the account cannot pay
(``TxTimeout`` is raised by ``wait_for_tx``.)

Results are small pydantic models; each keeps the raw JSON object as ``.raw`` for UIs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import BroadcastError, ChainError, InsufficientFunds, TxTimeout
from tools.tls import default_ssl_context

__all__ = [
    "Account",
    "AktPrice",
    "AkashRest",
    "AuditedAttributes",
    "Attribute",
    "Bid",
    "BidID",
    "Block",
    "BmeStatus",
    "DecCoin",
    "Deployment",
    "Group",
    "Lease",
    "NodeInfo",
    "Provider",
    "TxResponse",
]

_RETRY_STATUSES = frozenset({500, 502, 503, 504})
_GET_ATTEMPTS = 3
_BACKOFF_S = (0.2, 0.6)
_MAX_PAGES = 200  # providers: ~100 per page on mainnet; a loop guard, not a real limit
_CODE_SEQUENCE_MISMATCH = 32


# --- models -------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)


class Account(_Model):
    address: str
    number: int
    sequence: int
    pubkey: bytes | None  # 33-byte compressed secp256k1; None until the account's first tx


class Block(_Model):
    height: int
    time: datetime
    chain_id: str


class NodeInfo(_Model):
    chain_id: str
    node_version: str
    app_version: str


class DecCoin(_Model):
    denom: str
    amount: Decimal


class Attribute(_Model):
    key: str
    value: str


class Group(_Model):
    gseq: int
    state: str
    name: str


class Deployment(_Model):
    owner: str
    dseq: int
    state: str
    hash_hex: str
    created_at: int
    groups: list[Group]
    escrow_state: str | None
    escrow_funds: list[DecCoin]  # remaining deposit
    escrow_transferred: list[DecCoin]


class BidID(_Model):
    owner: str
    dseq: int
    gseq: int
    oseq: int
    provider: str
    bseq: int


class Bid(_Model):
    id: BidID
    state: str
    price: DecCoin  # per block
    created_at: int


class Lease(_Model):
    id: BidID
    state: str
    price: DecCoin  # per block
    created_at: int
    closed_on: int
    reason: str


class Provider(_Model):
    owner: str
    host_uri: str
    attributes: list[Attribute]
    email: str
    website: str


class AuditedAttributes(_Model):
    owner: str
    auditor: str
    attributes: list[Attribute]


class AktPrice(_Model):
    usd: Decimal  # TWAP when available, else the median
    median: Decimal | None
    timestamp: datetime | None


class BmeStatus(_Model):
    mints_allowed: bool
    status: str
    collateral_ratio: Decimal | None


class TxResponse(_Model):
    txhash: str
    height: int
    code: int
    codespace: str
    raw_log: str
    gas_wanted: int
    gas_used: int
    timestamp: str
    events: list[dict[str, Any]]


# --- parsing helpers ----------------------------------------------------------------------------------


class _Shape(Exception):
    """An answer that is not the documented JSON shape (turned into ChainError at the boundary)."""


def _dig(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            raise _Shape(f"missing {'.'.join(path)}")
        obj = obj[key]
    return obj


def _opt(obj: Any, *path: str, default: Any = None) -> Any:
    try:
        value = _dig(obj, *path)
    except _Shape:
        return default
    return default if value is None else value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise _Shape(f"{what} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _Shape(f"{what} is not an integer ({value!r})")


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Shape(f"{what} is not a string")
    return value


def _list(value: Any, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Shape(f"{what} is not a list")
    return value


def _dict(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise _Shape(f"{what} is not an object")
    return value


def _dec(value: Any, what: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise _Shape(f"{what} is not a decimal ({value!r})") from exc
    if not result.is_finite():
        raise _Shape(f"{what} is not finite")
    return result


def _dec_coin(value: Any, what: str) -> DecCoin:
    value = _dict(value, what)
    return DecCoin(
        denom=_str(_dig(value, "denom"), f"{what}.denom"), amount=_dec(_dig(value, "amount"), what)
    )


def _parse_time(value: Any, what: str) -> datetime:
    text = _str(value, what).strip()
    # RFC3339Nano: Python keeps microseconds, so trim the fraction to 6 digits.
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if not match:
        raise _Shape(f"{what} is not an RFC 3339 time ({value!r})")
    base, frac, zone = match.groups()
    frac = ((frac or "") + "000000")[:6]
    parsed = datetime.fromisoformat(f"{base}.{frac}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def _attributes(value: Any, what: str) -> list[Attribute]:
    return [
        Attribute(key=_str(_dig(a, "key"), f"{what}.key"), value=str(_opt(a, "value", default="")))
        for a in _list(value, what)
    ]


def _bid_id(value: Any, what: str) -> BidID:
    value = _dict(value, what)
    return BidID(
        owner=_str(_dig(value, "owner"), f"{what}.owner"),
        dseq=_int(_dig(value, "dseq"), f"{what}.dseq"),
        gseq=_int(_dig(value, "gseq"), f"{what}.gseq"),
        oseq=_int(_dig(value, "oseq"), f"{what}.oseq"),
        provider=_str(_dig(value, "provider"), f"{what}.provider"),
        bseq=_int(_opt(value, "bseq", default=0), f"{what}.bseq"),
    )


def _parse_deployment(item: Any) -> Deployment:
    item = _dict(item, "deployment entry")
    dep = _dict(_dig(item, "deployment"), "deployment")
    hash_b64 = _opt(dep, "hash", default="")
    try:
        hash_hex = base64.b64decode(_str(hash_b64, "deployment.hash"), validate=True).hex()
    except ValueError as exc:
        raise _Shape("deployment.hash is not base64") from exc
    groups = [
        Group(
            gseq=_int(_dig(g, "id", "gseq"), "group.id.gseq"),
            state=_str(_dig(g, "state"), "group.state"),
            name=str(_opt(g, "group_spec", "name", default="")),
        )
        for g in _list(_opt(item, "groups"), "groups")
    ]
    escrow = _opt(item, "escrow_account", "state", default={})
    return Deployment(
        owner=_str(_dig(dep, "id", "owner"), "deployment.id.owner"),
        dseq=_int(_dig(dep, "id", "dseq"), "deployment.id.dseq"),
        state=_str(_dig(dep, "state"), "deployment.state"),
        hash_hex=hash_hex,
        created_at=_int(_opt(dep, "created_at", default=0), "deployment.created_at"),
        groups=groups,
        escrow_state=_opt(escrow, "state"),
        escrow_funds=[_dec_coin(c, "escrow funds") for c in _list(_opt(escrow, "funds"), "escrow funds")],
        escrow_transferred=[
            _dec_coin(c, "escrow transferred")
            for c in _list(_opt(escrow, "transferred"), "escrow transferred")
        ],
        raw=item,
    )


def _parse_bid(item: Any) -> Bid:
    item = _dict(item, "bid entry")
    bid = _dict(_dig(item, "bid"), "bid")
    return Bid(
        id=_bid_id(_dig(bid, "id"), "bid.id"),
        state=_str(_dig(bid, "state"), "bid.state"),
        price=_dec_coin(_dig(bid, "price"), "bid.price"),
        created_at=_int(_opt(bid, "created_at", default=0), "bid.created_at"),
        raw=item,
    )


def _parse_lease(item: Any) -> Lease:
    item = _dict(item, "lease entry")
    lease = _dict(_dig(item, "lease"), "lease")
    return Lease(
        id=_bid_id(_dig(lease, "id"), "lease.id"),
        state=_str(_dig(lease, "state"), "lease.state"),
        price=_dec_coin(_dig(lease, "price"), "lease.price"),
        created_at=_int(_opt(lease, "created_at", default=0), "lease.created_at"),
        closed_on=_int(_opt(lease, "closed_on", default=0), "lease.closed_on"),
        reason=str(_opt(lease, "reason", default="")),
        raw=item,
    )


def _parse_provider(item: Any) -> Provider:
    item = _dict(item, "provider")
    return Provider(
        owner=_str(_dig(item, "owner"), "provider.owner"),
        host_uri=_str(_dig(item, "host_uri"), "provider.host_uri"),
        attributes=_attributes(_opt(item, "attributes"), "provider.attributes"),
        email=str(_opt(item, "info", "email", default="")),
        website=str(_opt(item, "info", "website", default="")),
        raw=item,
    )


def _parse_tx_response(value: Any) -> TxResponse:
    value = _dict(value, "tx_response")
    return TxResponse(
        txhash=_str(_dig(value, "txhash"), "txhash").upper(),
        height=_int(_opt(value, "height", default=0), "height"),
        code=_int(_opt(value, "code", default=0), "code"),
        codespace=str(_opt(value, "codespace", default="")),
        raw_log=str(_opt(value, "raw_log", default="")),
        gas_wanted=_int(_opt(value, "gas_wanted", default=0), "gas_wanted"),
        gas_used=_int(_opt(value, "gas_used", default=0), "gas_used"),
        timestamp=str(_opt(value, "timestamp", default="")),
        events=[e for e in _list(_opt(value, "events"), "events") if isinstance(e, dict)],
        raw=value,
    )


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:500]
    return str(body)[:300]


def _filters(prefix: str, **values: Any) -> dict[str, str]:
    return {f"{prefix}.{k}": str(v) for k, v in values.items() if v is not None}


# --- the client ---------------------------------------------------------------------------------------


class AkashRest:
    """Chain REST client. ``transport`` lets tests inject ``httpx.MockTransport`` (or the devnet's ASGI app)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_backoff_s: tuple[float, ...] = _BACKOFF_S,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ChainError(f"the chain REST URL must be http(s)://..., got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self._backoff = retry_backoff_s
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            transport=transport,
            headers={"accept": "application/json"},
            follow_redirects=False,
            verify=default_ssl_context(),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> AkashRest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AkashRest({self.base_url!r})"

    # --- transport ------------------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None, idempotent: bool
    ) -> httpx.Response:
        attempts = _GET_ATTEMPTS if idempotent else 2
        last_error = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff[min(attempt - 1, len(self._backoff) - 1)])
            try:
                response = await self._client.request(method, path, params=params, json=json_body)
            except httpx.ConnectError as exc:  # nothing was sent: always safe to retry
                last_error = f"cannot connect ({exc.__class__.__name__})"
                continue
            except httpx.TimeoutException as exc:
                last_error = f"timed out ({exc.__class__.__name__})"
                if idempotent:
                    continue
                break
            except httpx.HTTPError as exc:
                last_error = f"{exc.__class__.__name__}: {exc}"
                if idempotent:
                    continue
                break
            if response.status_code in _RETRY_STATUSES and idempotent and attempt + 1 < attempts:
                last_error = f"HTTP {response.status_code}"
                continue
            return response
        raise ChainError(
            f"{method} {self.base_url}{path}: {last_error}",
            hint="check that the chain REST endpoint in settings is up and reachable",
        )

    @staticmethod
    def _json(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise ChainError(f"{what}: the node answered HTTP {response.status_code} with non-JSON") from exc
        if not isinstance(body, dict):
            raise ChainError(f"{what}: the node answered a JSON {type(body).__name__}, not an object")
        return body

    async def _get(
        self, path: str, what: str, params: dict | None = None, *, none_on_404: bool = False
    ) -> Any:
        response = await self._request("GET", path, params=params, idempotent=True)
        if response.status_code == 404 and none_on_404:
            return None
        if response.status_code != 200:
            raise ChainError(f"{what}: HTTP {response.status_code}: {_error_message(response)}")
        return self._json(response, what)

    @contextlib.contextmanager
    def _parsing(self, what: str) -> Iterator[None]:
        try:
            yield
        except _Shape as exc:
            raise ChainError(f"{what}: unexpected answer from {self.base_url} ({exc})") from exc
        except (KeyError, TypeError, ValueError, AttributeError, ValidationError, InvalidOperation) as exc:
            raise ChainError(
                f"{what}: unexpected answer from {self.base_url} ({exc.__class__.__name__})"
            ) from exc

    async def _paginated(
        self, path: str, key: str, what: str, params: dict | None = None
    ) -> AsyncIterator[Any]:
        params = dict(params or {})
        for _ in range(_MAX_PAGES):
            body = await self._get(path, what, params)
            with self._parsing(what):
                items = _list(_dig(body, key), key)
                next_key = _opt(body, "pagination", "next_key")
            for item in items:
                yield item
            if not next_key:
                return
            params["pagination.key"] = next_key
        raise ChainError(f"{what}: more than {_MAX_PAGES} pages; refusing to continue")

    # --- cosmos -------------------------------------------------------------------------------------

    async def account(self, address: str) -> Account | None:
        """Account number, sequence and public key; ``None`` for an account the chain has never seen."""
        what = f"account {address}"
        body = await self._get(f"/cosmos/auth/v1beta1/accounts/{address}", what, none_on_404=True)
        if body is None:
            return None
        with self._parsing(what):
            account = _dict(_dig(body, "account"), "account")
            if "base_account" in account:  # vesting and module accounts wrap a BaseAccount
                account = _dict(account["base_account"], "account.base_account")
            pub = _opt(account, "pub_key", "key")
            return Account(
                address=_str(_dig(account, "address"), "account.address"),
                number=_int(_opt(account, "account_number", default=0), "account_number"),
                sequence=_int(_opt(account, "sequence", default=0), "sequence"),
                pubkey=base64.b64decode(_str(pub, "pub_key.key"), validate=True) if pub else None,
                raw=body,
            )

    async def balances(self, address: str) -> dict[str, int]:
        """Spendable balances as ``{denom: micro-units}`` (``uakt``, ``uact``, ...)."""
        what = f"balances of {address}"
        result: dict[str, int] = {}
        async for coin in self._paginated(f"/cosmos/bank/v1beta1/balances/{address}", "balances", what):
            with self._parsing(what):
                result[_str(_dig(coin, "denom"), "denom")] = _int(_dig(coin, "amount"), "amount")
        return result

    async def latest_block(self) -> Block:
        return await self._block("latest")

    async def block(self, height: int) -> Block:
        return await self._block(str(int(height)))

    async def _block(self, which: str) -> Block:
        what = f"block {which}"
        body = await self._get(f"/cosmos/base/tendermint/v1beta1/blocks/{which}", what)
        with self._parsing(what):
            header = _dict(_dig(body, "block", "header"), "block.header")
            return Block(
                height=_int(_dig(header, "height"), "height"),
                time=_parse_time(_dig(header, "time"), "time"),
                chain_id=_str(_dig(header, "chain_id"), "chain_id"),
                raw=body,
            )

    async def node_info(self) -> NodeInfo:
        what = "node info"
        body = await self._get("/cosmos/base/tendermint/v1beta1/node_info", what)
        with self._parsing(what):
            return NodeInfo(
                chain_id=_str(_dig(body, "default_node_info", "network"), "network"),
                node_version=str(_opt(body, "default_node_info", "version", default="")),
                app_version=str(_opt(body, "application_version", "version", default="")),
                raw=body,
            )

    async def measure_block_time(self, n: int = 20) -> float:
        """Average seconds per block over the last ``n`` blocks (akash.md §6: prices are per block)."""
        latest = await self.latest_block()
        n = max(1, min(n, latest.height - 1))
        if latest.height <= 1:
            raise ChainError("cannot measure the block time: the chain has fewer than two blocks")
        earlier = await self.block(latest.height - n)
        elapsed = (latest.time - earlier.time).total_seconds()
        if elapsed <= 0:
            raise ChainError("cannot measure the block time: block times do not increase")
        return elapsed / n

    # --- akash --------------------------------------------------------------------------------------

    async def deployments(self, owner: str, state: str | None = None) -> list[Deployment]:
        what = f"deployments of {owner}"
        params = _filters("filters", owner=owner, state=state)
        out = []
        async for item in self._paginated(
            "/akash/deployment/v1beta4/deployments/list", "deployments", what, params
        ):
            with self._parsing(what):
                out.append(_parse_deployment(item))
        return out

    async def deployment(self, owner: str, dseq: int) -> Deployment | None:
        """One deployment, or ``None`` if the chain has no such deployment."""
        what = f"deployment {owner}/{dseq}"
        params = _filters("id", owner=owner, dseq=dseq)
        body = await self._get("/akash/deployment/v1beta4/deployments/info", what, params, none_on_404=True)
        if body is None:
            return None
        with self._parsing(what):
            return _parse_deployment(body)

    async def bids(self, owner: str, dseq: int, state: str | None = None) -> list[Bid]:
        what = f"bids for {owner}/{dseq}"
        params = _filters("filters", owner=owner, dseq=dseq, state=state)
        out = []
        async for item in self._paginated("/akash/market/v1beta5/bids/list", "bids", what, params):
            with self._parsing(what):
                out.append(_parse_bid(item))
        return out

    async def leases(self, owner: str, dseq: int | None = None, state: str | None = None) -> list[Lease]:
        what = f"leases of {owner}"
        params = _filters("filters", owner=owner, dseq=dseq, state=state)
        out = []
        async for item in self._paginated("/akash/market/v1beta5/leases/list", "leases", what, params):
            with self._parsing(what):
                out.append(_parse_lease(item))
        return out

    async def providers(self) -> list[Provider]:
        """Every registered provider (follows ``pagination.next_key``)."""
        what = "providers"
        out = []
        async for item in self._paginated("/akash/provider/v1beta4/providers", "providers", what):
            with self._parsing(what):
                out.append(_parse_provider(item))
        return out

    async def provider(self, owner: str) -> Provider | None:
        what = f"provider {owner}"
        body = await self._get(f"/akash/provider/v1beta4/providers/{owner}", what, none_on_404=True)
        if body is None:
            return None
        with self._parsing(what):
            return _parse_provider(_dig(body, "provider"))

    async def audited_attributes(self) -> list[AuditedAttributes]:
        what = "audited attributes"
        out = []
        async for item in self._paginated("/akash/audit/v1/audit/attributes/list", "providers", what):
            with self._parsing(what):
                out.append(
                    AuditedAttributes(
                        owner=_str(_dig(item, "owner"), "owner"),
                        auditor=_str(_dig(item, "auditor"), "auditor"),
                        attributes=_attributes(_opt(item, "attributes"), "attributes"),
                        raw=item,
                    )
                )
        return out

    async def akt_price(self) -> AktPrice:
        """AKT/USD from the on-chain oracle (Pyth TWAP; akash.md §6)."""
        what = "AKT price"
        body = await self._get("/akash/oracle/v2/aggregated_price/akt", what)
        with self._parsing(what):
            price = _opt(body, "aggregated_price") or _opt(body, "price") or body
            price = _dict(price, "aggregated_price")
            twap = _opt(price, "twap")
            median = _opt(price, "median_price")
            if twap is None and median is None:
                raise _Shape("missing aggregated_price.twap and median_price")
            usd = _dec(twap if twap is not None else median, "twap")
            if usd <= 0:
                raise _Shape("the oracle price is not positive")
            stamp = _opt(price, "timestamp")
            return AktPrice(
                usd=usd,
                median=_dec(median, "median_price") if median is not None else None,
                timestamp=_parse_time(stamp, "timestamp") if stamp else None,
                raw=body,
            )

    async def bme_status(self) -> BmeStatus:
        """Whether ACT mints are allowed right now (the circuit breaker, akash.md §1)."""
        what = "BME status"
        body = await self._get("/akash/bme/v1/status", what)
        with self._parsing(what):
            mints = _opt(body, "mints_allowed", default=False)
            if not isinstance(mints, bool):
                raise _Shape("mints_allowed is not a boolean")
            ratio = _opt(body, "collateral_ratio")
            return BmeStatus(
                mints_allowed=mints,
                status=str(_opt(body, "status", default="")),
                collateral_ratio=_dec(ratio, "collateral_ratio") if ratio not in (None, "") else None,
                raw=body,
            )

    # --- transactions -------------------------------------------------------------------------------

    async def simulate(self, tx_bytes: bytes) -> int:
        """Gas used by ``tx_bytes`` (signature slot may be empty). Raises on a failing simulation."""
        what = "simulate"
        payload = {"tx_bytes": base64.b64encode(tx_bytes).decode("ascii")}
        response = await self._request(
            "POST", "/cosmos/tx/v1beta1/simulate", json_body=payload, idempotent=True
        )  # simulation changes no state
        if response.status_code != 200:
            message = _error_message(response)
            lowered = message.lower()
            if "insufficient funds" in lowered:
                raise InsufficientFunds(
                    f"the account cannot pay for this transaction: {message}",
                    hint="fund the account (uakt for fees, uact for deposits) and try again",
                )
            code = _CODE_SEQUENCE_MISMATCH if "account sequence mismatch" in lowered else 0
            raise BroadcastError(f"simulation failed: {message}", code=code, raw_log=message)
        body = self._json(response, what)
        with self._parsing(what):
            gas_used = _int(_dig(body, "gas_info", "gas_used"), "gas_info.gas_used")
        if gas_used <= 0:
            raise ChainError("simulate: the node reported no gas used")
        return gas_used

    async def broadcast(self, tx_bytes: bytes) -> TxResponse:
        """BROADCAST_MODE_SYNC: returns after CheckTx. A non-zero code raises ``BroadcastError``."""
        what = "broadcast"
        payload = {"tx_bytes": base64.b64encode(tx_bytes).decode("ascii"), "mode": "BROADCAST_MODE_SYNC"}
        # Not retried beyond connection failures: the caller decides (it knows the tx hash).
        response = await self._request("POST", "/cosmos/tx/v1beta1/txs", json_body=payload, idempotent=False)
        if response.status_code != 200:
            raise ChainError(f"{what}: HTTP {response.status_code}: {_error_message(response)}")
        body = self._json(response, what)
        with self._parsing(what):
            tx = _parse_tx_response(_dig(body, "tx_response"))
        if tx.code != 0:
            raise BroadcastError(
                f"the chain rejected the transaction (code {tx.code}{', ' + tx.codespace if tx.codespace else ''}): "
                f"{tx.raw_log[:300]}",
                code=tx.code,
                raw_log=tx.raw_log,
            )
        return tx

    async def get_tx(self, tx_hash: str) -> TxResponse | None:
        """The included tx (any code), or ``None`` while it is not in a block yet."""
        what = f"tx {tx_hash}"
        if not re.fullmatch(r"[0-9A-Fa-f]{64}", tx_hash):
            raise ChainError(f"{what}: not a 64-hex-digit tx hash")
        response = await self._request("GET", f"/cosmos/tx/v1beta1/txs/{tx_hash.upper()}", idempotent=True)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            message = _error_message(response)
            if "not found" in message.lower():  # some gateways answer 400/500 "tx not found"
                return None
            raise ChainError(f"{what}: HTTP {response.status_code}: {message}")
        body = self._json(response, what)
        with self._parsing(what):
            return _parse_tx_response(_dig(body, "tx_response"))

    async def wait_for_tx(self, tx_hash: str, timeout_s: float = 60.0, poll_s: float = 1.0) -> TxResponse:
        """Poll until the tx is in a block; ``TxTimeout`` after ``timeout_s``. DeliverTx code is not checked."""
        deadline = time.monotonic() + timeout_s
        while True:
            tx = await self.get_tx(tx_hash)
            if tx is not None:
                return tx
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TxTimeout(
                    f"transaction {tx_hash} was not included within {timeout_s:g} s",
                    hint="it may still be included: look the hash up again before signing anything new",
                )
            await asyncio.sleep(min(poll_s, remaining))
