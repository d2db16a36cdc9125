"""Starting and stopping devnets: fast, leak-free, idempotent; the standalone entry point."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from devnet.server import start_devnet

ROOT = Path(__file__).resolve().parents[2]


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


def test_start_stop_fast_and_clean():
    threads_before = set(threading.enumerate())
    started = time.monotonic()
    handle = start_devnet(block_time_s=0.05, providers=20, seed=3)
    assert time.monotonic() - started < 2.0
    assert len(handle.providers) == 20
    assert httpx.get(handle.rest_url + "/necto-devnet/info").json()["chain_id"] == "necto-sandbox-1"
    assert handle.console_url == handle.rest_url and handle.lambda_url == handle.rest_url + "/lambda"
    urls = [handle.rest_url] + [p.host_uri for p in handle.providers if p.strategy.name != "offline"]
    assert all(_port_open(u) for u in urls)
    height = handle.chain.height
    time.sleep(0.3)
    assert handle.chain.height > height  # blocks are produced on the timer
    stopped = time.monotonic()
    handle.stop()
    assert time.monotonic() - stopped < 2.0
    handle.stop()  # idempotent
    assert not any(_port_open(u) for u in urls)
    assert set(threading.enumerate()) <= threads_before
    frozen = handle.chain.height
    time.sleep(0.2)
    assert handle.chain.height == frozen


def test_context_manager_and_parallel_devnets():
    with (
        start_devnet(block_time_s=0.05, providers=20, chain_id="necto-a") as a,
        start_devnet(block_time_s=0.05, providers=20, chain_id="necto-b", seed=7) as b,
    ):
        assert a.rest_url != b.rest_url
        assert (
            httpx.get(b.rest_url + "/cosmos/base/tendermint/v1beta1/node_info").json()["default_node_info"][
                "network"
            ]
            == "necto-b"
        )
        assert [p.owner for p in a.providers] == [p.owner for p in b.providers]  # same seed, same fleet
    assert threading.active_count() == 1 or all(
        not t.name.startswith("necto-devnet") for t in threading.enumerate()
    )


def test_standalone_process_prints_urls_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "devnet.server", "--block-time", "0.1", "--providers", "20"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        line = proc.stdout.readline()
        urls = json.loads(line)
        assert httpx.get(urls["rest_url"] + "/necto-devnet/info").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
