"""ChainBackend for the Akash Console managed-wallet rail: Console signs and pays, Necto plans and checks.

The deploy state machine (tools.deploy.machine), the service, the agent and the UI are the same for both
rails. The protocol is shaped around bytes that a local key signs; on this rail nothing is signed locally,
so the smallest honest reading is used:

- a "body" is the canonical JSON of exactly one Console request: ``{"rail": "console", "method", "path",
  "json", "expect"}``. ``json`` is what Console receives, verbatim (``POST /v1/deployments {data: {sdl,
  deposit}}``, ``POST /v1/leases {manifest, leases}``, ``DELETE /v1/deployments/{dseq}``); ``expect`` is what
  Necto checks Console's answer against (the manifest hash of Necto's own compile of the same SDL, the
  deposit the user approved). The plan hash covers these bytes, so approving a card approves exactly one
  Console request, and nothing reaches Console before that (security.md rule 1).
- ``describe`` decodes a body for the card: the rail, the route, the deposit in USD, the SDL's sha256.
- ``sign_and_send`` sends the body's request (only the three routes above) and returns an ``IncludedTx``:
  the create carries Console's chain tx hash and the dseq Console chose (the machine adopts it); the lease
  and the close have no tx hash in Console's answer, so they carry a ``console:...`` reference instead.
- after a create, the manifest Console returns and the hash it put on chain must equal Necto's; the deposit
  in escrow must not exceed the approved one. On any difference Necto closes the deployment at once (the
  deposit returns to the Console credit) and refuses with ``PolicyDenied``.
- balances are Console's USD credit, counted in micro-USD (1 ACT is treated as 1 USD, akash.md §6), so the
  machine's "balance after close minus before" is still the refund.
- status, logs and the manifest go to the provider gateway with a provider JWT from ``/v1/create-jwt-token``.
- public chain facts (block height and pace, providers, the AKT oracle, a tx by hash) come from the chain
  REST as on the self-custody rail; this backend holds no key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from tools.akash.gateway import ProviderGateway
from tools.console.client import ConsoleClient, DeploymentDetail
from tools.console.errors import ConsoleCreditExhausted, ConsoleError, ConsoleNotFound, ConsoleRefused
from tools.deploy.backend import Bid, ChainDeployment, ChainLease, IncludedTx
from tools.deploy.provider_access import ProviderAccess
from tools.errors import BroadcastError, ChainError, PolicyDenied
from tools.settings import NectoSettings
from tools.text import clean_text

log = logging.getLogger(__name__)

RAIL = "console"
MICRO = Decimal(1_000_000)
JWT_TTL_S = 600
JWT_REFRESH_S = 60  # fetch a new provider token when the cached one has less than this left
CONFIRM_ATTEMPTS = 5  # reads of a just-created deployment before Necto gives up confirming it
PAGE = 100
MAX_PAGES = 50

# (method, path prefix) of the only Console requests a body may carry (security.md rule 4).
CREATE, LEASE, CLOSE = ("POST", "/v1/deployments"), ("POST", "/v1/leases"), ("DELETE", "/v1/deployments/")

ManifestLookup = Callable[[str, int], "str | None"]
_NO_MINT = "On the Console payment rail there is no ACT to mint: Akash Console funds deposits from your USD credit."
_NO_MINT_HINT = "Add credit in Akash Console (Billing); or set NECTO_PAYMENT_RAIL=self to pay with your own key."
T = TypeVar("T")


@dataclass(frozen=True)
class ConsoleRequest:
    method: str
    path: str
    json: Any
    expect: dict[str, Any]

    @property
    def route(self) -> tuple[str, str]:
        if (self.method, self.path) in (CREATE, LEASE):
            return self.method, self.path
        if self.method == CLOSE[0] and self.path.startswith(CLOSE[1]) and self.path[len(CLOSE[1]):].isdigit():
            return CLOSE
        raise PolicyDenied(f"Necto does not send {self.method} {self.path} to Akash Console.")


def request_body(method: str, path: str, payload: Any, expect: dict[str, Any]) -> bytes:
    """The canonical bytes of one Console request (sorted keys, no spaces): what the plan hash covers."""
    document = {"rail": RAIL, "method": method, "path": path, "json": payload, "expect": expect}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_request(body: bytes) -> ConsoleRequest:
    try:
        document = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise PolicyDenied("This is not a Console request Necto built; nothing was sent.") from None
    if not isinstance(document, dict) or document.get("rail") != RAIL:
        raise PolicyDenied("This is not a Console request Necto built; nothing was sent.")
    request = ConsoleRequest(
        method=str(document.get("method")), path=str(document.get("path")), json=document.get("json"),
        expect=document.get("expect") if isinstance(document.get("expect"), dict) else {},
    )
    request.route  # noqa: B018 - the allow-list check
    return request


def is_console_body(body: bytes) -> bool:
    """Whether stored plan bytes are a Console request (the rail that pays for that plan)."""
    try:
        parse_request(body)
    except PolicyDenied:
        return False
    return True


def manifest_sha256(manifest_text: str) -> str | None:
    """sha256 (hex) of a manifest re-encoded the way providers hash it (akash.md §4); None if not JSON."""
    from tools.sdl.canonical_json import manifest_json_bytes

    try:
        return hashlib.sha256(manifest_json_bytes(json.loads(manifest_text))).hexdigest()
    except (ValueError, TypeError):
        return None


def ledger_manifests(ledger: Any) -> ManifestLookup:
    """The manifest Necto compiled and the user approved for (owner address, dseq), as the ledger keeps it
    with the job; the lease request sends exactly that (Console's own copy is only compared)."""
    from sqlmodel import select

    from tools.ledger.models import Job

    def lookup(owner_address: str, dseq: int) -> str | None:
        with ledger.session() as session:
            job = session.exec(
                select(Job).where(Job.account == owner_address, Job.dseq == dseq).order_by(Job.created_at.desc())
            ).first()
        return job.manifest_json if job is not None and job.manifest_json else None

    return lookup


class _NoLocalKey:
    """The chain reader's "signer": this rail has no local key, and a read never needs one."""

    def __init__(self, address: Callable[[], str]) -> None:
        self._address = address

    @property
    def address(self) -> str:
        return self._address()

    def __repr__(self) -> str:
        return "NoLocalKey()"


class ConsoleBackend(ProviderAccess):
    rail = RAIL
    faucet = False  # Console bills a card; there is nothing to top up from a faucet
    # Console picks the dseq of a create: ``sign_and_send`` reports it through ``on_dseq`` as soon as Console
    # answers, before anything else, so a crash after that point resumes on the real deployment.
    chooses_dseq = True

    def __init__(
        self,
        settings: NectoSettings,
        *,
        console_url: str,
        api_key: SecretStr,
        rest_url: str,
        manifests: ManifestLookup,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        from tools.deploy.akash_backend import AkashBackend

        self.settings = settings
        self.network = settings.network
        self.chain_id = settings.effective_chain_id
        self.console_url = console_url.rstrip("/")
        self._api_key = api_key
        self._transport = transport
        self._manifests = manifests
        self._address: str | None = None
        self._jwt: tuple[str, float] | None = None
        self._chain = AkashBackend(
            settings, rest_url=rest_url, signer=_NoLocalKey(lambda: self.address), transport=transport  # type: ignore[arg-type]
        )

    def __repr__(self) -> str:
        return f"ConsoleBackend({self.console_url!r})"

    def _console(self) -> ConsoleClient:
        # One client per call site keeps this safe across event loops (CLI, Chainlit, tests).
        return ConsoleClient(self.console_url, self._api_key, timeout_s=self.settings.http_timeout_s,
                             transport=self._transport)

    # --- the managed wallet ----------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The managed wallet's chain address (it owns the deployments Console creates)."""
        if self._address is None:
            self._address = _run_blocking(self._wallet_address())
        return self._address

    async def owner(self) -> str:
        if self._address is None:
            self._address = await self._wallet_address()
        return self._address

    async def _wallet_address(self) -> str:
        async with self._console() as console:
            return (await console.wallet()).address

    @property
    def provider_cache(self) -> dict[str, Any]:
        return self._chain.provider_cache

    async def ensure_funds(self, *, need_uact: int) -> None:
        await self.owner()
        async with self._console() as console:
            balances = await console.balances()
        if balances.balance * MICRO >= need_uact:
            return
        raise ConsoleCreditExhausted(
            f"Your Akash Console credit is ${balances.balance:.2f} but this deposit needs "
            f"${Decimal(need_uact) / MICRO:.2f}.",
            hint="Add credit in Akash Console (Billing), or ask for a smaller or shorter deployment.",
        )

    async def uact_balance(self) -> int:
        """The Console credit in micro-USD (1 ACT = 1 USD), so a close's refund is still after - before."""
        async with self._console() as console:
            balances = await console.balances()
        return int(balances.balance * MICRO)

    # ACT minting (tools.deploy.funding) is the self-custody rail's business: Console pays deposits itself.
    async def balances(self) -> Any:
        raise PolicyDenied(_NO_MINT, hint=_NO_MINT_HINT)

    async def bme_state(self) -> Any:
        raise PolicyDenied(_NO_MINT, hint=_NO_MINT_HINT)

    def mint_act_body(self, *, burn_uakt: int) -> bytes:
        raise PolicyDenied(_NO_MINT, hint=_NO_MINT_HINT)

    # --- bodies: one Console request each --------------------------------------------------------------
    def create_deployment_body(
        self, *, dseq: int, groups: list[dict[str, Any]], manifest_hash: bytes, deposit_uact: int, sdl: str = ""
    ) -> bytes:
        """``POST /v1/deployments {data: {sdl, deposit}}``. Console compiles the SDL itself and picks the dseq;
        ``dseq`` here is only Necto's placeholder until Console answers. ``groups`` are not sent (Console
        builds them from the SDL); the manifest hash is what its answer must match."""
        if not sdl:
            raise PolicyDenied("The Console rail sends the SDL itself, and none was given; nothing was planned.")
        payload = {"data": {"sdl": sdl, "deposit": Decimal(deposit_uact) / MICRO}}
        expect = {"manifest_hash": manifest_hash.hex(), "deposit_uact": int(deposit_uact), "placeholder_dseq": dseq}
        return request_body(*CREATE, _plain(payload), expect)

    def create_lease_body(self, *, dseq: int, gseq: int, oseq: int, provider: str, bseq: int) -> bytes:
        """``POST /v1/leases`` with the approved manifest: Console creates the lease and sends the manifest."""
        manifest = self._manifests(self.address, dseq)
        if manifest is None:
            raise PolicyDenied(
                f"Necto has no approved manifest for deployment {dseq}; no lease was requested.",
                hint="Close the deployment and deploy again.",
            )
        payload = {"manifest": manifest, "leases": [{"dseq": str(dseq), "gseq": gseq, "oseq": oseq, "provider": provider}]}
        return request_body(*LEASE, payload, {"bseq": bseq, "manifest_hash": manifest_sha256(manifest)})

    def close_deployment_body(self, *, dseq: int) -> bytes:
        return request_body(CLOSE[0], f"{CLOSE[1]}{int(dseq)}", None, {"dseq": int(dseq)})

    def describe(self, body: bytes) -> list[dict[str, Any]]:
        request = parse_request(body)
        base = {"type_url": f"console:{request.method} {request.path}", "rail": RAIL}
        if request.route == CREATE:
            data = request.json["data"]
            return [{**base, "type": "Console: create deployment", "fields": {
                "signer": "Akash Console managed wallet",
                "deposit_usd": str(Decimal(str(data["deposit"]))),
                "sdl_sha256": hashlib.sha256(str(data["sdl"]).encode()).hexdigest(),
                "manifest_hash": request.expect.get("manifest_hash"),
            }}]
        if request.route == LEASE:
            return [{**base, "type": "Console: create lease and send manifest", "fields": {
                "leases": request.json["leases"], "manifest_hash": request.expect.get("manifest_hash"),
            }}]
        return [{**base, "type": "Console: close deployment", "fields": {"dseq": request.expect.get("dseq")}}]

    # --- sending ---------------------------------------------------------------------------------------
    async def sign_and_send(
        self, body: bytes, *, on_signed: Callable[[str], None], on_dseq: Callable[[int], None] | None = None
    ) -> IncludedTx:
        """Send the body's one Console request (Console signs with the managed wallet) and check the answer.

        A create reports the dseq Console chose to ``on_dseq`` first, then its chain tx hash to ``on_signed``,
        both before Necto reads the deployment back to check it."""
        request = parse_request(body)
        await self.owner()
        if request.route == CREATE:
            return await self._create(request, on_signed, on_dseq)
        if request.route == LEASE:
            return await self._lease(request, on_signed)
        return await self._close(request, on_signed)

    async def _create(
        self, request: ConsoleRequest, on_signed: Callable[[str], None], on_dseq: Callable[[int], None] | None
    ) -> IncludedTx:
        data = request.json["data"]
        async with self._console() as console:
            created = await console.create_deployment(str(data["sdl"]), Decimal(str(data["deposit"])))
            if created.sign_tx.code != 0:
                raw_log = clean_text(created.sign_tx.raw_log, 300)
                raise BroadcastError(f"Console's create transaction failed (code {created.sign_tx.code}): {raw_log}",
                                     code=created.sign_tx.code, raw_log=raw_log)
            # The deposit is in escrow from here on: the ledger learns the real dseq before anything else.
            if on_dseq is not None:
                on_dseq(created.dseq)
            on_signed(created.sign_tx.transaction_hash)
            detail = await self._read_created(console, created.dseq)
            await self._refuse_mismatch(console, created.dseq, detail, request.expect, created.manifest)
        assert detail is not None
        return IncludedTx(tx_hash=created.sign_tx.transaction_hash, height=detail.deployment.created_at,
                          dseq=created.dseq)

    async def _refuse_mismatch(
        self, console: ConsoleClient, dseq: int, detail: DeploymentDetail | None, expect: dict[str, Any],
        manifest: str | None,
    ) -> None:
        """Close Console's deployment at once and raise ``PolicyDenied`` if it is not what the user approved."""
        problem = self._mismatch(manifest, detail, expect, dseq)
        if not problem:
            return
        try:
            await console.close_deployment(dseq)
            outcome = " Necto closed it at once; the unspent deposit returns to your Console credit."
        except ConsoleError as exc:
            outcome = f" Closing it failed ({exc.message}); close deployment {dseq} in Akash Console."
        log.warning("console deployment %s refused: %s", dseq, problem)
        raise PolicyDenied(problem + outcome, hint="Nothing else was sent. Try again; if it repeats, use "
                           "the self-custody rail (NECTO_PAYMENT_RAIL=self).")

    async def confirm_created(self, body: bytes, dseq: int) -> None:
        """The read-back checks of a create, for a deployment found on resume (Necto stopped after Console
        answered, before it checked): owner, manifest hash on chain and escrow against the approved ``body``."""
        request = parse_request(body)
        if request.route != CREATE:
            raise PolicyDenied("This is not a Console create request; nothing was checked.")
        await self.owner()
        async with self._console() as console:
            detail = await self._read_created(console, dseq)
            await self._refuse_mismatch(console, dseq, detail, request.expect, None)

    async def _read_created(self, console: ConsoleClient, dseq: int) -> DeploymentDetail | None:
        for attempt in range(CONFIRM_ATTEMPTS):
            detail = await console.deployment(dseq)
            if detail is not None:
                return detail
            await asyncio.sleep(0.5 * (attempt + 1))
        return None

    def _mismatch(
        self, manifest: str | None, detail: DeploymentDetail | None, expect: dict[str, Any], dseq: int
    ) -> str:
        """What differs between Console's deployment and the approved plan ("" when nothing does); ``manifest``
        is Console's answer to the create (None on resume: only the chain's copy is left to check)."""
        approved = str(expect.get("manifest_hash", ""))
        if manifest is not None and manifest_sha256(manifest) != approved:
            return f"Console's manifest for deployment {dseq} differs from the one you approved."
        if detail is None:
            return f"Console created deployment {dseq} but Necto could not read it back to check it."
        if detail.deployment.id.owner != self._address:
            return f"Deployment {dseq} is owned by {detail.deployment.id.owner}, not your managed wallet."
        try:
            on_chain = base64.b64decode(detail.deployment.hash, validate=True).hex()
        except (binascii.Error, ValueError):
            on_chain = ""
        if on_chain != approved:
            return f"The manifest hash on chain for deployment {dseq} differs from the one you approved."
        escrow = detail.escrow_account
        held = 0
        if escrow is not None and escrow.state is not None:
            held = int(sum((c.amount for c in [*escrow.state.funds, *escrow.state.transferred] if c.denom == "uact"),
                           Decimal(0)))
        if held > int(expect.get("deposit_uact", 0)):
            return (f"Console put ${Decimal(held) / MICRO:.2f} in escrow for deployment {dseq}, more than the "
                    f"${Decimal(int(expect.get('deposit_uact', 0))) / MICRO:.2f} you approved.")
        return ""

    async def _lease(self, request: ConsoleRequest, on_signed: Callable[[str], None]) -> IncludedTx:
        wanted = request.json["leases"][0]
        dseq, gseq, oseq, provider = int(wanted["dseq"]), int(wanted["gseq"]), int(wanted["oseq"]), wanted["provider"]
        reference = f"console:lease:{dseq}/{gseq}/{oseq}/{provider}"
        on_signed(reference)
        try:
            async with self._console() as console:
                answer = await console.create_leases(request.json["manifest"], request.json["leases"])
        except (ConsoleRefused, ConsoleNotFound) as exc:
            # The bid closed or the provider went away: the machine blocks it and tries the next bid.
            raise BroadcastError(f"Console did not create the lease: {exc.message}") from None
        lease = next((lease for lease in answer.leases if lease.state == "active" and lease.id.provider == provider
                      and (lease.id.gseq, lease.id.oseq) == (gseq, oseq)), None)
        if lease is None:
            raise BroadcastError(f"Console answered without an active lease with {provider}.")
        return IncludedTx(tx_hash=reference, height=lease.created_at)

    async def _close(self, request: ConsoleRequest, on_signed: Callable[[str], None]) -> IncludedTx:
        dseq = int(request.expect["dseq"])
        reference = f"console:close:{dseq}"
        on_signed(reference)
        async with self._console() as console:
            if not await console.close_deployment(dseq):
                raise ChainError(f"Akash Console could not close deployment {dseq}.",
                                 hint="Try again, or close it in Akash Console.")
        try:
            height = await self._chain.latest_height()
        except ChainError:
            height = 0
        return IncludedTx(tx_hash=reference, height=height)

    async def find_tx(self, tx_hash: str) -> IncludedTx | None:
        """The chain tx Console signed; for a create, with the dseq of the deployment it made (from the tx's
        events), so a job that lost Console's answer finds its deployment again."""
        if tx_hash.startswith("console:"):
            return None  # a reference, not a chain transaction
        async with self._chain._rest() as rest:
            response = await rest.get_tx(tx_hash)
        if response is None:
            return None
        dseq = _created_dseq(response.events, await self.owner()) if response.code == 0 else None
        return IncludedTx(tx_hash=response.txhash, height=int(response.height), dseq=dseq)

    # --- Console reads --------------------------------------------------------------------------------
    async def _detail(self, dseq: int) -> DeploymentDetail | None:
        async with self._console() as console:
            return await console.deployment(dseq)

    async def deployment_state(self, dseq: int) -> str | None:
        detail = await self._detail(dseq)
        return None if detail is None else detail.deployment.state

    async def lease_state(self, dseq: int) -> str | None:
        detail = await self._detail(dseq)
        return detail.leases[0].state if detail is not None and detail.leases else None

    async def escrow_left_uact(self, dseq: int) -> int | None:
        detail = await self._detail(dseq)
        if detail is None:
            return None
        return detail.escrow_account.funds_uact if detail.escrow_account is not None else 0

    async def bids(self, dseq: int) -> list[Bid]:
        async with self._console() as console:
            entries = await console.bids(dseq)
        bids = []
        for entry in entries:
            bid = entry["bid"]
            bids.append(Bid(
                provider=str(bid["id"]["provider"]), gseq=int(bid["id"]["gseq"]), oseq=int(bid["id"]["oseq"]),
                bseq=int(bid["id"].get("bseq", 0)), price_uact_per_block=Decimal(str(bid["price"]["amount"])),
                denom=str(bid["price"]["denom"]), created_height=int(bid["created_at"]), raw=_plain(entry),
            ))
        return bids

    async def open_deployments(self) -> list[ChainDeployment]:
        owner = await self.owner()
        found: list[DeploymentDetail] = []
        async with self._console() as console:
            for page in range(MAX_PAGES):
                listed = await console.deployments(skip=page * PAGE, limit=PAGE)
                found.extend(listed.deployments)
                if not listed.pagination.has_more or not listed.deployments:
                    break
        return sorted(
            (_chain_deployment(d) for d in found if d.deployment.state == "active" and d.deployment.id.owner == owner),
            key=lambda d: d.dseq,
        )

    # --- public chain facts ---------------------------------------------------------------------------
    async def latest_height(self) -> int:
        return await self._chain.latest_height()

    async def block_time_s(self) -> Decimal:
        return await self._chain.block_time_s()

    async def pricing_block_time_s(self) -> Decimal:
        return await self._chain.pricing_block_time_s()

    async def akt_usd(self) -> Decimal | None:
        return await self._chain.akt_usd()

    async def provider_info(self, provider: str) -> dict[str, Any]:
        return await self._chain.provider_info(provider)

    # --- provider gateway, with Console's JWT -----------------------------------------------------------
    async def _provider_jwt(self) -> str:
        now = time.time()
        if self._jwt is not None and self._jwt[1] - now > JWT_REFRESH_S:
            return self._jwt[0]
        async with self._console() as console:
            token = await console.create_jwt(ttl_s=JWT_TTL_S)
        self._jwt = (token, now + JWT_TTL_S)
        return token

    def _gateway(self, host_uri: str) -> ProviderGateway:
        return ProviderGateway(
            host_uri, jwt_factory=self._provider_jwt, timeout_s=self.settings.http_timeout_s,
            verify=self.settings.provider_tls_verify,
            # Plain http only for the loopback devnet: the bearer JWT is a credential.
            allow_http=self.settings.network == "sandbox",
        )


def _created_dseq(events: list[dict[str, Any]], owner: str) -> int | None:
    """The dseq of the deployment ``owner`` created in a tx, from its events: the typed
    ``akash.deployment.v1.EventDeploymentCreated`` (``id`` = {owner, dseq}) or the legacy ``akash.v1`` message
    event (module deployment, action deployment-created, owner, dseq). None when there is none."""
    for event in events or []:
        if not isinstance(event, dict):
            continue
        attributes = {str(a.get("key")): str(a.get("value")) for a in event.get("attributes") or []
                      if isinstance(a, dict)}
        if event.get("type") == "akash.deployment.v1.EventDeploymentCreated":
            try:
                ident = json.loads(attributes.get("id", ""))
            except ValueError:
                continue
            found_owner, dseq = (ident.get("owner"), ident.get("dseq")) if isinstance(ident, dict) else (None, None)
        elif event.get("type") == "akash.v1" and attributes.get("action") == "deployment-created":
            found_owner, dseq = attributes.get("owner"), attributes.get("dseq")
        else:
            continue
        if found_owner == owner and str(dseq).isdigit():
            return int(str(dseq))
    return None


def _plain(value: Any) -> Any:
    """JSON-ready copy: Decimals become JSON numbers (floats print the few decimals of a USD amount
    exactly) inside request payloads, and strings where they came from string fields."""
    return json.loads(json.dumps(value, default=lambda v: float(v) if isinstance(v, Decimal) else str(v)))


def _chain_deployment(detail: DeploymentDetail) -> ChainDeployment:
    try:
        version = base64.b64decode(detail.deployment.hash, validate=True).hex()
    except (binascii.Error, ValueError):
        version = ""
    escrow = detail.escrow_account
    return ChainDeployment(
        owner=detail.deployment.id.owner,
        dseq=detail.deployment.id.dseq,
        state=detail.deployment.state,
        escrow_left_uact=escrow.funds_uact if escrow is not None else 0,
        created_height=detail.deployment.created_at,
        escrow_state=escrow.state.state if escrow is not None and escrow.state is not None else "",
        version=version,
        leases=tuple(
            ChainLease(
                provider=lease.id.provider, gseq=lease.id.gseq, oseq=lease.id.oseq, bseq=lease.id.bseq,
                state=lease.state, price_per_block=lease.price.amount, denom=lease.price.denom,
                created_height=lease.created_at, closed_height=lease.closed_on,
                reason="" if lease.state == "active" else lease.reason,
            )
            for lease in sorted(detail.leases, key=lambda lease: (lease.id.gseq, lease.id.oseq, lease.created_at))
        ),
    )


def _run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also when this thread already runs an event loop
    (then on a short-lived worker thread: once per process, to learn the wallet address)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="necto-console") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def build_console_backend(settings: NectoSettings, *, console_url: str | None, rest_url: str, ledger: Any) -> ConsoleBackend:
    """The Console rail from settings: the Console URL (preset or devnet), the API key (the sandbox devnet has
    its own), the chain REST for public reads, and the ledger's approved manifests."""
    from tools.errors import InvalidRequest

    if not console_url:
        raise InvalidRequest(
            f"The Console payment rail needs the Akash Console API URL, and network {settings.network} has none.",
            hint="Set NECTO_CONSOLE_API_URL (mainnet: https://console-api.akash.network), or NECTO_PAYMENT_RAIL=self.",
        )
    api_key = settings.console_api_key
    if api_key is None and settings.network == "sandbox":
        from devnet.console_api import SANDBOX_CONSOLE_API_KEY

        api_key = SecretStr(SANDBOX_CONSOLE_API_KEY)
    if api_key is None or not api_key.get_secret_value():
        raise InvalidRequest(
            "NECTO_PAYMENT_RAIL=console needs an Akash Console API key.",
            hint="Create one in Akash Console (Settings > API keys) and set NECTO_CONSOLE_API_KEY.",
        )
    return ConsoleBackend(settings, console_url=console_url, api_key=api_key, rest_url=rest_url,
                          manifests=ledger_manifests(ledger))
