"""Necto's SDL compiler vs the TypeScript reference (@akashnetwork/chain-sdk), side by side in one run.

Run: `.venv/bin/python -m bench.sdl_vs_ts [N]` (N: SDLs, default 300). Both sides compile the same SDLs in one
process each: Necto in this Python process, the reference in one node process (tests/sdl/ts_reference/sdl.mjs,
`SDL.fromString(yaml, "beta3", "mainnet")` then `groups()` and `manifestVersion()`), fed as JSON lines.
The corpus: the conformance fixtures (valid and invalid), every template, and generated variants of the
templates (CPU, memory, storage, count and price varied). Each side is timed from the first SDL sent to the
last result received, after one warm-up pass; node's timing includes the JSON-lines pipe (one round trip
for the whole batch). Exits 0 with "skipped: ..." when node or the reference package is unavailable.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TS_DIR = ROOT / "tests" / "sdl" / "ts_reference"
CONFORMANCE = ROOT / ".." / "shared" / "conformance" / "sdl"
ENV = {"POSTGRES_PASSWORD": "bench", "MYSQL_ROOT_PASSWORD": "bench", "MYSQL_PASSWORD": "bench",
       "WORDPRESS_DB_PASSWORD": "bench", "MARIADB_ROOT_PASSWORD": "bench", "MARIADB_PASSWORD": "bench"}  # fmt: skip


def corpus(n: int, seed: int = 6) -> list[str]:
    from tools.errors import InvalidRequest
    from tools.sdl import TemplateVars, list_templates, render_sdl

    texts = []
    if CONFORMANCE.is_dir():
        texts += [p.read_text() for p in sorted((CONFORMANCE / "input").rglob("*.yaml"))]
    rng = random.Random(seed)
    ids = [info.id for info in list_templates()]
    i = 0
    while len(texts) < n:
        template = ids[i % len(ids)]
        variant = i >= len(ids)
        fields = {
            "image": "nginx:1.27" if template == "custom" else None,
            "price_uact_per_block": Decimal(rng.choice([1, 10, 100, 1000, 2500])),
            "cpu": rng.choice([0.5, 1, 2, 4, 8]) if variant else None,
            "memory_gib": rng.choice([0.5, 1, 2, 8, 32]) if variant else None,
            "storage_gib": rng.choice([1, 5, 20, 100]) if variant else None,
            "count": rng.randint(1, 3) if variant else 1,
        }
        try:
            texts.append(render_sdl(template, TemplateVars(**fields)))
        except InvalidRequest:
            try:
                texts.append(render_sdl(template, TemplateVars(**fields, env=ENV)))
            except InvalidRequest:
                pass
        i += 1
    return texts[:n]


def run_necto(texts: list[str]) -> tuple[float, list[str | None]]:
    from tools.errors import InvalidSDL
    from tools.sdl import compile_sdl

    hashes: list[str | None] = []
    start = time.perf_counter()
    for text in texts:
        try:
            hashes.append(compile_sdl(text).manifest_hash_hex)
        except InvalidSDL:
            hashes.append(None)
    return time.perf_counter() - start, hashes


def run_ts(proc: subprocess.Popen, texts: list[str]) -> tuple[float, list[str | None]]:
    assert proc.stdin and proc.stdout
    payload = "".join(json.dumps({"id": i, "yaml": t}) + "\n" for i, t in enumerate(texts))
    start = time.perf_counter()
    proc.stdin.write(payload)  # the pipe buffers are drained by node as it goes; replies are read below
    proc.stdin.flush()
    replies = [json.loads(proc.stdout.readline()) for _ in texts]
    elapsed = time.perf_counter() - start
    return elapsed, [r["hash"] if r["ok"] else None for r in replies]


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    node = shutil.which("node")
    if node is None:
        print("skipped: node is not on PATH")
        return 0
    if not (TS_DIR / "node_modules" / "@akashnetwork" / "chain-sdk").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            print("skipped: npm is not on PATH to install @akashnetwork/chain-sdk")
            return 0
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True, timeout=90
            )
        except subprocess.TimeoutExpired:
            print("skipped: npm ci timed out")
            return 0
        if done.returncode != 0:
            print("skipped: npm ci failed")
            return 0
    texts = corpus(n)
    import threading

    proc = subprocess.Popen([node, str(TS_DIR / "sdl.mjs")], cwd=TS_DIR, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, encoding="utf-8")  # fmt: skip
    try:
        # warm-up (imports, JIT) on both sides, then the timed pass
        run_necto(texts)
        holder: dict[str, tuple[float, list[str | None]]] = {}
        worker = threading.Thread(target=lambda: holder.setdefault("w", run_ts(proc, texts)))
        worker.start()
        worker.join()
        necto_s, necto_hashes = run_necto(texts)
        worker = threading.Thread(target=lambda: holder.__setitem__("t", run_ts(proc, texts)))
        worker.start()
        worker.join()
        ts_s, ts_hashes = holder["t"]
    finally:
        assert proc.stdin
        proc.stdin.close()
        proc.wait(timeout=10)
    both_ok = sum(a is not None and b is not None for a, b in zip(necto_hashes, ts_hashes, strict=True))
    same = sum(a is not None and a == b for a, b in zip(necto_hashes, ts_hashes, strict=True))
    rejected = sum(a is None and b is None for a, b in zip(necto_hashes, ts_hashes, strict=True))
    print(f"## SDL compile: Necto vs TS reference ({len(texts)} SDLs, one process each)\n")
    print("| implementation | total ms | mean ms/SDL |")
    print("|---|---:|---:|")
    print(
        f"| Necto (Python {sys.version.split()[0]}) | {1000 * necto_s:.1f} | {1000 * necto_s / len(texts):.3f} |"
    )
    print(
        f"| @akashnetwork/chain-sdk (node, incl. pipe) | {1000 * ts_s:.1f} | {1000 * ts_s / len(texts):.3f} |"
    )
    print(f"\nratio Necto/TS: {necto_s / ts_s:.2f} (target <= 1.00)")
    print(f"agreement: {same}/{both_ok} same hash where both accept; {rejected} rejected by both")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
