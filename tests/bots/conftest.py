"""Fixtures for the bot tests: a devnet and a NectoService wired to it (installed as the process service).

No model: the agent is the offline planner (the test-wide conftest removes every model key).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from bot_helpers import PUBLIC_URL  # noqa: E402

from devnet.server import start_devnet  # noqa: E402
from tools.settings import NectoSettings  # noqa: E402
from tools.wiring import build_service  # noqa: E402


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=12, seed=5, bid_window_blocks=40) as handle:
        yield handle


@pytest.fixture
def settings(devnet, tmp_path):
    return NectoSettings(
        data_dir=tmp_path, rest_url=devnet.rest_url, public_url=PUBLIC_URL, bid_wait_blocks=8, bid_deadline_s=20,
        lease_ready_timeout_s=30, tx_inclusion_timeout_s=20, catalog_dir=tmp_path / "no-catalogs",
    )


@pytest.fixture
def service(settings):
    from tools.service import set_service

    svc = build_service(settings)
    set_service(svc)
    yield svc
    set_service(None)
    svc.close()
