"""One sandbox per data dir: a second Necto process (the CLI beside `make run`) attaches to the running
embedded devnet instead of starting its own, and a stale record is ignored."""

from __future__ import annotations

import json

import pytest

from tools.settings import NectoSettings
from tools.wiring import SANDBOX_FILE, build_service

pytestmark = pytest.mark.slow


def test_second_process_attaches_and_stale_record_is_ignored(tmp_path):
    settings = NectoSettings(data_dir=tmp_path, devnet_block_time_s=0.05)
    owner = build_service(settings)
    try:
        assert owner.devnet is not None
        record = json.loads((tmp_path / SANDBOX_FILE).read_text())
        assert record["rest_url"] == owner.devnet.rest_url
        other = build_service(settings)
        assert other.devnet is None  # attached, did not start a second chain
        assert other.backend.rest_url == owner.devnet.rest_url
    finally:
        owner.close()
    assert not (tmp_path / SANDBOX_FILE).exists()

    (tmp_path / SANDBOX_FILE).write_text(json.dumps({"rest_url": "http://127.0.0.1:9", "console_url": "x", "lambda_url": "y"}))
    fresh = build_service(settings)
    try:
        assert fresh.devnet is not None and fresh.backend.rest_url != "http://127.0.0.1:9"
    finally:
        fresh.close()
