"""rank(): hard filters, objectives, determinism, blocking and explanations."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tools.pricing.offer import Offer
from tools.pricing.rank import rank
from tools.request import ComputeRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
D = Decimal


def make(offer_id: str, **fields) -> Offer:
    hours = D(fields.pop("hours", 100))
    per_hour = D(str(fields.pop("usd_per_hour", "1.00")))
    base = dict(
        provider=offer_id.split(":")[0].capitalize(),
        source=offer_id.split(":")[0],
        offer_id=offer_id,
        pricing_model="fixed",
        region="us-west",
        gpu_model="a100",
        gpu_count=1,
        cpu=8,
        memory_gib=64,
        storage_gib=500,
        usd_per_hour=per_hour,
        usd_total=per_hour * hours,
        observed_at=NOW,
        ttl_s=600,
    )
    base.update(fields)
    return Offer(**base)


def request(**fields) -> ComputeRequest:
    base = dict(gpu_model="a100", gpu_count=1, cpu=4, memory_gib=32, storage_gib=100, hours=100)
    base.update(fields)
    return ComputeRequest(**base)


# --- hard filters ------------------------------------------------------------------------------------


def test_each_hard_filter_excludes_with_its_reason():
    offers = [
        make("ok:1"),
        make("model:1", gpu_model="h100"),
        make("count:1", gpu_count=8),
        make("cpu:1", cpu=2),
        make("mem:1", memory_gib=16),
        make("disk:1", storage_gib=50),
        make("region:1", region="eu-west", provider_region="europe-west-1"),
        make("price:1", usd_per_hour="9.00"),
        make("soldout:1", capacity_available=False),
        make("expired:1", observed_at=NOW - timedelta(seconds=601)),
    ]
    ranking = rank(offers, request(region="us", max_usd_per_hour=D("5")), now=NOW)
    assert [r.offer.offer_id for r in ranking.offers] == ["ok:1"]
    reasons = dict(ranking.excluded)
    assert reasons["model:1"] == "GPU h100, request needs a100"
    assert reasons["count:1"] == "8 GPU(s), request needs 1"
    assert reasons["cpu:1"] == "2 vCPU < 4 requested"
    assert reasons["mem:1"] == "16 GiB memory < 32 GiB requested"
    assert reasons["disk:1"] == "50 GiB storage < 100 GiB requested"
    assert reasons["region:1"] == "region eu-west (europe-west-1) is outside us"
    assert reasons["price:1"] == "$9.00/h is above the $5.00/h cap"
    assert reasons["soldout:1"] == "sold out (no capacity available)"
    assert reasons["expired:1"] == "firm quote expired"
    assert len(ranking.excluded) == 9


def test_expired_estimate_is_kept_but_unknown_storage_passes():
    offers = [
        make("est:1", estimate=True, observed_at=NOW - timedelta(hours=2)),
        make("nodisk:1", storage_gib=None),
    ]
    ranking = rank(offers, request(), now=NOW)
    assert {r.offer.offer_id for r in ranking.offers} == {"est:1", "nodisk:1"}


def test_all_reasons_are_listed():
    ranking = rank([make("bad:1", gpu_model="t4", cpu=1, region=None)], request(region="eu"), now=NOW)
    assert ranking.excluded[0].reason == (
        "GPU t4, request needs a100; 1 vCPU < 4 requested; region unknown is outside eu"
    )


def test_cpu_only_request_excludes_gpu_machines():
    offers = [make("cpu:1", gpu_model=None, gpu_count=0), make("gpu:1")]
    ranking = rank(offers, request(gpu_model=None, gpu_count=0), now=NOW)
    assert [r.offer.offer_id for r in ranking.offers] == ["cpu:1"]
    assert dict(ranking.excluded)["gpu:1"] == "has 1 GPU(s); the request is CPU-only"


def test_region_hierarchy():
    offers = [make("a:1", region="us-east"), make("b:1", region="ca-central"), make("c:1", region="eu-west")]
    assert [r.offer.offer_id for r in rank(offers, request(region="na"), now=NOW).offers] == ["a:1", "b:1"]
    assert [r.offer.offer_id for r in rank(offers, request(region=None), now=NOW).offers] == [
        "a:1",
        "b:1",
        "c:1",
    ]


# --- objectives -------------------------------------------------------------------------------------------


def crafted() -> list[Offer]:
    return [
        # cheap, unaudited, flaky Akash provider (estimate)
        make(
            "akash:cheap",
            pricing_model="auction",
            usd_per_hour="0.80",
            uptime=0.90,
            audited=False,
            estimate=True,
            deployable=True,
            effective_pflops=D("0.27144"),
        ),
        # fast and expensive H100
        make("lambda:h100", gpu_model="h100", usd_per_hour="2.50", effective_pflops=D("0.7912")),
        # audited, 99.9 % Akash bid
        make(
            "akash:solid",
            pricing_model="auction",
            usd_per_hour="1.00",
            uptime=0.999,
            audited=True,
            deployable=True,
            effective_pflops=D("0.27144"),
        ),
        # plain fixed-price A100
        make("cloud:a100", usd_per_hour="0.90", effective_pflops=D("0.27144")),
    ]


def test_objectives_pick_different_winners():
    winners = {}
    for objective in ("cheapest", "fastest", "reliable", "balanced"):
        ranking = rank(crafted(), request(gpu_model=None, objective=objective), now=NOW)
        winners[objective] = ranking.best.offer.offer_id
    assert winners == {
        "cheapest": "akash:cheap",  # 80 USD
        "fastest": "lambda:h100",  # 0.79 effective PFLOPS
        "reliable": "akash:solid",  # 100 * (1 + 20 * 0.001) = 102 vs cloud 90 * (1 + 0.2 + 0.5) = 153
        "balanced": "cloud:a100",  # 90 * (1 + 0.01 + 0.05) = 95.4 vs cheap 80 * 1.25 = 100, solid 100.1
    }


def test_balanced_scores_by_hand():
    ranking = rank(crafted(), request(gpu_model=None, objective="balanced"), now=NOW)
    scores = {r.offer.offer_id: r.score for r in ranking.offers}
    assert scores["cloud:a100"] == D("95.4")  # 90 * (1 + 0.01 downtime + 0.05 unmeasured)
    assert scores["akash:cheap"] == D("100.0")  # 80 * (1 + 0.10 + 0.10 + 0.05)
    assert scores["akash:solid"] == D("100.1")  # 100 * (1 + 0.001)
    assert scores["lambda:h100"] == D("265")  # 250 * 1.06


def test_staleness_penalty_in_balanced():
    fresh = make("x:fresh", usd_per_hour="1.00")
    old = make("x:old", usd_per_hour="1.00", estimate=True, observed_at=NOW - timedelta(seconds=300))
    ranking = rank([old, fresh], request(), now=NOW)
    assert ranking.best.offer.offer_id == "x:fresh"
    old_entry = next(r for r in ranking.offers if r.offer.offer_id == "x:old")
    assert old_entry.terms["staleness"] == "0.5"
    # 100 * (1 + 0.01 downtime + 0.05 unmeasured + 0.05 estimate + 0.05 * 0.5 staleness)
    assert old_entry.score == D("113.5")


def test_fastest_puts_unknown_performance_last():
    offers = [
        make("a:known", usd_per_hour="5", effective_pflops=D("0.1")),
        make("b:unknown", usd_per_hour="0.1"),
    ]
    ranking = rank(offers, request(objective="fastest"), now=NOW)
    assert [r.offer.offer_id for r in ranking.offers] == ["a:known", "b:unknown"]


def test_fastest_cpu_only_prefers_more_vcpus():
    offers = [
        make("a:4", gpu_model=None, gpu_count=0, cpu=4),
        make("b:16", gpu_model=None, gpu_count=0, cpu=16),
    ]
    ranking = rank(offers, request(gpu_model=None, gpu_count=0, objective="fastest"), now=NOW)
    assert ranking.best.offer.offer_id == "b:16"


def test_spot_is_penalised_for_reliability():
    # reliable: spot 50 * (1 + 0.2 + 0.5 + 1.0) = 135 vs fixed 70 * (1 + 0.2 + 0.5) = 119
    offers = [make("spot:1", pricing_model="spot", usd_per_hour="0.5"), make("fixed:1", usd_per_hour="0.7")]
    assert rank(offers, request(objective="cheapest"), now=NOW).best.offer.offer_id == "spot:1"
    assert rank(offers, request(objective="reliable"), now=NOW).best.offer.offer_id == "fixed:1"


# --- determinism -------------------------------------------------------------------------------------------


def test_shuffled_input_gives_identical_bytes():
    offers = crafted() + [make(f"dup:{i}", usd_per_hour="0.90") for i in range(5)]
    reference = rank(offers, request(gpu_model=None), now=NOW).model_dump_json()
    rng = random.Random(1)
    for _ in range(20):
        shuffled = offers[:]
        rng.shuffle(shuffled)
        assert rank(shuffled, request(gpu_model=None), now=NOW).model_dump_json() == reference


offer_strategy = st.builds(
    lambda i, model, count, price, uptime, audited, pm, region, age, est, cpu: make(
        f"p{i}:x",
        gpu_model=model,
        gpu_count=count,
        usd_per_hour=price,
        uptime=uptime,
        audited=audited,
        pricing_model=pm,
        region=region,
        observed_at=NOW - timedelta(seconds=age),
        estimate=est,
        cpu=cpu,
        effective_pflops=None if model == "t4" else D("0.27144") * count,
    ),
    st.integers(0, 6),  # small range: duplicate ids happen
    st.sampled_from(["a100", "h100", "t4"]),
    st.integers(1, 2),
    st.decimals(min_value=D("0.01"), max_value=D("20"), places=2),
    st.one_of(st.none(), st.floats(0.5, 1.0)),
    st.one_of(st.none(), st.booleans()),
    st.sampled_from(["fixed", "spot", "auction", "token"]),
    st.sampled_from(["us-west", "eu-west", None]),
    st.integers(0, 2000),
    st.booleans(),
    st.sampled_from([2, 8, 16]),
)


@settings(max_examples=60, deadline=None)
@given(
    offers=st.lists(offer_strategy, max_size=12),
    seed=st.integers(0, 1000),
    objective=st.sampled_from(["cheapest", "fastest", "reliable", "balanced"]),
)
def test_rank_is_order_independent(offers, seed, objective):
    req = request(gpu_model=None, objective=objective, region=None)
    shuffled = offers[:]
    random.Random(seed).shuffle(shuffled)
    first = rank(offers, req, now=NOW)
    assert first.model_dump_json() == rank(shuffled, req, now=NOW).model_dump_json()
    assert len(first.offers) + len(first.excluded) == len(offers)
    assert [r.rank for r in first.offers] == list(range(1, len(first.offers) + 1))
    if objective == "cheapest":
        totals = [r.offer.usd_total for r in first.offers]
        assert totals == sorted(totals)


# --- blocking, best deployable, explanations ----------------------------------------------------------------


def test_block_and_rerank():
    ranking = rank(crafted(), request(gpu_model=None, objective="cheapest"), now=NOW)
    assert ranking.best.offer.offer_id == "akash:cheap"
    again = ranking.block("akash:cheap", "no bids")
    assert again.best.offer.offer_id == "cloud:a100"
    assert again.best_deployable.offer.offer_id == "akash:solid"
    assert ("akash:cheap", "blocked: no bids") in again.excluded
    assert again.blocked == {"akash:cheap": "no bids"}
    twice = again.block("akash:solid")
    assert twice.best_deployable is None
    # the blocked parameter does the same as block()
    direct = rank(
        crafted(), request(gpu_model=None, objective="cheapest"), now=NOW, blocked={"akash:cheap": "no bids"}
    )
    assert direct.model_dump_json() == again.model_dump_json()
    assert (
        rank(crafted(), request(gpu_model=None), now=NOW, blocked=["akash:cheap"]).excluded[0].reason
        == "blocked: blocked"
    )


def test_explain_mentions_winner_runner_up_and_deployability():
    ranking = rank(crafted(), request(gpu_model=None, objective="balanced"), now=NOW)
    text = ranking.explain()
    assert text.startswith("Cloud (1x a100, us-west) ranks first for 'balanced' out of 4 matching offers")
    assert "Runner-up" in text
    assert "the best deployable offer is Akash at $0.800/h" in text
    assert all(r.why for r in ranking.offers)
    assert "compare only" in ranking.offers[0].why


def test_explain_when_nothing_matches():
    ranking = rank([make("x:1", gpu_model="t4")], request(), now=NOW)
    assert ranking.best is None and ranking.best_deployable is None
    assert ranking.explain().startswith("No offer matches: all 1 were excluded (GPU t4, request needs a100)")
    assert rank([], request(), now=NOW).explain().startswith("No offers were found")


def test_naive_now_rejected():
    import pytest

    with pytest.raises(ValueError):
        rank([], request(), now=datetime(2026, 1, 1))


def test_offer_json_numbers_and_exact_inputs():
    offer = make(
        "x:1",
        usd_per_hour="0.5903574942604132502459822893",
        inputs={"usd_per_hour": "0.5903574942604132502459822893"},
    )
    data = offer.model_dump(mode="json")
    assert isinstance(data["usd_per_hour"], float) and isinstance(data["usd_total"], float)
    assert data["inputs"]["usd_per_hour"] == "0.5903574942604132502459822893"
    assert data["observed_at"] == "2026-03-01T12:00:00Z"
    assert offer.model_dump()["usd_per_hour"] == D("0.5903574942604132502459822893")
