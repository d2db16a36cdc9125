"""Fixtures for the devnet tests: one fast-block devnet per test module (helpers: devnet_testkit.py)."""

from __future__ import annotations

import httpx
import pytest
from devnet_testkit import BID_WINDOW_BLOCKS, BLOCK_TIME_S, ChainClient

from devnet.server import start_devnet


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=BLOCK_TIME_S, bid_window_blocks=BID_WINDOW_BLOCKS, seed=7) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(devnet):
    with httpx.Client(base_url=devnet.rest_url, timeout=10.0) as http:
        yield http


@pytest.fixture(scope="module")
def chain(client, devnet) -> ChainClient:
    return ChainClient(client, devnet.chain_id)
