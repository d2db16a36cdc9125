"""`necto deploy --tracked`, `necto record` and `necto verify` against a devnet over HTTP (sandbox mode).

The tampering is done on the CLI's own ledger file (``$NECTO_DATA_DIR/necto.db``) with plain sqlite3, as
someone with access to the machine would.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tools.routing.canonical import canonical_json
from ui.cli import app

ROOT = Path(__file__).resolve().parents[2]
NECTO = ROOT / ".venv" / "bin" / "necto"

pytestmark = pytest.mark.slow


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def tamper_snapshot(db: Path, job_id: str) -> str:
    """Make the chosen offer look cheaper in the stored snapshot (its recorded hash left alone)."""
    with sqlite3.connect(db) as conn:
        decision_id, snapshot_json, decision_json = conn.execute(
            "SELECT id, snapshot_json, decision_json FROM routingdecision WHERE job_id = ?", (job_id,)
        ).fetchone()
        chosen = json.loads(decision_json)["chosen"]
        snapshot = json.loads(snapshot_json)
        offer = next(o for o in snapshot["offers"] if o["offer_id"] == chosen)
        assert offer["usd_total"] != "0.01"
        offer["usd_total"] = "0.01"
        conn.execute("UPDATE routingdecision SET snapshot_json = ? WHERE id = ?",
                     (canonical_json(snapshot).decode(), decision_id))
    return chosen


def test_a_tracked_deploy_verifies_and_a_tampered_snapshot_fails_verify(env, tmp_path):
    deployed = run("deploy", "--template", "static", "--tracked", "--confirm", "--json")
    assert deployed.exit_code == 0, deployed.output
    job = json.loads(deployed.output.strip().splitlines()[-1])
    job_id = job["job_id"]
    assert job["state"] == "running"

    text = run("verify", job_id)
    assert text.exit_code == 0, text.output
    first = text.output.splitlines()[0]
    assert first.startswith("Routing decision ") and ": verified" in first
    for check in ("snapshot hash", "replay", "on-chain decision hash", "on-chain submitter", "signature"):
        assert f"ok   {check}:" in text.output
    assert "FAIL" not in text.output

    as_json = run("verify", job_id, "--json")
    assert as_json.exit_code == 0
    data = json.loads(as_json.output)
    assert data["verified"] is True and data["tracked"] is True and data["job_id"] == job_id
    assert "report" not in data and data["not_checked"] == []
    assert all(f["ok"] for f in data["findings"])

    recorded = run("record", job_id, "--json")
    assert recorded.exit_code == 0, recorded.output
    record = json.loads(recorded.output)
    assert record["mode"] == "tracked" and record["job"]["job_id"] == job_id
    assert record["on_chain"]["status"] == "running" and record["on_chain"]["dseq"] == job["dseq"]
    assert record["on_chain"]["decision_hash"] == "0x" + data["decision_hash"]
    assert record["evm_transactions"] == []  # recorded and moved to running when it deployed
    assert "tracked" in run("record", job_id).output

    chosen = tamper_snapshot(tmp_path / "necto.db", job_id)
    caught = run("verify", job_id)
    assert caught.exit_code == 1
    assert "checks FAILED" in caught.output.splitlines()[0]
    assert "FAIL snapshot hash: the stored snapshot hashes to" in caught.output
    assert f"offer {chosen} in the snapshot is not the one decided on" in caught.output
    caught_json = run("verify", job_id, "--json")
    assert caught_json.exit_code == 1
    failed = {f["check"] for f in json.loads(caught_json.output)["findings"] if not f["ok"]}
    assert json.loads(caught_json.output)["verified"] is False and "snapshot hash" in failed

    if NECTO.exists():  # the installed binary, in its own process: the exit status a script would see
        proc = subprocess.run([str(NECTO), "verify", job_id], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert "FAIL snapshot hash" in proc.stdout and "Traceback" not in proc.stderr

    close = run("close", job_id, "--confirm", "--json")
    assert close.exit_code == 0 and json.loads(close.output)["state"] == "closed"


def test_verify_of_an_unknown_job_is_one_sentence(env):
    missing = run("verify", "job_nonexistent")
    assert missing.exit_code == 1
    lines = missing.output.strip().splitlines()
    assert lines[0] == "error: I can't find job 'job_nonexistent' of yours."
    assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines)

