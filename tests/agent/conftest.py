from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Helpers in this folder (fake_backend) import by module name; test dirs have no __init__.py.
sys.path.insert(0, str(Path(__file__).parent))

# No test may reach a real model: settings must not find a key, so build_agent picks the offline planner.
for _name in ("GOOGLE_API_KEY", "NECTO_GOOGLE_API_KEY", "GEMINI_API_KEY"):
    os.environ.pop(_name, None)
os.environ.setdefault("ADK_DISABLE_LOAD_DOTENV", "1")


@pytest.fixture(autouse=True)
def _no_model_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GOOGLE_API_KEY", "NECTO_GOOGLE_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
