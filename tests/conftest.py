"""Test-wide guards: no real model, no developer data dir, no .env loading, no network beyond loopback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Never call a real model from tests (brief: "Tests never call a real model").
for var in ("GOOGLE_API_KEY", "NECTO_GOOGLE_API_KEY", "GEMINI_API_KEY"):
    os.environ.pop(var, None)
os.environ["ADK_DISABLE_LOAD_DOTENV"] = "1"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own data dir (keys, SQLite) unless it sets one itself."""
    data_dir = tmp_path_factory.mktemp("necto-data")
    monkeypatch.setenv("NECTO_DATA_DIR", str(data_dir))
    yield data_dir


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED
