"""Two Necto services sharing one database resume interrupted jobs: every job is driven exactly once.

Each service stands for a separate Necto process (own worker id, own event loop tasks) on the same
PostgreSQL schema (and SQLite file); the chain is one in-memory backend that counts every signed lease.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from memory_chain import MemoryChain  # noqa: E402

from tools.ledger import Job, Ledger, Plan  # noqa: E402
from tools.service import NectoService  # noqa: E402
from tools.settings import NectoSettings  # noqa: E402

JOBS = 6


def _interrupted_jobs(ledger: Ledger, chain: MemoryChain) -> None:
    """Jobs a crash left in "bids": their deployments exist on chain, no lease yet."""
    for i in range(JOBS):
        dseq = 1_795_000_000_000 + i
        body = chain.create_deployment_body(dseq=dseq, groups=[], manifest_hash=b"", deposit_uact=500_000)
        chain._apply({"type": "create", "dseq": dseq, "deposit": 500_000})
        ledger.add_plan(Plan(id=f"plan_{i}", owner="alice", kind="deploy", plan_hash="h", body_json="{}",
                             tx_body_b64=__import__("base64").b64encode(body).decode()))
        ledger.add_job(Job(id=f"job_{i}", owner="alice", plan_id=f"plan_{i}", state="bids", network="sandbox",
                           chain_id="necto-sandbox-1", dseq=dseq, deposit_uact=500_000,
                           max_price_uact_per_block="8", manifest_json="[]", create_tx_hash=f"TX{i}",
                           request_json='{"cpu": 1, "memory_gib": 1, "storage_gib": 1}'))


@pytest.mark.asyncio
async def test_two_services_on_one_database_resume_each_job_once(database_url, open_ledger, tmp_path):
    chain = MemoryChain()
    first_ledger = open_ledger(database_url)
    _interrupted_jobs(first_ledger, chain)
    settings = NectoSettings(data_dir=tmp_path, bid_wait_blocks=2, bid_deadline_s=5, lease_ready_timeout_s=3,
                             catalog_dir=tmp_path / "none")
    services = [
        NectoService(settings, backend=chain, ledger=ledger, sources=[])
        for ledger in (first_ledger, open_ledger(database_url))
    ]
    assert services[0].worker_id != services[1].worker_id
    results = await asyncio.gather(*(service.resume_unfinished() for service in services))

    leases = Counter(m["dseq"] for m in chain.signed if m["type"] == "lease")
    assert len(leases) == JOBS and set(leases.values()) == {1}, leases  # nobody leased twice
    resumed = [r["job_id"] for result in results for r in result]
    assert sorted(resumed) == [f"job_{i}" for i in range(JOBS)]  # each reported by exactly one service
    assert all(first_ledger.job(f"job_{i}").state == "running" for i in range(JOBS))
    assert all(first_ledger.job(f"job_{i}").claimed_by is None for i in range(JOBS))  # claims released
