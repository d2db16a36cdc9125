"""ruff (lint rules in pyproject.toml) stays clean: style drift is caught by `make test`, not by review."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = ROOT / ".venv" / "bin" / "ruff"
    if not ruff.exists():
        ruff = shutil.which("ruff")
    if not ruff:
        pytest.skip("ruff is not installed")
    proc = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
