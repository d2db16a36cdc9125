"""The block time used for prices: measured on a real network (cached), mainnet's constant in the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from tools.deploy.akash_backend import AkashBackend
from tools.settings import NectoSettings

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def chain(seconds_per_block: float, calls: list[str], *, broken: bool = False) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if broken:
            return httpx.Response(503, json={"code": 14, "message": "unavailable"})
        which = request.url.path.rsplit("/", 1)[-1]
        height = 1000 if which == "latest" else int(which)
        at = T0 + timedelta(seconds=height * seconds_per_block)
        header = {"height": str(height), "time": at.isoformat().replace("+00:00", "Z"), "chain_id": "akashnet-2"}
        return httpx.Response(200, json={"block": {"header": header}})

    return httpx.MockTransport(handler)


def backend(tmp_path, transport, network="mainnet") -> AkashBackend:
    settings = NectoSettings(network=network, data_dir=tmp_path, rest_url="http://chain.test")
    return AkashBackend(settings, rest_url="http://chain.test", transport=transport)


async def test_mainnet_measures_twenty_blocks_and_caches(tmp_path):
    calls: list[str] = []
    b = backend(tmp_path, chain(6.25, calls))
    assert await b.pricing_block_time_s() == Decimal("6.250")
    assert calls[-1].endswith("/blocks/980")  # 20 blocks back
    n = len(calls)
    assert await b.pricing_block_time_s() == Decimal("6.250")
    assert len(calls) == n  # cached


async def test_unreachable_or_implausible_chain_falls_back_to_the_setting(tmp_path):
    assert await backend(tmp_path, chain(6.0, [], broken=True)).pricing_block_time_s() == Decimal("6.098")
    assert await backend(tmp_path, chain(0.05, [])).pricing_block_time_s() == Decimal("6.098")


async def test_sandbox_prices_like_mainnet_whatever_its_blocks(tmp_path):
    calls: list[str] = []
    b = backend(tmp_path, chain(0.2, calls), network="sandbox")
    assert await b.pricing_block_time_s() == Decimal("6.098") and calls == []
