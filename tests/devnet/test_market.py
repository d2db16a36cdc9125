"""Provider bidding rules, provider listings (chain + Console-compatible) and gateway basics."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from devnet_testkit import (
    URL_CREATE_DEPLOYMENT,
    Wallet,
    bids_for,
    create_deployment_msg,
    resource_unit,
    wait_bid_window,
)

from devnet.providers import (
    AUDITOR,
    build_fleet,
    uact_per_block_to_usd_per_hour,
    uact_per_block_to_usd_per_month,
)

CONSOLE_OPENAPI = Path(__file__).resolve().parents[3] / "shared/data/akash/console-openapi.json"


@pytest.fixture(scope="module")
def wallet(chain):
    w = Wallet.from_name("market")
    chain.faucet(w)
    return w


def _deploy_and_collect(chain, client, devnet, wallet, dseq, units, **kwargs) -> list[dict]:
    tx = chain.send(
        wallet, [(URL_CREATE_DEPLOYMENT, create_deployment_msg(wallet.address, dseq, units, **kwargs))]
    )
    assert tx["code"] == 0, tx["raw_log"]
    wait_bid_window(chain, devnet, wallet.address, dseq)
    return bids_for(client, wallet.address, dseq)


def test_several_orders_bid_rules(devnet, client, chain, wallet):
    """GPU, audited-only, region and low max-price orders, all opened together to share one bid window."""
    orders = {
        101: dict(
            units=[
                resource_unit(cpu_milli=4000, memory=16 * 1024**3, gpu=1, gpu_model="a100", price_uact=5000)
            ]
        ),
        102: dict(units=[resource_unit(price_uact=1000)], signed_by_any=[AUDITOR]),
        103: dict(units=[resource_unit(price_uact=1000)], attributes={"region": "eu-north"}),
        104: dict(units=[resource_unit(price_uact=2)]),
        105: dict(units=[resource_unit(gpu=1, gpu_model="b200", price_uact=50000)]),
        106: dict(
            units=[
                resource_unit(cpu_milli=4000, memory=16 * 1024**3, gpu=1, gpu_model="h100", price_uact=100)
            ]
        ),
    }
    heights = {}
    for dseq, kwargs in orders.items():
        tx = chain.send(
            wallet, [(URL_CREATE_DEPLOYMENT, create_deployment_msg(wallet.address, dseq, **kwargs))]
        )
        assert tx["code"] == 0, tx["raw_log"]
        heights[dseq] = int(tx["height"])
    for dseq in orders:
        wait_bid_window(chain, devnet, wallet.address, dseq)
    bids = {dseq: bids_for(client, wallet.address, dseq) for dseq in orders}

    # GPU: only providers with an a100 node bid, and their price includes the GPU (~1 USD/h)
    gpu_bids = bids[101]
    assert len(gpu_bids) >= 2
    for bid in gpu_bids:
        provider = devnet.provider(bid["id"]["provider"])
        assert any(n.gpu_model == "a100" for n in provider.nodes)
        usd_hour = uact_per_block_to_usd_per_hour(Decimal(bid["price"]["amount"]))
        assert Decimal("0.6") < usd_hour <= uact_per_block_to_usd_per_hour(Decimal(5000))
    assert any(devnet.provider(b["id"]["provider"]).strategy.name == "gpu-specialist" for b in gpu_bids)

    # signedBy: only audited providers
    assert len(bids[102]) >= 2
    assert all(devnet.provider(b["id"]["provider"]).audited for b in bids[102])

    # placement attributes: only providers in that region
    for bid in bids[103]:
        assert ("region", "eu-north") in devnet.provider(bid["id"]["provider"]).attributes

    # low max price: only cheap providers, never above the ceiling
    assert all(Decimal(b["price"]["amount"]) <= 2 for b in bids[104])
    assert not any(
        devnet.provider(b["id"]["provider"]).strategy.name == "premium-reliable" for b in bids[104]
    )

    # a model nobody has, and an H100 for 100 uact/block (~0.17 USD/h): no bids
    assert bids[105] == [] and bids[106] == []

    # every bid arrived inside its order's window, and nobody bid twice
    for dseq, order_bids in bids.items():
        order = devnet.chain.orders[(wallet.address, dseq, 1, 1)]
        assert all(order.created_at < int(b["created_at"]) < order.bids_close_at for b in order_bids)
        assert len({b["id"]["provider"] for b in order_bids}) == len(order_bids) <= 20


def test_bids_are_deterministic_per_seed():
    a, b = build_fleet(7, 24), build_fleet(7, 24)
    assert [p.owner for p in a] == [p.owner for p in b]
    assert len({p.owner for p in a}) == 24
    assert [p.owner for p in build_fleet(8, 24)] != [p.owner for p in a]
    strategies = {p.strategy.name for p in a}
    assert {
        "cheap-flaky",
        "premium-reliable",
        "gpu-specialist",
        "slow-bidder",
        "picky",
        "offline",
    } <= strategies


def test_rates_are_realistic():
    for provider in build_fleet(7, 24):
        small = provider.cpu_rate * 1000 + provider.mem_rate + provider.storage_rate  # 1 CPU + 1 GiB + 1 GiB
        assert Decimal("0.5") <= uact_per_block_to_usd_per_month(small) <= Decimal("3")
        if "a100" in provider.gpu_rates:
            assert (
                Decimal("0.6") <= uact_per_block_to_usd_per_hour(provider.gpu_rates["a100"]) <= Decimal("1.5")
            )
        if "h100" in provider.gpu_rates:
            assert (
                Decimal("1.5") <= uact_per_block_to_usd_per_hour(provider.gpu_rates["h100"]) <= Decimal("2.5")
            )


def test_providers_pagination(client, devnet):
    seen, key, pages = [], None, 0
    while True:
        params = {"pagination.limit": 10}
        if key:
            params["pagination.key"] = key
        body = client.get("/akash/provider/v1beta4/providers", params=params).json()
        seen += body["providers"]
        pages += 1
        assert body["pagination"]["total"] == "24"
        key = body["pagination"]["next_key"]
        if key is None:
            break
    assert pages == 3 and len({p["owner"] for p in seen}) == 24
    for provider in seen:
        assert provider["owner"].startswith("akash1") and provider["host_uri"].startswith("http://127.0.0.1:")
        attrs = {a["key"]: a["value"] for a in provider["attributes"]}
        assert attrs["host"] == "akash" and attrs["tier"] in ("community", "datacenter") and "region" in attrs
    one = client.get(f"/akash/provider/v1beta4/providers/{seen[0]['owner']}").json()["provider"]
    assert one == seen[0]
    audits = client.get("/akash/audit/v1/audit/attributes/list").json()["providers"]
    assert audits and all(a["auditor"] == AUDITOR for a in audits)
    assert {a["owner"] for a in audits} == {p.owner for p in devnet.providers if p.audited}


def _required(openapi: dict, path: str) -> tuple[list[str], dict]:
    schema = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return schema, schema


def test_console_routes_match_openapi(client, devnet):
    with open(CONSOLE_OPENAPI) as fh:
        openapi = json.load(fh)
    item = openapi["paths"]["/v1/providers"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]["items"]
    providers = client.get("/v1/providers").json()
    assert len(providers) == 24
    for provider in providers:
        assert set(item["required"]) <= set(provider)
        assert {"cpu", "gpu", "memory", "storage"} <= set(provider["stats"])
        for attr in provider["attributes"]:
            assert set(attr) == {"key", "value", "auditedBy"}
    offline = [p for p in providers if not p["isOnline"]]
    assert offline and all(
        devnet.provider(p["owner"]).strategy.name in ("offline", "cheap-flaky") for p in offline
    )
    assert {p["isAudited"] for p in providers} == {True, False}
    detail = client.get(f"/v1/providers/{providers[0]['owner']}")
    assert detail.status_code == 200 and detail.json()["owner"] == providers[0]["owner"]

    schema = openapi["paths"]["/v1/gpu-prices"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    prices = client.get("/v1/gpu-prices").json()
    assert set(schema["required"]) <= set(prices)
    model_required = schema["properties"]["models"]["items"]["required"]
    by_model = {}
    for model in prices["models"]:
        assert set(model_required) <= set(model)
        assert model["price"]["min"] <= model["price"]["med"] <= model["price"]["max"]
        by_model[model["model"]] = model
    assert 0.6 <= by_model["a100"]["price"]["avg"] <= 1.5
    assert 1.5 <= by_model["h100"]["price"]["avg"] <= 2.5


def test_gateway_basics(devnet):
    online = next(p for p in devnet.providers if p.strategy.name == "premium-reliable")
    status = httpx.get(f"{online.host_uri}/status").json()
    assert status["address"] == online.owner
    nodes = status["cluster"]["inventory"]["available"]["nodes"]
    assert nodes and {"cpu", "gpu", "memory", "storage_ephemeral"} <= set(nodes[0]["allocatable"])
    assert httpx.get(f"{online.host_uri}/address").json() == {"address": online.owner}
    assert httpx.get(f"{online.host_uri}/version").json()["akash"]["version"].startswith("v0.")
    down = next(p for p in devnet.providers if p.strategy.name == "offline")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{down.host_uri}/status", timeout=2)
