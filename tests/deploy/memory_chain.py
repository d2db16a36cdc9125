"""An in-memory ChainBackend: a real implementation of the interface with switches for failure modes.

Bodies are JSON (not protobuf): this fake exercises the state machine, not the wire format (the devnet
tests do that). It counts what was signed so tests can prove nothing is ever paid twice.

Reconcile switches: ``add_untracked`` (a deployment the ledger never heard of), ``lose_lease`` (the provider
ends the lease), ``set_escrow`` (escrow running low) and ``close_outside`` (closed behind Necto's back).
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from tools.deploy.backend import Bid, ChainDeployment, ChainLease, IncludedTx, LeaseReadiness
from tools.errors import BroadcastError, ManifestRejected


class Crash(BaseException):
    """Simulates the process dying (not an Exception: nothing may catch and continue)."""


class MemoryChain:
    network = "sandbox"
    chain_id = "necto-sandbox-1"

    def __init__(self, *, bids: list[tuple[str, str]] | None = None, balance_uact: int = 100_000_000) -> None:
        self.height = 100
        self.balance_uact = balance_uact
        self.deployments: dict[int, dict] = {}
        self.txs: dict[str, IncludedTx] = {}
        self.signed: list[dict] = []
        self.offered_bids = bids if bids is not None else [("akash1cheap", "5"), ("akash1dear", "9")]
        self.reject_manifest = False
        self.crash_after_sign = False
        self.drop_broadcast = False
        self.ready_after_polls = 1
        self.refuse_lease_for: set[str] = set()  # providers whose lease tx fails in DeliverTx
        self._polls = 0

    @property
    def address(self) -> str:
        return "akash1owner"

    async def ensure_funds(self, *, need_uact: int) -> None:
        return None

    def create_deployment_body(self, *, dseq, groups, manifest_hash, deposit_uact) -> bytes:
        return json.dumps({"type": "create", "dseq": dseq, "deposit": deposit_uact}).encode()

    def create_lease_body(self, *, dseq, gseq, oseq, provider, bseq) -> bytes:
        return json.dumps({"type": "lease", "dseq": dseq, "provider": provider}).encode()

    def close_deployment_body(self, *, dseq) -> bytes:
        return json.dumps({"type": "close", "dseq": dseq}).encode()

    def describe(self, body: bytes) -> list[dict]:
        return [json.loads(body)]

    async def sign_and_send(self, body: bytes, *, on_signed) -> IncludedTx:
        msg = json.loads(body)
        tx_hash = hashlib.sha256(body + str(len(self.signed)).encode()).hexdigest().upper()
        self.signed.append(msg)
        on_signed(tx_hash)
        if msg["type"] == "lease" and msg["provider"] in self.refuse_lease_for:
            raise BroadcastError("bid not open", code=11, raw_log="bid not open")
        if self.drop_broadcast and msg["type"] == "create":
            raise Crash("died before the node saw the tx")
        self._apply(msg)
        self.height += 1
        included = IncludedTx(tx_hash=tx_hash, height=self.height)
        self.txs[tx_hash] = included
        if self.crash_after_sign and msg["type"] == "create":
            raise Crash("died after broadcasting")
        return included

    def _apply(self, msg: dict) -> None:
        if msg["type"] == "create":
            self.balance_uact -= msg["deposit"]
            self.deployments[msg["dseq"]] = {"state": "active", "escrow": msg["deposit"], "lease": None,
                                             "created": self.height + 1}
        elif msg["type"] == "lease":
            price = dict(self.offered_bids).get(msg["provider"], "1")
            self.deployments[msg["dseq"]].update(lease=msg["provider"], lease_state="active", price=Decimal(price),
                                                 lease_created=self.height + 1, lease_reason="")
        elif msg["type"] == "close":
            d = self.deployments[msg["dseq"]]
            spent = 3 if d["lease"] else 0
            self.balance_uact += d["escrow"] - spent
            d["state"] = "closed"

    async def find_tx(self, tx_hash):
        return self.txs.get(tx_hash)

    async def deployment_state(self, dseq):
        d = self.deployments.get(dseq)
        return None if d is None else d["state"]

    async def escrow_left_uact(self, dseq):
        d = self.deployments.get(dseq)
        return None if d is None else d["escrow"]

    async def lease_state(self, dseq):
        d = self.deployments.get(dseq, {})
        return d.get("lease_state", "active") if d.get("lease") else None

    async def latest_height(self) -> int:
        self.height += 1
        return self.height

    async def bids(self, dseq):
        return [
            Bid(provider=p, gseq=1, oseq=1, bseq=0, price_uact_per_block=Decimal(price), denom="uact",
                created_height=self.height, raw={"bid": {"state": "open"}})
            for p, price in self.offered_bids
        ]

    async def provider_info(self, provider):
        return {"owner": provider, "host_uri": f"https://{provider}.example:8443",
                "attributes": [{"key": "organization", "value": provider.removeprefix("akash1")}]}

    async def uact_balance(self) -> int:
        return self.balance_uact

    async def send_manifest(self, host_uri, dseq, manifest_json):
        if self.reject_manifest:
            raise ManifestRejected("the provider computed a different manifest hash")

    async def lease_readiness(self, host_uri, dseq, gseq, oseq):
        self._polls += 1
        ready = self._polls >= self.ready_after_polls
        return LeaseReadiness(ready=ready, uris=["abc.ingress.example"] if ready else [], forwarded_ports=[], services={})

    async def logs(self, host_uri, dseq, gseq, oseq, *, tail, follow, services):
        for i in range(3):
            yield {"service": "web", "message": f"line {i}"}

    async def block_time_s(self) -> Decimal:
        return Decimal("0.01")

    async def akt_usd(self):
        return Decimal("1.25")

    async def open_deployments(self) -> list[ChainDeployment]:
        found = []
        for dseq, d in sorted(self.deployments.items()):
            if d["state"] != "active":
                continue
            leases = ()
            if d.get("lease"):
                leases = (ChainLease(provider=d["lease"], gseq=1, oseq=1, bseq=0, state=d.get("lease_state", "active"),
                                     price_per_block=d.get("price", Decimal(1)), denom="uact",
                                     created_height=d.get("lease_created", 0), reason=d.get("lease_reason", "")),)
            found.append(ChainDeployment(owner=self.address, dseq=dseq, state="active", escrow_left_uact=d["escrow"],
                                         created_height=d.get("created", 0), escrow_state="open", leases=leases))
        return found

    # --- reconcile switches ----------------------------------------------------------------------------
    def add_untracked(self, dseq: int, *, escrow_uact: int = 500_000, provider: str | None = None,
                      price: str = "5") -> None:
        """A deployment of this account that no ledger job knows (Necto crashed before writing, or another
        tool made it); with ``provider`` it also has an active lease."""
        self.balance_uact -= escrow_uact
        self.deployments[dseq] = {"state": "active", "escrow": escrow_uact, "lease": None, "created": self.height}
        if provider:
            self.deployments[dseq].update(lease=provider, lease_state="active", price=Decimal(price),
                                          lease_created=self.height, lease_reason="")

    def lose_lease(self, dseq: int, *, reason: str = "lease_closed_unstable") -> None:
        """The provider ends the lease (restart, eviction); the deployment and its escrow stay open."""
        self.deployments[dseq].update(lease_state="closed", lease_reason=reason)

    def set_escrow(self, dseq: int, uact: int) -> None:
        """Escrow left on the deployment (e.g. a low value: the lease has been paying for a while)."""
        self.deployments[dseq]["escrow"] = uact

    def close_outside(self, dseq: int) -> None:
        """Closed on chain behind Necto's back (escrow ran out, another tool closed it)."""
        self.deployments[dseq]["state"] = "closed"
