"""Paths of Akash's SDL conformance data, read in place from ../shared (never copied).

Test modules import these from here, not from conftest: several test folders have a conftest.py, and
``from conftest import ...`` would pick whichever was imported first.
"""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CONFORMANCE = SHARED / "conformance" / "sdl"
VALID_CASES = sorted(p.name for p in (CONFORMANCE / "input" / "v2.0").iterdir() if p.is_dir()) if CONFORMANCE.is_dir() else []
INVALID_FILES = sorted(p.name for p in (CONFORMANCE / "input" / "invalid").glob("*.yaml")) if CONFORMANCE.is_dir() else []
