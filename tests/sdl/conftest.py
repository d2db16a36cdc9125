"""Shared paths for the SDL tests: conformance data is read in place from ../shared (never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CONFORMANCE = SHARED / "conformance" / "sdl"
# empty where ../shared is absent (a user's checkout): the conformance tests then skip or fail, not collection
VALID_CASES = (
    sorted(p.name for p in (CONFORMANCE / "input" / "v2.0").iterdir() if p.is_dir())
    if CONFORMANCE.is_dir()
    else []
)
INVALID_FILES = sorted(p.name for p in (CONFORMANCE / "input" / "invalid").glob("*.yaml"))


@pytest.fixture(scope="session")
def conformance() -> Path:
    return CONFORMANCE
