"""The CLI tests' devnet (one per module, over HTTP) and an environment pointing `necto` at it."""

from __future__ import annotations

import os

import pytest

from devnet.server import start_devnet
from tools.service import set_service


@pytest.fixture(scope="module")
def devnet():
    with start_devnet(block_time_s=0.05, providers=24, seed=5, bid_window_blocks=40) as handle:
        yield handle


@pytest.fixture
def env(devnet, tmp_path, monkeypatch):
    """NECTO_* settings for a fresh data dir on the module's devnet; the process-wide service is reset."""
    values = {
        "NECTO_REST_URL": devnet.rest_url,
        "NECTO_DATA_DIR": str(tmp_path),
        "NECTO_BID_WAIT_BLOCKS": "8",
        "NECTO_CATALOG_DIR": str(tmp_path / "none"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    set_service(None)
    yield {**os.environ, **values}
    from tools import service as service_module

    if service_module._service is not None:
        service_module._service.close()
    set_service(None)
