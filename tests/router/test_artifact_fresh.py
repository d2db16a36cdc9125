"""The committed ComputeRouter artifact matches its source (and, with Node, rebuilds byte for byte)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
SOURCE = CONTRACTS / "ComputeRouter.sol"
ARTIFACT = CONTRACTS / "build" / "ComputeRouter.json"
REBUILD = "cd contracts && npm ci && node compile.mjs"
NPM_CI_TIMEOUT_S = 25
COMPILE_TIMEOUT_S = 25


def _pinned_solc() -> str:
    return json.loads((CONTRACTS / "package.json").read_text())["devDependencies"]["solc"]


def test_artifact_source_hash_matches_the_contract():
    artifact = json.loads(ARTIFACT.read_text())
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()
    assert artifact["sourceSha256"] == digest, (
        f"contracts/build is stale: run `{REBUILD}` and commit the result"
    )


def test_one_solc_version_everywhere():
    pinned = _pinned_solc()
    assert re.fullmatch(r"0\.8\.\d+", pinned), "package.json pins an exact solc 0.8.x"
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/solc"]["version"] == pinned
    assert f"pragma solidity {pinned};" in SOURCE.read_text()
    compiler = json.loads(ARTIFACT.read_text())["compiler"]
    assert compiler["version"].startswith(f"{pinned}+commit.")
    assert compiler["evmVersion"] == "cancun"  # ADI Chain (stack.md)
    assert compiler["optimizer"]["enabled"] is True
    assert compiler["metadata"] == {"bytecodeHash": "none"}  # reproducible bytes


def _installed_solc_version(node_modules: Path) -> str | None:
    manifest = node_modules / "solc" / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text()).get("version")


@pytest.mark.slow
def test_artifact_rebuilds_byte_identical(tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm are not on PATH: only the source hash is checked")
    for name in ("package.json", "package-lock.json", "compile.mjs", SOURCE.name):
        shutil.copy2(CONTRACTS / name, tmp_path / name)

    pinned = _pinned_solc()
    if _installed_solc_version(CONTRACTS / "node_modules") == pinned:
        (tmp_path / "node_modules").symlink_to(CONTRACTS / "node_modules", target_is_directory=True)
    else:
        env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--prefer-offline"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm ci did not finish within {NPM_CI_TIMEOUT_S} s (offline or slow registry)")
        if proc.returncode != 0:
            pytest.skip(f"npm ci failed (offline?): {proc.stderr.strip()[-300:]}")

    proc = subprocess.run(
        [node, "compile.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S
    )
    assert proc.returncode == 0, proc.stderr
    rebuilt = (tmp_path / "build" / "ComputeRouter.json").read_bytes()
    assert rebuilt == ARTIFACT.read_bytes(), (
        f"contracts/build is stale: run `{REBUILD}` and commit the result"
    )
