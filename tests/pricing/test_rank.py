"""rank(): hard filters (the request's and OfferFilters), objectives, the memory-bandwidth score for LLM
serving, determinism, blocking, explanations, and the fast path's output against a golden file."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tools.pricing.gpus import GPU_CLASSES, GPU_TABLE, gpu_class
from tools.pricing.normalize import effective_pflops, usd_per_tb_s_hour
from tools.pricing.offer import Offer
from tools.pricing.quote import gather_quote
from tools.pricing.rank import OfferFilters, RankedOffer, Ranking, exclusion_reasons, rank
from tools.request import GPU_MODELS, ComputeRequest

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


# --- golden: the ranking JSON is unchanged by the fast path ----------------------------------------------------

GOLDEN = Path(__file__).with_name("rank_golden.json")


def golden_offers() -> list[Offer]:
    """A seeded mix of every field rank() reads, with duplicate offer ids that differ in content."""
    rng = random.Random(20260301)
    offers = []
    for i in range(80):
        source = rng.choice(["akash", "lambda", "skypilot:runpod", "skypilot:aws", "ionet"])
        model = rng.choice(["a100", "a100", "h100", "rtx4090", "t4", "b300", None])
        count = 0 if model is None else rng.choice([1, 1, 1, 1, 1, 2])
        per_hour = D(rng.choice(["0.5903574942604132502459822893", "1.29", "2.49", "0.35", "0.90"]))
        per_hour *= D(rng.randint(1, 9))
        hours = D(100)
        total = per_hour * hours * (D("1.0431") if rng.random() < 0.2 else 1)
        pflops = None
        per_pflop = None
        if model in ("a100", "h100", "rtx4090", "t4") and rng.random() < 0.8:
            pflops = effective_pflops(model, count)
            per_pflop = per_hour / count / (pflops / count) if rng.random() < 0.7 else None
        offers.append(
            make(
                f"{source}:{i % 60}",
                provider=f"P{i % 13}",
                source=source,
                pricing_model=rng.choice(["fixed", "spot", "auction", "token"]),
                region=rng.choice(["us-west", "us-east", "eu-west", None]),
                provider_region=rng.choice([None, "kansascity-usa-2"]),
                gpu_model=model,
                gpu_count=count,
                gpu_memory_gib=rng.choice([None, 24.0, 80.0]),
                cpu=rng.choice([2, 4, 8, 16]),
                memory_gib=rng.choice([16, 32, 64]),
                storage_gib=rng.choice([None, 50, 500]),
                usd_per_hour=per_hour,
                usd_total=total,
                usd_per_effective_pflop_hour=per_pflop,
                effective_pflops=pflops,
                observed_at=NOW - timedelta(seconds=rng.choice([0, 1, 59.5, 300, 300, 599, 601, 5000])),
                ttl_s=rng.choice([0, 600, 3600, 3600, 3600]),
                uptime=rng.choice([None, 0.9, 0.95, 0.999, round(rng.uniform(0.8, 1.0), 6)]),
                audited=rng.choice([None, True, False]),
                capacity_available=rng.choice([None, True, True, True, False]),
                deployable=source == "akash",
                estimate=rng.random() < 0.5,
                notes=["n"] if rng.random() < 0.2 else [],
                inputs={"usd_per_hour": str(per_hour)},
            )
        )
    # exact copies, and twins: the same id and score, different content (ordered by their JSON)
    twins = [
        Offer(**{**offers[i].model_dump(), **change})
        for i, change in ((5, {"notes": ["twin"]}), (9, {"provider": "Twin"}), (9, {"provider": "Alpha"}))
    ]
    return offers + [offers[3], offers[17]] + twins


def golden_cases() -> dict[str, Ranking]:
    offers = golden_offers()
    small = dict(gpu_model=None, cpu=2, memory_gib=8, storage_gib=10)
    cases = {}
    for objective in ("cheapest", "fastest", "reliable", "balanced"):
        cases[f"gpu-{objective}"] = rank(offers, request(**small, objective=objective), now=NOW)
        cases[f"cpu-{objective}"] = rank(offers, request(**small, gpu_count=0, objective=objective), now=NOW)
    cases["a100-us-capped-blocked"] = rank(
        offers,
        request(cpu=2, memory_gib=8, storage_gib=10, region="us", max_usd_per_hour=D("8"), hours=10),
        now=NOW,
        blocked={"akash:9": "no bids", "lambda:3": "launch failed", "gone:1": "never offered"},
    )
    return cases


def golden_summary(ranking: Ranking) -> dict:
    data = ranking.model_dump_json()
    return {
        "sha256": hashlib.sha256(data.encode()).hexdigest(),
        "ranked": [[r.offer.offer_id, str(r.score)] for r in ranking.offers],
        "excluded": [list(e) for e in ranking.excluded],
    }


def test_fast_path_gives_the_golden_ranking_json():
    """rank()'s output, byte for byte (SHA-256 of the Ranking JSON), as the implementation before the fast
    path produced it: rank_golden.json is ``{case: golden_summary(ranking)}`` over ``golden_cases()``,
    captured with that implementation. Regenerate it only for an intended change of rank()'s output."""
    golden = json.loads(GOLDEN.read_text())
    cases = golden_cases()
    assert set(cases) == set(golden)
    for name, ranking in cases.items():
        assert golden_summary(ranking) == golden[name], name


def test_constructed_models_equal_validated_ones():
    ranking = golden_cases()["gpu-balanced"]
    for ranked in ranking.offers:
        validated = RankedOffer(
            rank=ranked.rank, offer=ranked.offer, score=ranked.score, terms=ranked.terms, why=ranked.why
        )
        assert validated == ranked
        assert validated.model_fields_set == ranked.model_fields_set
        assert validated.model_dump_json() == ranked.model_dump_json()
    validated = Ranking(**{name: getattr(ranking, name) for name in Ranking.model_fields})
    assert validated.model_dump_json() == ranking.model_dump_json()


# --- OfferFilters ---------------------------------------------------------------------------------------------


def reasons_under(filters: OfferFilters, offers: list[Offer], **req) -> tuple[list[str], dict[str, str]]:
    ranking = rank(offers, request(gpu_model=None, **req), now=NOW, filters=filters)
    return [r.offer.offer_id for r in ranking.offers], dict(ranking.excluded)


def test_gpu_class_filter():
    offers = [
        make("dc:1"),
        make("ws:1", gpu_model="a6000"),
        make("gaming:1", gpu_model="rtx4090"),
        make("amd:1", gpu_model="mi300x"),
    ]
    kept, reasons = reasons_under(OfferFilters(gpu_class="datacenter"), offers)
    assert kept == ["dc:1"]
    assert reasons == {
        "ws:1": "a6000 is a workstation GPU, not datacenter",
        "gaming:1": "rtx4090 is a consumer GPU, not datacenter",
        "amd:1": "GPU class of mi300x unknown; a datacenter GPU is required",
    }
    kept, reasons = reasons_under(OfferFilters(gpu_class=["workstation", "consumer"]), offers)
    assert kept == ["gaming:1", "ws:1"]
    assert reasons["dc:1"] == "a100 is a datacenter GPU, not consumer or workstation"
    cpu = make("cpu:1", gpu_model=None, gpu_count=0)
    ranking = rank(
        [cpu], request(gpu_model=None, gpu_count=0), now=NOW, filters=OfferFilters(gpu_class="consumer")
    )
    assert ranking.excluded[0].reason == "no GPU; a consumer GPU is required"


def test_every_gpu_is_classified():
    assert set(GPU_TABLE) <= set(GPU_CLASSES)
    assert set(GPU_MODELS) <= set(GPU_CLASSES)
    assert set(GPU_CLASSES.values()) == {"datacenter", "workstation", "consumer"}
    assert gpu_class("RTX4090") == "consumer" and gpu_class("h100") == "datacenter"
    assert gpu_class("mi300x") is None and gpu_class(None) is None


def test_min_vram_filter_uses_the_offer_then_the_gpu_table():
    nvl = GPU_TABLE["h100"][2]
    offers = [
        make("a10:1", gpu_model="a10", gpu_memory_gib=24.0),
        make("a100-80:1", gpu_memory_gib=80.0),
        make("a100-any:1"),  # 40 or 80 GB: the table cannot tell
        make("h100-any:1", gpu_model="h100"),  # 80, 80 or 94 GB: all at least 80
        make("h100-nvl:1", gpu_model="h100", effective_pflops=nvl.effective_pflops),  # only the NVL: 94
        make("4090:1", gpu_model="rtx4090"),
        make("amd:1", gpu_model="mi300x"),
    ]
    kept, reasons = reasons_under(OfferFilters(min_vram_gib=80), offers)
    assert kept == ["a100-80:1", "h100-any:1", "h100-nvl:1"]
    assert reasons == {
        "a10:1": "24 GiB VRAM per GPU < 80 GiB required",
        "a100-any:1": "VRAM unknown: a100 comes with 40 GB or 80 GB, 80 GiB required",
        "4090:1": "24 GB VRAM per GPU (rtx4090, GPU table) < 80 GiB required",
        "amd:1": "VRAM unknown: mi300x is not in the GPU table",
    }
    kept, reasons = reasons_under(OfferFilters(min_vram_gib=90), offers)
    assert "h100-nvl:1" in kept and "h100-any:1" not in kept
    assert reasons["h100-any:1"] == "VRAM unknown: h100 comes with 80 GB or 94 GB, 90 GiB required"
    kept, _ = reasons_under(OfferFilters(min_vram_gib=40), offers)
    assert "a100-any:1" in kept and "a10:1" not in kept
    ranking = rank(
        [make("cpu:1", gpu_model=None, gpu_count=0)],
        request(gpu_model=None, gpu_count=0),
        now=NOW,
        filters=OfferFilters(min_vram_gib=16),
    )
    assert ranking.excluded[0].reason == "no GPU; 16 GiB VRAM per GPU is required"


def test_uptime_floor_and_unmeasured_offers():
    offers = [make("good:1", uptime=0.995), make("flaky:1", uptime=0.95), make("unknown:1")]
    kept, reasons = reasons_under(OfferFilters(min_uptime=0.99), offers)
    assert kept == ["good:1", "unknown:1"]
    assert reasons == {"flaky:1": "uptime 95% is below the 99% floor"}
    kept, reasons = reasons_under(OfferFilters(min_uptime=0.999, allow_unmeasured=False), offers)
    assert kept == []
    assert reasons == {
        "good:1": "uptime 99.5% is below the 99.9% floor",
        "flaky:1": "uptime 95% is below the 99.9% floor",
        "unknown:1": "uptime not measured (unmeasured offers are filtered out)",
    }
    kept, _ = reasons_under(OfferFilters(allow_unmeasured=False), offers)
    assert kept == ["good:1", "flaky:1"]


def test_audited_only():
    offers = [make("yes:1", audited=True), make("no:1", audited=False), make("na:1")]
    kept, reasons = reasons_under(OfferFilters(audited_only=True), offers)
    assert kept == ["yes:1"]
    assert reasons == {"no:1": "provider not audited", "na:1": "audit status unknown"}


def test_require_capacity_off_keeps_sold_out_offers():
    offers = [make("open:1", capacity_available=True), make("soldout:1", capacity_available=False)]
    assert reasons_under(OfferFilters(), offers)[1] == {"soldout:1": "sold out (no capacity available)"}
    kept, reasons = reasons_under(OfferFilters(require_capacity=False), offers)
    assert kept == ["open:1", "soldout:1"] and reasons == {}


def test_source_allow_list_matches_source_families():
    offers = [
        make("a:1", source="skypilot:runpod"),
        make("b:1", source="skypilot"),
        make("c:1", source="lambda"),
        make("d:1", source="akash"),
        make("e:1", source="skypilotx:aws"),
    ]
    kept, reasons = reasons_under(OfferFilters(sources=["skypilot", "Lambda"]), offers)
    assert kept == ["a:1", "b:1", "c:1"]
    assert reasons == {
        "d:1": "source akash is not one of lambda, skypilot",
        "e:1": "source skypilotx:aws is not one of lambda, skypilot",
    }
    assert reasons_under(OfferFilters(sources="skypilot:runpod"), offers)[0] == ["a:1"]


def test_pricing_model_allow_list_and_total_cap():
    offers = [
        make("fixed:1", usd_per_hour="1.00"),
        make("spot:1", pricing_model="spot", usd_per_hour="0.50"),
        make("bid:1", pricing_model="auction", usd_per_hour="2.00"),
    ]
    kept, reasons = reasons_under(OfferFilters(pricing_models=("fixed", "auction")), offers)
    assert sorted(kept) == ["bid:1", "fixed:1"]
    assert reasons == {"spot:1": "spot pricing is not one of auction, fixed"}
    kept, reasons = reasons_under(OfferFilters(max_usd_total=D("150")), offers)
    assert sorted(kept) == ["fixed:1", "spot:1"]
    assert reasons == {"bid:1": "$200.00 for 100 h is above the $150.00 total cap"}


def test_filter_reasons_follow_the_request_reasons():
    offer = make("bad:1", cpu=2, uptime=0.5, audited=False, source="vast", pricing_model="spot")
    filters = OfferFilters(min_uptime=0.9, audited_only=True, sources="akash", pricing_models="fixed")
    assert exclusion_reasons(offer, request(gpu_model=None), now=NOW, filters=filters) == [
        "2 vCPU < 4 requested",
        "uptime 50% is below the 90% floor",
        "provider not audited",
        "source vast is not one of akash",
        "spot pricing is not one of fixed",
    ]
    ranking = rank([offer], request(gpu_model=None), now=NOW, filters=filters, blocked={"bad:1": "no bids"})
    assert ranking.excluded[0].reason.startswith("blocked: no bids; 2 vCPU < 4 requested; uptime 50%")
    assert ranking.explain().endswith("or loosen the filters.")


def test_offer_filters_validation():
    assert OfferFilters(sources=["lambda", "akash", "akash"]).sources == ("akash", "lambda")
    assert OfferFilters(gpu_class="consumer").gpu_class == ("consumer",)
    assert OfferFilters(gpu_class={"Datacenter ", "workstation"}).gpu_class == ("datacenter", "workstation")
    assert OfferFilters(pricing_models=["SPOT", "fixed"]).pricing_models == ("fixed", "spot")
    for bad in (
        {"sources": []},
        {"sources": [" "]},
        {"sources": [1]},
        {"gpu_class": "gaming"},
        {"pricing_models": ["barter"]},
        {"min_uptime": 1.5},
        {"min_vram_gib": 0},
        {"max_usd_total": -1},
        {"colour": "red"},
    ):
        with pytest.raises(ValidationError):
            OfferFilters(**bad)
    with pytest.raises(ValidationError):
        OfferFilters().audited_only = True  # frozen


def test_default_filters_are_no_filters_and_set_ones_show_in_the_json():
    offers = crafted()
    req = request(gpu_model=None)
    plain = rank(offers, req, now=NOW).model_dump_json()
    assert rank(offers, req, now=NOW, filters=OfferFilters()).model_dump_json() == plain
    assert '"filters"' not in plain
    filtered = rank(offers, req, now=NOW, filters=OfferFilters(audited_only=True))
    assert filtered.filters == OfferFilters(audited_only=True)
    assert json.loads(filtered.model_dump_json())["filters"]["audited_only"] is True
    assert [r.offer.offer_id for r in filtered.offers] == ["akash:solid"]


def test_block_keeps_the_filters():
    filters = OfferFilters(pricing_models="auction")
    ranking = rank(crafted(), request(gpu_model=None, objective="cheapest"), now=NOW, filters=filters)
    assert [r.offer.offer_id for r in ranking.offers] == ["akash:cheap", "akash:solid"]
    again = ranking.block("akash:cheap", "no bids")
    assert again.filters == filters
    assert [r.offer.offer_id for r in again.offers] == ["akash:solid"]
    assert dict(again.excluded)["cloud:a100"] == "fixed pricing is not one of auction"
    direct = rank(
        crafted(),
        request(gpu_model=None, objective="cheapest"),
        now=NOW,
        blocked={"akash:cheap": "no bids"},
        filters=filters,
    )
    assert direct.model_dump_json() == again.model_dump_json()


class StaticSource:
    name = "static"

    def __init__(self, offers: list[Offer]) -> None:
        self.offers = offers

    async def fetch(self, request: ComputeRequest) -> list[Offer]:
        return list(self.offers)


async def test_gather_quote_takes_filters():
    filters = OfferFilters(min_uptime=0.99, allow_unmeasured=False)
    req = request(gpu_model=None, objective="cheapest")
    quote = await gather_quote(req, [StaticSource(crafted())], now=NOW, filters=filters)
    assert [r.offer.offer_id for r in quote.offers] == ["akash:solid"]
    assert quote.ranking.filters == filters
    data = quote.to_json()
    assert data["filters"]["min_uptime"] == 0.99 and data["filters"]["allow_unmeasured"] is False
    assert {"offer_id": "akash:cheap", "reason": "uptime 90% is below the 99% floor"} in data["excluded"]
    assert quote.block("akash:solid").ranking.filters == filters
    unfiltered = await gather_quote(req, [StaticSource(crafted())], now=NOW)
    assert "filters" not in unfiltered.to_json() and len(unfiltered.offers) == 4


# --- memory bandwidth for LLM serving --------------------------------------------------------------------------


def llm_offers() -> list[Offer]:
    def gpu(offer_id: str, model: str, per_hour: str, **fields) -> Offer:
        return make(
            offer_id,
            gpu_model=model,
            usd_per_hour=per_hour,
            effective_pflops=effective_pflops(model, fields.get("gpu_count", 1)),
            **fields,
        )

    return [
        gpu("l40s:1", "l40s", "0.90"),  # 0.2715 PFLOPS, 0.864 TB/s
        gpu("4090:1", "rtx4090", "0.50"),  # 0.1238 PFLOPS, 1.01 TB/s
        gpu("4090:2", "rtx4090", "0.40"),  # same bandwidth, cheaper per TB/s
        gpu("a10:1", "a10", "0.30"),  # 0.0938 PFLOPS, 0.6 TB/s
        make("amd:1", gpu_model="mi300x", usd_per_hour="1.00"),  # not in the table
    ]


def test_fastest_for_vllm_ranks_by_memory_bandwidth():
    flops = rank(llm_offers(), request(gpu_model=None, objective="fastest"), now=NOW)
    assert [r.offer.offer_id for r in flops.offers] == ["l40s:1", "4090:2", "4090:1", "a10:1", "amd:1"]
    for workload in ("vllm", "ollama"):
        ranking = rank(llm_offers(), request(gpu_model=None, objective="fastest", workload=workload), now=NOW)
        assert [r.offer.offer_id for r in ranking.offers] == ["4090:2", "4090:1", "l40s:1", "a10:1", "amd:1"]
    best = ranking.offers[0]
    assert best.terms["bandwidth_tb_s"] == "1.01"
    assert best.terms["s_per_tb"] == str(1 / D("1.01"))
    assert best.terms["usd_per_tb_s_hour"] == str(usd_per_tb_s_hour(D("0.40"), "rtx4090", 1))
    assert best.score == 1 / D("1.01")
    assert best.why.startswith("1.01 TB/s memory bandwidth (1x RTX 4090) at $0.396 per TB/s-hour")
    assert ranking.offers[-1].terms["bandwidth_tb_s"] == "unknown"
    assert ranking.offers[-1].why.startswith("memory bandwidth of mi300x unknown")


def test_bandwidth_counts_every_gpu_and_shows_in_every_objective():
    two = make(
        "2x4090:1", gpu_model="rtx4090", gpu_count=2, usd_per_hour="1.00", effective_pflops=D("0.2475")
    )
    one = make("h100:1", gpu_model="h100", gpu_count=2, usd_per_hour="6.00")  # 2 x 3.35 TB/s
    ranking = rank(
        [two, one], request(gpu_model=None, gpu_count=2, objective="fastest", workload="vllm"), now=NOW
    )
    assert [r.terms["bandwidth_tb_s"] for r in ranking.offers] == ["6.70", "2.02"]
    assert ranking.offers[1].terms["usd_per_tb_s_hour"] == str(D("1.00") / 2 / D("1.01"))
    for objective in ("cheapest", "reliable", "balanced"):
        ranked = rank(
            [two], request(gpu_model=None, gpu_count=2, objective=objective, workload="vllm"), now=NOW
        )
        assert "usd_per_tb_s_hour" in ranked.offers[0].terms
        plain = rank([two], request(gpu_model=None, gpu_count=2, objective=objective), now=NOW)
        assert "usd_per_tb_s_hour" not in plain.offers[0].terms
        assert ranked.offers[0].score == plain.offers[0].score


def test_bandwidth_variant_follows_memory_and_performance():
    pcie = GPU_TABLE["h100"][1]
    offers = [
        make("sxm:1", gpu_model="h100", usd_per_hour="3.00"),  # default variant: SXM, 3.35 TB/s
        make("pcie:1", gpu_model="h100", usd_per_hour="2.00", effective_pflops=pcie.effective_pflops),
        make("a100-40:1", gpu_model="a100", usd_per_hour="1.00", gpu_memory_gib=40.0),
    ]
    ranking = rank(offers, request(gpu_model=None, objective="fastest", workload="ollama"), now=NOW)
    assert {r.offer.offer_id: r.terms["bandwidth_tb_s"] for r in ranking.offers} == {
        "sxm:1": "3.35",
        "pcie:1": "2.0",
        "a100-40:1": "1.56",
    }


def test_ollama_cpu_only_still_ranks_by_vcpus():
    offers = [
        make("a:4", gpu_model=None, gpu_count=0, cpu=4),
        make("b:16", gpu_model=None, gpu_count=0, cpu=16),
    ]
    req = request(gpu_model=None, gpu_count=0, objective="fastest", workload="ollama")
    assert rank(offers, req, now=NOW).best.offer.offer_id == "b:16"


# --- determinism with duplicates, filters and LLM workloads ----------------------------------------------------


def test_golden_offers_shuffled_give_identical_bytes():
    offers = golden_offers()
    some = OfferFilters(min_vram_gib=24, min_uptime=0.9, sources=["skypilot", "lambda", "akash"])
    for filters in (None, some):
        for workload in ("custom", "vllm"):
            for objective in ("cheapest", "fastest", "reliable", "balanced"):
                req = request(
                    gpu_model=None,
                    cpu=2,
                    memory_gib=8,
                    storage_gib=10,
                    objective=objective,
                    workload=workload,
                )
                reference = rank(offers, req, now=NOW, filters=filters).model_dump_json()
                for seed in range(3):
                    shuffled = offers[:]
                    random.Random(seed).shuffle(shuffled)
                    assert rank(shuffled, req, now=NOW, filters=filters).model_dump_json() == reference


filters_strategy = st.one_of(
    st.none(),
    st.builds(
        OfferFilters,
        gpu_class=st.one_of(st.none(), st.sampled_from(["datacenter", "consumer"])),
        min_vram_gib=st.one_of(st.none(), st.sampled_from([16, 40, 80])),
        min_uptime=st.one_of(st.none(), st.floats(0.5, 1.0)),
        allow_unmeasured=st.booleans(),
        audited_only=st.booleans(),
        require_capacity=st.booleans(),
        sources=st.one_of(st.none(), st.sampled_from([["p1"], ["p2", "p3"]])),
        pricing_models=st.one_of(st.none(), st.sampled_from([["fixed"], ["spot", "auction"]])),
        max_usd_total=st.one_of(st.none(), st.decimals(min_value=D("1"), max_value=D("2000"), places=2)),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    offers=st.lists(
        st.tuples(offer_strategy, st.sampled_from([None, True, False])).map(
            lambda pair: pair[0].model_copy(update={"capacity_available": pair[1]})
        ),
        max_size=14,
    ),
    seed=st.integers(0, 1000),
    objective=st.sampled_from(["cheapest", "fastest", "reliable", "balanced"]),
    workload=st.sampled_from(["custom", "vllm"]),
    filters=filters_strategy,
)
def test_rank_with_filters_is_order_independent(offers, seed, objective, workload, filters):
    req = request(gpu_model=None, objective=objective, region=None, workload=workload)
    shuffled = offers[:]
    random.Random(seed).shuffle(shuffled)
    first = rank(offers, req, now=NOW, filters=filters)
    assert first.model_dump_json() == rank(shuffled, req, now=NOW, filters=filters).model_dump_json()
    assert len(first.offers) + len(first.excluded) == len(offers)
    if first.offers:
        blocked = first.offers[0].offer.offer_id
        assert (
            first.block(blocked).model_dump_json()
            == rank(
                shuffled, req, now=NOW, filters=filters, blocked={blocked: "blocked after a failed launch"}
            ).model_dump_json()
        )


def test_blocking_a_provider_blocks_its_variant_and_bid_offers():
    from datetime import UTC, datetime
    from decimal import Decimal

    from tools.pricing.offer import Offer
    from tools.pricing.rank import rank
    from tools.request import ComputeRequest

    now = datetime(2026, 11, 1, tzinfo=UTC)

    def offer(offer_id: str) -> Offer:
        return Offer(provider="p", source="akash", offer_id=offer_id, pricing_model="auction", cpu=2, memory_gib=4,
                     usd_per_hour=Decimal("0.1"), usd_total=Decimal("1"), observed_at=now, ttl_s=600)

    offers = [offer("akash:akash1bad"), offer("akash:akash1bad:bid:1/1/1/0"), offer("akash:akash1badder"),
              offer("akash:akash1good")]
    ranking = rank(offers, ComputeRequest(cpu=1, memory_gib=1), now=now, blocked={"akash:akash1bad": "failed a launch"})
    assert [r.offer.offer_id for r in ranking.offers] == ["akash:akash1badder", "akash:akash1good"]
    assert {e.offer_id for e in ranking.excluded} == {"akash:akash1bad", "akash:akash1bad:bid:1/1/1/0"}
    assert all(e.reason == "blocked: failed a launch" for e in ranking.excluded)
