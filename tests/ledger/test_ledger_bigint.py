"""Real Akash figures fit: a millisecond dseq and a deposit of thousands of ACT (past 32-bit INTEGER)."""

from __future__ import annotations

from tools.ledger import Job, Plan


def test_job_dseq_and_deposit_past_32_bits(database_url, open_ledger):
    ledger = open_ledger(database_url)
    ledger.add_plan(Plan(id="plan_big", owner="alice", kind="deploy", plan_hash="h", body_json="{}"))
    dseq, deposit = 1_795_491_412_164, 3_000_000_000  # Console-style dseq; 3,000 ACT in uact
    ledger.add_job(Job(id="job_big", owner="alice", plan_id="plan_big", network="mainnet", chain_id="akashnet-2",
                       dseq=dseq, deposit_uact=deposit))
    ledger.update_job("job_big", refund_uact=deposit - 1)
    job = ledger.job("job_big")
    assert (job.dseq, job.deposit_uact, job.refund_uact) == (dseq, deposit, deposit - 1)
