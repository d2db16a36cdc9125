"""A devnet (fast blocks) and a NectoService wired to it over HTTP, exactly as in sandbox mode."""

from __future__ import annotations

import pytest

from devnet.server import start_devnet
from tools.settings import NectoSettings
from tools.wiring import build_service


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=24, seed=11, bid_window_blocks=40) as handle:
        yield handle


@pytest.fixture
def settings(devnet, tmp_path):
    return NectoSettings(
        data_dir=tmp_path,
        rest_url=devnet.rest_url,
        bid_wait_blocks=8,
        bid_deadline_s=20,
        lease_ready_timeout_s=30,
        tx_inclusion_timeout_s=20,
        catalog_dir=tmp_path / "no-catalogs",
    )


@pytest.fixture
def service(settings):
    svc = build_service(settings)
    yield svc
    svc.close()
