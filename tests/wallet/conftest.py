"""Wallet tests: the Python stand-in for Keplr (wallet_double), and a devnet + service for the flows."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Helpers in this folder import by module name; test dirs have no __init__.py.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def devnet():
    from devnet.server import start_devnet

    with start_devnet(block_time_s=0.05, providers=24, seed=11, bid_window_blocks=40) as handle:
        yield handle


@pytest.fixture
def settings(devnet, tmp_path):
    from tools.settings import NectoSettings

    return NectoSettings(
        data_dir=tmp_path, rest_url=devnet.rest_url, bid_wait_blocks=8, bid_deadline_s=20,
        lease_ready_timeout_s=30, tx_inclusion_timeout_s=20, catalog_dir=tmp_path / "no-catalogs",
    )


@pytest.fixture
def service(settings):
    from tools.wiring import build_service

    svc = build_service(settings)
    yield svc
    svc.close()
