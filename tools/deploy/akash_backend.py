"""ChainBackend for Akash: chain REST + a signer + provider gateways (mainnet, sandbox-2 or the devnet).

The signer is the local key (``LocalKeySigner``) or the user's browser wallet
(``tools.wallet.BrowserWalletSigner``, asynchronous: ``TxClient.sign_async`` asks it and verifies its answer).

Only settings differ between networks. The signer only ever signs TxBody bytes whose messages pass the
allow-list (``tools.akash.messages.assert_signable``) and that equal the bytes the user confirmed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx

from tools.akash import messages as akash_messages
from tools.akash.cert import CertificateStore, ChainCertificates, ProviderTrust
from tools.akash.gateway import ProviderGateway
from tools.akash.jwt import create_jwt
from tools.akash.rest import AkashRest, Deployment, Lease
from tools.akash.signer import AsyncTxSigner, LocalKeySigner, TxSigner
from tools.akash.tx import TxClient
from tools.deploy.backend import Bid, ChainDeployment, ChainLease, IncludedTx
from tools.deploy.funding import DEFAULT_HALT_RATIO, Balances, BmeState
from tools.deploy.provider_access import ProviderAccess
from tools.errors import ChainError, InsufficientFunds, PolicyDenied
from tools.settings import NectoSettings
from tools.tls import default_ssl_context

log = logging.getLogger(__name__)

DEC_PLACES = Decimal("0.000000000000000001")
BLOCK_TIME_CACHE_S = 600
LEASE_QUERIES_IN_FLIGHT = 8


def tx_body_bytes(msgs: list[Any], memo: str = "") -> bytes:
    import cosmpy.protos  # noqa: F401
    from cosmos.tx.v1beta1 import tx_pb2

    return tx_pb2.TxBody(messages=msgs, memo=memo).SerializeToString()


def tx_body_messages(body: bytes) -> tuple[list[Any], str]:
    import cosmpy.protos  # noqa: F401
    from cosmos.tx.v1beta1 import tx_pb2

    parsed = tx_pb2.TxBody()
    parsed.ParseFromString(body)
    return list(parsed.messages), parsed.memo


class AkashBackend(ProviderAccess):
    def __init__(
        self,
        settings: NectoSettings,
        *,
        rest_url: str,
        signer: TxSigner | AsyncTxSigner | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        faucet: bool = False,
    ) -> None:
        self.settings = settings
        self.network = settings.network
        self.chain_id = settings.effective_chain_id
        self.rest_url = rest_url.rstrip("/")
        self.signer = signer or LocalKeySigner(settings)
        self._transport = transport
        self.faucet = faucet
        self.provider_cache: dict[str, Any] = {}
        self._measured_block_time: Decimal | None = None
        self._pricing_block_time: tuple[Decimal, float] | None = None

    @property
    def address(self) -> str:
        return self.signer.address

    def _rest(self) -> AkashRest:
        # One client per call site keeps this safe across event loops (CLI, Chainlit, tests).
        return AkashRest(self.rest_url, timeout_s=self.settings.http_timeout_s, transport=self._transport)

    # --- bodies -------------------------------------------------------------------------------------
    def create_deployment_body(
        self, *, dseq: int, groups: list[dict[str, Any]], manifest_hash: bytes, deposit_uact: int
    ) -> bytes:
        msg = akash_messages.msg_create_deployment(self.address, dseq, groups, manifest_hash, deposit_uact)
        return tx_body_bytes([msg])

    def create_lease_body(self, *, dseq: int, gseq: int, oseq: int, provider: str, bseq: int) -> bytes:
        return tx_body_bytes([akash_messages.msg_create_lease(self.address, dseq, gseq, oseq, provider, bseq)])

    def close_deployment_body(self, *, dseq: int) -> bytes:
        return tx_body_bytes([akash_messages.msg_close_deployment(self.address, dseq)])

    def mint_act_body(self, *, burn_uakt: int) -> bytes:
        return tx_body_bytes([akash_messages.msg_mint_act(self.address, burn_uakt)])

    def describe(self, body: bytes) -> list[dict[str, Any]]:
        return akash_messages.describe_messages(body)

    # --- signing and broadcasting -------------------------------------------------------------------
    async def sign_and_send(self, body: bytes, *, on_signed: Callable[[str], None]) -> IncludedTx:
        akash_messages.assert_signable(body, self.address)
        msgs, memo = tx_body_messages(body)
        async with self._rest() as rest:
            client = TxClient(rest, self.signer, self.settings)
            prepared = await client.prepare(msgs, memo=memo)
            if prepared.body_bytes != body:
                raise PolicyDenied("The transaction to sign differs from the one you approved; nothing was signed.")
            response = await client.sign_and_broadcast(prepared, on_signed=lambda tx_hash, _bytes: on_signed(tx_hash))
        return IncludedTx(tx_hash=response.txhash, height=int(response.height))

    async def find_tx(self, tx_hash: str) -> IncludedTx | None:
        async with self._rest() as rest:
            response = await rest.get_tx(tx_hash)
        if response is None:
            return None
        return IncludedTx(tx_hash=response.txhash, height=int(response.height))

    # --- queries ------------------------------------------------------------------------------------
    async def deployment_state(self, dseq: int) -> str | None:
        async with self._rest() as rest:
            deployment = await rest.deployment(self.address, dseq)
        return None if deployment is None else deployment.state

    async def escrow_left_uact(self, dseq: int) -> int | None:
        async with self._rest() as rest:
            deployment = await rest.deployment(self.address, dseq)
        if deployment is None:
            return None
        return int(sum((c.amount for c in deployment.escrow_funds if c.denom == "uact"), Decimal(0)))

    async def lease_state(self, dseq: int) -> str | None:
        async with self._rest() as rest:
            leases = await rest.leases(self.address, dseq=dseq)
        return leases[0].state if leases else None

    async def open_deployments(self) -> list[ChainDeployment]:
        # Active leases of the whole account in one query; only deployments without one are looked up
        # one by one (to say how their lease ended). Listing every lease the account ever had could run
        # to many pages on mainnet.
        async with self._rest() as rest:
            deployments = await rest.deployments(self.address, state="active")
            if not deployments:
                return []
            active = await rest.leases(self.address, state="active")
            by_dseq: dict[int, list[Lease]] = {}
            for lease in active:
                by_dseq.setdefault(lease.id.dseq, []).append(lease)
            gate = asyncio.Semaphore(LEASE_QUERIES_IN_FLIGHT)

            async def leases_of(dseq: int) -> list[Lease]:
                async with gate:
                    return await rest.leases(self.address, dseq=dseq)

            missing = [d.dseq for d in deployments if d.dseq not in by_dseq]
            for dseq, leases in zip(missing, await asyncio.gather(*(leases_of(d) for d in missing)), strict=True):
                by_dseq[dseq] = leases
        return [_chain_deployment(d, by_dseq.get(d.dseq, [])) for d in sorted(deployments, key=lambda d: d.dseq)]

    async def latest_height(self) -> int:
        async with self._rest() as rest:
            block = await rest.latest_block()
        return int(block.height)

    async def bids(self, dseq: int) -> list[Bid]:
        async with self._rest() as rest:
            bids = await rest.bids(self.address, dseq)
        return [
            Bid(
                provider=bid.id.provider,
                gseq=bid.id.gseq,
                oseq=bid.id.oseq,
                bseq=bid.id.bseq,
                price_uact_per_block=bid.price.amount,
                denom=bid.price.denom,
                created_height=bid.created_at,
                raw=bid.raw,
            )
            for bid in bids
        ]

    async def provider_info(self, provider: str) -> dict[str, Any]:
        if provider not in self.provider_cache:
            async with self._rest() as rest:
                info = await rest.provider(provider)
            if info is None:
                raise ChainError(f"Provider {provider} is not registered on chain.")
            self.provider_cache[provider] = info.raw or info.model_dump()
        return self.provider_cache[provider]

    async def uact_balance(self) -> int:
        async with self._rest() as rest:
            balances = await rest.balances(self.address)
        return int(balances.get("uact", 0))

    async def balances(self) -> Balances:
        async with self._rest() as rest:
            balances = await rest.balances(self.address)
        return Balances(uact=int(balances.get("uact", 0)), uakt=int(balances.get("uakt", 0)))

    async def bme_state(self) -> BmeState:
        """Whether ACT mints are allowed now (``/akash/bme/v1/status``; akash.md §1)."""
        async with self._rest() as rest:
            status = await rest.bme_status()
        halt = status.raw.get("halt_threshold") if isinstance(status.raw, dict) else None
        try:
            halt_ratio = Decimal(str(halt)) if halt not in (None, "") else DEFAULT_HALT_RATIO
        except ArithmeticError:
            halt_ratio = DEFAULT_HALT_RATIO
        return BmeState(mints_allowed=status.mints_allowed, status=status.status,
                        collateral_ratio=status.collateral_ratio, halt_ratio=halt_ratio)

    async def pricing_block_time_s(self) -> Decimal:
        """Seconds per block for converting prices (pricing.md §2): measured over the last 20 blocks on a
        real network (cached 10 min); the sandbox prices as if it were mainnet (settings.block_time_s), since
        its blocks are accelerated for demos and tests."""
        if self.settings.network == "sandbox":
            return self.settings.block_time_s
        now = time.monotonic()
        if self._pricing_block_time is not None and now - self._pricing_block_time[1] < BLOCK_TIME_CACHE_S:
            return self._pricing_block_time[0]
        try:
            async with self._rest() as rest:
                measured = Decimal(str(await rest.measure_block_time(n=20))).quantize(Decimal("0.001"))
        except ChainError as exc:
            log.warning("block time not measurable (%s); using %s s", exc.message, self.settings.block_time_s)
            return self.settings.block_time_s
        if not Decimal(1) <= measured <= Decimal(60):
            log.warning("measured block time %s s is implausible; using %s s", measured, self.settings.block_time_s)
            return self.settings.block_time_s
        self._pricing_block_time = (measured, now)
        return measured

    async def block_time_s(self) -> Decimal:
        if self.settings.network == "sandbox" and self._measured_block_time is None:
            try:
                async with self._rest() as rest:
                    self._measured_block_time = Decimal(str(await rest.measure_block_time(n=5)))
            except ChainError:
                self._measured_block_time = self.settings.block_time_s
        return self._measured_block_time or self.settings.block_time_s

    async def akt_usd(self) -> Decimal | None:
        try:
            async with self._rest() as rest:
                price = await rest.akt_price()
        except ChainError as exc:
            log.warning("AKT oracle price unavailable: %s", exc.message)
            return None
        health = price.raw.get("price_health") if isinstance(price.raw, dict) else None
        if isinstance(health, dict) and health.get("is_healthy") is False:
            # The oracle itself says its sources disagree or went quiet: a number is worse than none.
            log.warning("AKT oracle price reported unhealthy; not used")
            return None
        return price.usd if price.usd and price.usd > 0 else None

    async def ensure_funds(self, *, need_uact: int) -> None:
        async with self._rest() as rest:
            balances = await rest.balances(self.address)
            uact, uakt = int(balances.get("uact", 0)), int(balances.get("uakt", 0))
            if uact >= need_uact and uakt >= self.settings.max_fee_uakt:
                return
            if self.faucet:
                async with httpx.AsyncClient(
                    transport=self._transport, timeout=self.settings.http_timeout_s, verify=default_ssl_context()
                ) as http:
                    answer = await http.post(f"{self.rest_url}/necto-devnet/faucet", json={"address": self.address})
                    if answer.status_code != 200:
                        raise InsufficientFunds(f"The sandbox faucet refused ({answer.status_code}).")
                balances = await rest.balances(self.address)
                uact = int(balances.get("uact", 0))
                if uact >= need_uact:
                    return
        raise InsufficientFunds(
            f"Your account {self.address} has {uact / 1e6:g} ACT but the deposit needs {need_uact / 1e6:g} ACT "
            f"(and {uakt / 1e6:g} AKT for fees).",
            hint="Ask Necto to mint ACT from your AKT (e.g. 'mint 20 ACT'; it shows a card first), or lower the "
            "deposit; on sandbox-2 use the faucet.",
        )

    # --- provider gateway ------------------------------------------------------------------------------
    def _gateway(self, host_uri: str) -> ProviderGateway:
        # A browser wallet signs provider tokens asynchronously (ES256KADR36 via signArbitrary, cached).
        provider_jwt = getattr(self.signer, "provider_jwt", None)
        return ProviderGateway(
            host_uri,
            jwt_factory=provider_jwt or (lambda: create_jwt(self.signer, iss=self.address)),
            timeout_s=self.settings.http_timeout_s,
            verify=self.settings.provider_tls_verify,
            # Plain http only for the loopback devnet: the bearer JWT is a credential.
            allow_http=self.settings.network == "sandbox",
            # https providers: certificate checked against the chain; mTLS fallback if a client cert exists.
            trust=self._provider_trust(),
            client_certificate=CertificateStore(self.settings.effective_key_dir).load(self.address),
            auth=self.settings.provider_auth,
        )

    def _provider_trust(self) -> ProviderTrust:
        trust = getattr(self, "_trust", None)
        if trust is None:
            chain = ChainCertificates(
                self.rest_url, timeout_s=self.settings.http_timeout_s, transport=self._transport
            )
            trust = self._trust = ProviderTrust(chain)
        return trust


def _chain_deployment(deployment: Deployment, leases: list[Lease]) -> ChainDeployment:
    return ChainDeployment(
        owner=deployment.owner,
        dseq=deployment.dseq,
        state=deployment.state,
        escrow_left_uact=int(sum((c.amount for c in deployment.escrow_funds if c.denom == "uact"), Decimal(0))),
        created_height=deployment.created_at,
        escrow_state=deployment.escrow_state or "",
        version=deployment.hash_hex,
        leases=tuple(
            ChainLease(
                provider=lease.id.provider,
                gseq=lease.id.gseq,
                oseq=lease.id.oseq,
                bseq=lease.id.bseq,
                state=lease.state,
                price_per_block=lease.price.amount,
                denom=lease.price.denom,
                created_height=lease.created_at,
                closed_height=lease.closed_on,
                reason="" if lease.state == "active" else lease.reason,
            )
            for lease in sorted(leases, key=lambda lease: (lease.id.gseq, lease.id.oseq, lease.created_at))
        ),
    )
