"""mTLS end to end through the product: a provider that accepts only an mTLS client certificate, Necto's
`publish certificate` plan (card from the exact MsgCreateCertificate bytes, signed once after approval), then a
deploy to that provider whose manifest, status and logs go over mTLS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devnet.server import start_devnet
from tools.errors import NectoError, PolicyDenied
from tools.settings import NectoSettings
from tools.wiring import build_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=8, seed=7, bid_window_blocks=40, mtls_providers=1) as handle:
        yield handle


@pytest.fixture
def service(devnet, tmp_path):
    settings = NectoSettings(
        data_dir=tmp_path, rest_url=devnet.rest_url, bid_wait_blocks=8, bid_deadline_s=20, lease_ready_timeout_s=30,
        tx_inclusion_timeout_s=20, catalog_dir=tmp_path / "no-catalogs", manifest_retries=3,
    )
    svc = build_service(settings)
    yield svc
    svc.close()


def _only(service, devnet, provider, owner: str) -> None:
    """Keep every other provider out of this owner's bid choice, as a past failure would."""
    until = datetime.now(UTC) + timedelta(hours=1)
    for other in devnet.providers:
        if other.owner != provider.owner:
            service.ledger.block_offer(owner=owner, offer_id=f"akash:{other.owner}", reason="test", until=until)


async def _deploy(service, owner: str) -> dict:
    plan = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner=owner)
    return await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner=owner)


async def test_publishing_a_certificate_lets_necto_deploy_to_an_mtls_only_provider(service, devnet):
    provider = next(p for p in devnet.providers if p.auth_mode == "mtls")
    _only(service, devnet, provider, "local")
    address = service.backend.address

    # Without a published certificate the mTLS-only provider cannot be reached: the job fails with a next step
    # and the deployment is closed (nothing stranded).
    first = await _deploy(service, "local")
    assert first["state"] == "failed", first
    job = service.ledger.job(first["job_id"])
    assert job.provider == provider.owner
    assert "refused our credentials" in job.error
    hints = [str(json.loads(e.data_json or "{}").get("hint", "")) for e in service.ledger.events(job.id)]
    assert any("necto cert publish" in hint for hint in hints), hints  # the next step reaches the user
    assert devnet.chain.deployments[(address, job.dseq)].state == "closed"
    # (the failure blocked that provider for "local" for an hour: the second deploy is another user of this key)
    _only(service, devnet, provider, "ops")

    plan = await service.create_certificate_plan("local")
    card = plan["summary"]
    assert card["action"] == "publish certificate" and card["owner"] == address
    text = service.plan_summary(plan["plan_id"], owner="local")["text"]
    assert "Publish mTLS client certificate" in text and "No funds move" in text
    assert not devnet.chain.valid_certificates(address)
    with pytest.raises(PolicyDenied):
        await service.execute_certificate_plan(plan["plan_id"], confirmed_hash="0" * 64, owner="local")
    assert not devnet.chain.valid_certificates(address)  # a wrong approval signs nothing
    done = await service.execute_certificate_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="local")
    assert done["status"] == "ok" and done["serial"] == card["serial"]
    assert len(devnet.chain.valid_certificates(address)) == 1
    with pytest.raises(PolicyDenied, match="never signed twice"):
        await service.execute_certificate_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="local")

    second = await _deploy(service, "ops")
    assert second["state"] == "running", "; ".join(e.message for e in service.ledger.events(second["job_id"]))
    job = service.ledger.job(second["job_id"])
    assert job.provider == provider.owner and second["uris"]
    assert provider.manifests[(address, job.dseq)]["owner"] == address  # the manifest went over mTLS
    logs = await service.logs(job.id, tail=5, service=None, owner="ops")
    assert logs["lines"]
    closed = await service.execute_close_plan(
        (close := await service.create_close_plan(job.id, owner="ops"))["plan_id"],
        confirmed_hash=close["plan_hash"], owner="ops",
    )
    assert closed["state"] == "closed"


async def test_a_certificate_plan_for_another_user_is_refused(service):
    plan = await service.create_certificate_plan("local")
    with pytest.raises(NectoError):
        await service.execute_certificate_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="mallory")
