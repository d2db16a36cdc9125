"""Hard filters through the service on the devnet: quotes, source selection, plans and the bid choice."""

from __future__ import annotations

import json

import pytest

from tools.errors import InvalidRequest

pytestmark = [pytest.mark.asyncio, pytest.mark.slow]


async def test_every_market_answers_in_the_sandbox(service):
    names = service.source_names()
    assert {"akash", "lambda", "aws", "ionet", "render"} <= set(names)
    result = await service.quote({"gpu_model": "a10", "hours": 10}, limit=100)
    assert result["skipped"] == []
    assert {"akash", "aws", "lambda"} <= {o["source"] for o in result["offers"]}
    rtx = await service.quote({"gpu_model": "rtx4090", "hours": 100}, limit=100)
    assert {"ionet", "render"} <= {o["source"] for o in rtx["offers"]}
    assert {o["pricing_model"] for o in rtx["offers"]} >= {"token", "auction"}


async def test_source_filter_fetches_only_those_sources(service):
    result = await service.quote({"gpu_model": "a10", "hours": 10, "sources": ["aws"]}, limit=100)
    assert result["sources"] == ["aws"]
    assert result["offers"] and {o["source"] for o in result["offers"]} == {"aws"}
    assert result["filters"] == {"sources": ["aws"]}


async def test_unknown_source_is_a_readable_error(service):
    with pytest.raises(InvalidRequest) as info:
        await service.quote({"gpu_model": "a10", "sources": ["azure-ish"]})
    assert "azure-ish" in info.value.message and "akash" in info.value.hint


async def test_vram_and_spot_filters_shape_the_ranking(service):
    base = await service.quote({"gpu_count": 1, "hours": 10}, limit=200)
    big = await service.quote({"gpu_count": 1, "hours": 10, "min_vram_gib": 48}, limit=200)
    assert big["offers"] and len(big["offers"]) < len(base["offers"])
    for offer in big["offers"]:
        assert offer["gpu_memory_gib"] is None or offer["gpu_memory_gib"] >= 48
    assert big["excluded_count"] > base["excluded_count"]
    no_spot = await service.quote(
        {"gpu_model": "a10", "hours": 10, "pricing_models": ["fixed", "auction", "token"]}, limit=200
    )
    assert no_spot["offers"] and "spot" not in {o["pricing_model"] for o in no_spot["offers"]}


async def test_bad_filter_value_is_refused_with_a_sentence(service):
    with pytest.raises(InvalidRequest) as info:
        await service.quote({"gpu_model": "a10", "min_uptime": 3})
    assert "min_uptime" in info.value.message


async def test_deploy_refuses_a_source_filter_without_akash(service):
    with pytest.raises(InvalidRequest) as info:
        await service.create_deploy_plan({"workload": "nextjs", "sources": ["aws"]}, port=None, offer_id=None,
                                         owner="alice")
    assert "Akash" in info.value.message


async def test_audited_only_binds_the_plan_and_the_bid_choice(service, devnet):
    plan = await service.create_deploy_plan(
        {"workload": "nextjs", "audited_only": True}, port=None, offer_id=None, owner="alice"
    )
    card = plan["summary"]
    assert "audited providers only" in card["provider_rule"]
    result = await service.execute_deploy_plan(plan["plan_id"], confirmed_hash=plan["plan_hash"], owner="alice")
    assert result["status"] == "ok", result
    job = service.ledger.job(result["job_id"])
    assert devnet.provider(job.provider).audited, "an unaudited provider won despite audited_only"
    stored = json.loads(service.ledger.get_plan(plan["plan_id"], owner="alice").body_json)
    assert stored["filters"] == {"audited_only": True}
    close = await service.create_close_plan(result["job_id"], owner="alice")
    closed = await service.execute_close_plan(close["plan_id"], confirmed_hash=close["plan_hash"], owner="alice")
    assert closed["status"] == "ok"


async def test_a_provider_blocked_after_a_failure_drops_out_of_the_next_quote(service):
    from datetime import UTC, datetime, timedelta

    first = await service.quote({"workload": "nextjs", "objective": "cheapest"}, owner="bob", limit=50)
    victim = first["recommendation"]["provider_address"]
    service.ledger.block_offer(owner="bob", offer_id=f"akash:{victim}", reason="its lease was refused",
                               until=datetime.now(UTC) + timedelta(hours=1))
    again = await service.quote({"workload": "nextjs", "objective": "cheapest"}, owner="bob", limit=50)
    assert victim not in {o.get("provider_address") for o in again["offers"]}
    assert again["excluded_count"] >= first["excluded_count"] + 1
    other = await service.quote({"workload": "nextjs", "objective": "cheapest"}, owner="carol", limit=50)
    assert victim in {o.get("provider_address") for o in other["offers"]}  # blocks are per owner
