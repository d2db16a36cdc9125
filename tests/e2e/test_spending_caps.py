"""Spending caps are enforced in code (security.md rule 3): exceeding one is a typed refusal and nothing
reaches the chain, whatever the plan or the model says."""

from __future__ import annotations

import pytest

from tools.errors import BudgetExceeded
from tools.settings import NectoSettings
from tools.wiring import build_service

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


def _service(devnet, tmp_path, **caps):
    settings = NectoSettings(data_dir=tmp_path, rest_url=devnet.rest_url, bid_wait_blocks=6,
                             catalog_dir=tmp_path / "none", **caps)
    return build_service(settings)


async def test_price_cap_refuses_at_plan_time(devnet, tmp_path):
    service = _service(devnet, tmp_path, max_price_uact_per_block=50)
    with pytest.raises(BudgetExceeded) as info:
        await service.create_deploy_plan({"workload": "vllm", "gpu_model": "h100"}, port=None, offer_id=None, owner="a")
    assert "cap" in info.value.message and info.value.hint


async def test_daily_cap_and_open_deployment_cap_refuse_before_signing(devnet, tmp_path):
    service = _service(devnet, tmp_path, max_open_deployments=1, daily_cap_uact=60_000_000)
    first = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="b")
    done = await service.execute_deploy_plan(first["plan_id"], confirmed_hash=first["plan_hash"], owner="b")
    assert done["state"] == "running"

    second = await service.create_deploy_plan({"workload": "static"}, port=None, offer_id=None, owner="b")
    with pytest.raises(BudgetExceeded) as info:
        await service.execute_deploy_plan(second["plan_id"], confirmed_hash=second["plan_hash"], owner="b")
    assert "open deployments" in info.value.message
    assert await service.backend.deployment_state(second["summary"]["dseq"]) is None

    # Another user is not limited by b's open deployment, but the daily total still counts per user.
    big = await service.create_deploy_plan({"workload": "static", "hours": 24 * 365}, port=None, offer_id=None,
                                           owner="c")
    service.settings.daily_cap_uact = big["summary"]["deposit_uact"] - 1
    with pytest.raises(BudgetExceeded) as daily:
        await service.execute_deploy_plan(big["plan_id"], confirmed_hash=big["plan_hash"], owner="c")
    assert "daily cap" in daily.value.message
    assert await service.backend.deployment_state(big["summary"]["dseq"]) is None
    refusals = service.ledger.list_jobs(owner="c")
    assert refusals == []
    close = await service.create_close_plan(done["job_id"], owner="b")
    await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="b")
    service.close()


async def test_deposit_is_capped_and_the_card_says_how_long_it_lasts(devnet, tmp_path):
    service = _service(devnet, tmp_path, max_deposit_uact=1_000_000)
    plan = await service.create_deploy_plan({"workload": "nextjs", "hours": 24 * 365}, port=None, offer_id=None,
                                            owner="d")
    card = plan["summary"]
    assert card["deposit_uact"] == 1_000_000
    assert any("top it up" in note for note in card["notes"])
    service.close()
