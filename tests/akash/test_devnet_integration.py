"""The whole client against Necto's devnet (devnet/WIRE.md): fund, deploy, bid, lease, manifest, logs, close."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from pathlib import Path

import httpx
import pytest

pytest.importorskip("devnet.server")

from devnet.server import start_devnet  # noqa: E402
from tools.akash import messages as m  # noqa: E402
from tools.akash.gateway import ProviderGateway  # noqa: E402
from tools.akash.jwt import create_jwt  # noqa: E402
from tools.akash.rest import AkashRest  # noqa: E402
from tools.akash.signer import LocalKeySigner  # noqa: E402
from tools.akash.tx import TxClient  # noqa: E402
from tools.errors import ManifestRejected  # noqa: E402
from tools.sdl.canonical_json import manifest_json_bytes  # noqa: E402
from tools.settings import NectoSettings  # noqa: E402

FIXTURE = Path("/work/shared/conformance/sdl/output-fixtures/v2.0/simple")


@pytest.fixture(scope="module")
def devnet():
    handle = start_devnet(block_time_s=0.2, providers=6, seed=3, bid_window_blocks=6)
    yield handle
    handle.stop()


async def _wait(predicate, timeout_s: float = 15.0, poll_s: float = 0.2):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(poll_s)


@pytest.mark.slow
async def test_deploy_lifecycle_against_the_devnet(devnet, tmp_path) -> None:
    settings = NectoSettings(
        data_dir=tmp_path, network="sandbox", rest_url=devnet.rest_url, tx_inclusion_timeout_s=15
    )
    signer = LocalKeySigner(settings)
    rest = AkashRest(devnet.rest_url, timeout_s=5)
    try:
        info = await rest.node_info()
        assert info.chain_id == settings.effective_chain_id
        assert await rest.account(signer.address) is None
        async with httpx.AsyncClient() as http:
            faucet = await http.post(
                f"{devnet.rest_url}/necto-devnet/faucet", json={"address": signer.address}
            )
            assert faucet.status_code == 200, faucet.text
        balances = await rest.balances(signer.address)
        assert balances["uakt"] > 0 and balances["uact"] >= 5_000_000
        providers = await rest.providers()
        assert len(providers) == 6

        async def _height_at_least_4() -> bool:
            return (await rest.latest_block()).height >= 4

        await _wait(_height_at_least_4)
        assert 0 < await rest.measure_block_time(3) < 5

        # --- create the deployment from a conformance fixture (prices re-denominated in uact) ---
        manifest = json.loads((FIXTURE / "manifest.json").read_text())
        manifest_hash = hashlib.sha256(manifest_json_bytes(manifest)).digest()
        groups = json.loads((FIXTURE / "group-specs.json").read_text())
        for group in groups:
            group["requirements"] = {"signed_by": {"all_of": [], "any_of": []}, "attributes": []}
            for unit in group["resources"]:
                unit["price"] = {"denom": "uact", "amount": "100000.000000000000000000"}
        latest = await rest.latest_block()
        dseq = latest.height
        txc = TxClient(rest, signer, settings, poll_s=0.1)
        prepared = await txc.prepare(
            [m.msg_create_deployment(signer.address, dseq, groups, manifest_hash, 5_000_000)]
        )
        card = prepared.describe()
        assert card["messages"][0]["fields"]["deposit"]["amount"]["amount"] == "5000000"
        persisted = []
        tx = await txc.sign_and_broadcast(prepared, on_signed=lambda h, b: persisted.append(h))
        assert tx.code == 0 and persisted == [tx.txhash]
        deployment = await rest.deployment(signer.address, dseq)
        assert (
            deployment is not None
            and deployment.state == "active"
            and deployment.hash_hex == manifest_hash.hex()
        )
        assert (await rest.account(signer.address)).pubkey == signer.public_key

        # --- bids, lease ---
        bids = await _wait(lambda: rest.bids(signer.address, dseq, state="open"))
        best = min(bids, key=lambda b: b.price.amount)
        bid = best.id
        lease_tx = await txc.sign_and_broadcast(
            await txc.prepare(
                [m.msg_create_lease(signer.address, dseq, bid.gseq, bid.oseq, bid.provider, bid.bseq)]
            )
        )
        assert lease_tx.code == 0
        (lease,) = await rest.leases(signer.address, dseq=dseq, state="active")
        assert lease.id.provider == bid.provider

        # --- manifest, status, logs through the provider gateway ---
        provider = await rest.provider(bid.provider)
        gateway = ProviderGateway(
            provider.host_uri,
            jwt_factory=lambda: create_jwt(signer, ttl_s=300),
            timeout_s=5,
            allow_http=provider.host_uri.startswith("http://127.0.0.1"),
        )
        try:
            tampered = copy.deepcopy(manifest)
            tampered[0]["services"][0]["image"] = "evil"
            with pytest.raises(ManifestRejected):
                await gateway.send_manifest(dseq, manifest_json_bytes(tampered), retries=3, delay_s=0.2)
            await gateway.send_manifest(dseq, manifest_json_bytes(manifest), retries=10, delay_s=0.2)
            status = await _wait(lambda: gateway.lease_status(dseq, bid.gseq, bid.oseq))
            assert "web" in status.services
            lines = []
            async for line in gateway.logs(dseq, bid.gseq, bid.oseq, tail=5):
                lines.append(line)
            assert all(line.service == "web" and "\x1b" not in line.message for line in lines)
        finally:
            await gateway.aclose()

        # --- close: the deployment and its lease end ---
        close_tx = await txc.sign_and_broadcast(
            await txc.prepare([m.msg_close_deployment(signer.address, dseq)])
        )
        assert close_tx.code == 0
        assert (await rest.deployment(signer.address, dseq)).state == "closed"
    finally:
        await rest.aclose()
