"""Background-work claims: exclusive across threads and across processes (PostgreSQL: SELECT ... FOR UPDATE
SKIP LOCKED; SQLite: BEGIN IMMEDIATE + one conditional UPDATE), expiring, renewable, releasable."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tools.ledger import RESUMABLE_STATES, Job, Ledger, Plan

ROOT = Path(__file__).resolve().parents[2]


def _seed(ledger: Ledger, count: int, *, state: str = "bids", network: str = "sandbox", prefix: str = "j") -> list[str]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = []
    for n in range(count):
        job_id = f"{prefix}{n:03d}"
        ledger.add_plan(Plan(id=f"plan_{job_id}", owner="o", kind="deploy", plan_hash="h", body_json="{}"))
        ledger.add_job(Job(id=job_id, owner="o", plan_id=f"plan_{job_id}", network=network, chain_id="c",
                           state=state, created_at=start + timedelta(seconds=n)))
        ids.append(job_id)
    return ids


def _drain(ledger: Ledger, worker: str, *, limit: int) -> list[str]:
    claimed: list[str] = []
    while batch := ledger.claim_jobs(worker, RESUMABLE_STATES, lease_s=300, limit=limit):
        claimed += [job.id for job in batch]
        assert all(job.claimed_by == worker for job in batch)
        time.sleep(0.001)  # "work": lets the other threads in between claims
    return claimed


def _assert_each_claimed_once(ledger: Ledger, ids: list[str], claims: dict[str, list[str]]) -> None:
    counts = Counter(job_id for claimed in claims.values() for job_id in claimed)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}, [job_id for job_id, n in counts.items() if n > 1]
    for worker, claimed in claims.items():
        for job_id in claimed:
            assert ledger.job(job_id).claimed_by == worker


def test_threads_never_claim_the_same_job(database_url, open_ledger):
    ledger = open_ledger(database_url)
    ids = _seed(ledger, 60)
    workers = [f"thread-{n}" for n in range(8)]
    barrier = threading.Barrier(len(workers))

    def work(worker: str) -> list[str]:
        barrier.wait()
        return _drain(ledger, worker, limit=2)

    with ThreadPoolExecutor(len(workers)) as pool:
        claims = dict(zip(workers, pool.map(work, workers), strict=True))
    _assert_each_claimed_once(ledger, ids, claims)


WORKER = """
import json, sys
from tools.ledger import RESUMABLE_STATES, Ledger
url, worker = sys.argv[1], sys.argv[2]
ledger = Ledger(url)
print("ready", flush=True)
sys.stdin.readline()
claimed = []
while batch := ledger.claim_jobs(worker, RESUMABLE_STATES, lease_s=300, limit=2):
    claimed += [job.id for job in batch]
print(json.dumps(claimed), flush=True)
"""


def test_processes_never_claim_the_same_job(database_url, open_ledger):
    ledger = open_ledger(database_url)
    ids = _seed(ledger, 80)
    workers = [f"process-{n}" for n in range(4)]
    processes = {
        worker: subprocess.Popen([sys.executable, "-c", WORKER, database_url, worker], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for worker in workers
    }
    for process in processes.values():
        assert process.stdout.readline().strip() == "ready"
    for process in processes.values():  # all start claiming together
        process.stdin.write("go\n")
        process.stdin.flush()
    claims = {}
    for worker, process in processes.items():
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        claims[worker] = json.loads(out.strip().splitlines()[-1])
    _assert_each_claimed_once(ledger, ids, claims)


def test_claims_take_the_oldest_jobs_in_the_asked_states(database_url, open_ledger):
    ledger = open_ledger(database_url)
    _seed(ledger, 3, prefix="bid")
    _seed(ledger, 2, state="running", prefix="run")
    _seed(ledger, 2, state="closed", prefix="end")
    _seed(ledger, 2, network="mainnet", prefix="main")
    first = ledger.claim_jobs("a", RESUMABLE_STATES, lease_s=60, limit=2, network="sandbox")
    assert [job.id for job in first] == ["bid000", "bid001"]
    assert first[0].claimed_until > datetime.now(UTC) + timedelta(seconds=50)
    rest = ledger.claim_jobs("b", RESUMABLE_STATES, lease_s=60, limit=10, network="sandbox")
    assert [job.id for job in rest] == ["bid002"]
    assert [job.id for job in ledger.claim_jobs("c", ["running"], lease_s=60, limit=10)] == ["run000", "run001"]
    assert [job.id for job in ledger.claim_jobs("d", RESUMABLE_STATES, lease_s=60, limit=10)] == ["main000", "main001"]
    assert ledger.claim_jobs("e", ["closed"], lease_s=60, limit=0) == []
    assert [job.id for job in ledger.claim_jobs("e", ["closed"], lease_s=60, limit=10)] == ["end000", "end001"]
    assert ledger.claim_jobs("f", [], lease_s=60, limit=10) == []


def test_an_expired_claim_can_be_taken_and_the_old_holder_is_told(database_url, open_ledger):
    ledger = open_ledger(database_url)
    (job_id,) = _seed(ledger, 1)
    assert [job.id for job in ledger.claim_jobs("a", RESUMABLE_STATES, lease_s=60, limit=5)] == [job_id]
    assert ledger.claim_jobs("b", RESUMABLE_STATES, lease_s=60, limit=5) == []
    assert not ledger.claim_job(job_id, "b", lease_s=60)

    ledger.update_job(job_id, claimed_until=datetime.now(UTC) - timedelta(seconds=1))  # a stopped renewing
    assert [job.id for job in ledger.claim_jobs("b", RESUMABLE_STATES, lease_s=60, limit=5)] == [job_id]
    assert not ledger.renew_claim(job_id, "a", 60)  # a learns it lost the job
    assert not ledger.release_claim(job_id, "a")
    assert ledger.job(job_id).claimed_by == "b"
    assert ledger.release_claim(job_id, "b")
    job = ledger.job(job_id)
    assert (job.claimed_by, job.claimed_until, job.state) == (None, None, "bids")
    assert [job.id for job in ledger.claim_jobs("c", RESUMABLE_STATES, lease_s=60, limit=5)] == [job_id]


def test_a_claim_expires_on_its_own_and_renewing_keeps_it(database_url, open_ledger):
    ledger = open_ledger(database_url)
    kept, lapsed = _seed(ledger, 2)
    assert len(ledger.claim_jobs("a", RESUMABLE_STATES, lease_s=0.3, limit=5)) == 2
    assert ledger.renew_claim(kept, "a", 60)
    time.sleep(0.5)
    assert [job.id for job in ledger.claim_jobs("b", RESUMABLE_STATES, lease_s=60, limit=5)] == [lapsed]
    assert ledger.job(kept).claimed_by == "a"


def test_claim_one_job_for_the_process_that_runs_it(database_url, open_ledger):
    ledger = open_ledger(database_url)
    (job_id,) = _seed(ledger, 1, state="confirmed")
    assert ledger.claim_job(job_id, "web-1", lease_s=60)
    assert ledger.claim_job(job_id, "web-1", lease_s=60)  # again: already its own
    assert not ledger.claim_job(job_id, "resumer", lease_s=60)
    assert ledger.claim_jobs("resumer", RESUMABLE_STATES, lease_s=60, limit=5) == []
    assert not ledger.claim_job("no_such_job", "web-1", lease_s=60)


def test_claims_do_not_disturb_the_holders_updates(database_url, open_ledger):
    ledger = open_ledger(database_url)
    (job_id,) = _seed(ledger, 1)
    ledger.claim_jobs("a", RESUMABLE_STATES, lease_s=60, limit=1)
    ledger.update_job(job_id, state="lease", provider="akash1p")
    assert ledger.renew_claim(job_id, "a", 60)
    job = ledger.job(job_id)
    assert (job.state, job.provider, job.claimed_by) == ("lease", "akash1p", "a")
