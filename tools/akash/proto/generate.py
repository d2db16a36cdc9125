"""Regenerate tools/akash/protogen from the .proto files beside this script.

Run: .venv/bin/python -m tools.akash.proto.generate   (needs grpcio-tools, a dev dependency)

The generated modules are committed so that running Necto needs no protoc. Imports are rewritten to
live under ``tools.akash.protogen`` (no top-level ``akash`` package: the archived PyPI package of that
name must never shadow or be shadowed). ``cosmos.*`` imports resolve to cosmpy's generated protos.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
OUT_DIR = PROTO_DIR.parent / "protogen"
PACKAGE = "tools.akash.protogen"


def generate(out_dir: Path = OUT_DIR) -> list[Path]:
    import grpc_tools
    from grpc_tools import protoc

    sources = sorted(p.relative_to(PROTO_DIR) for p in PROTO_DIR.glob("akash/**/*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "protoc",
            f"-I{PROTO_DIR}",
            f"-I{PROTO_DIR / '_stubs'}",
            f"-I{well_known}",
            f"--python_out={tmp}",
            *map(str, sources),
        ]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        written = []
        for generated in sorted(Path(tmp).rglob("*_pb2.py")):
            target = out_dir / generated.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = generated.read_text()
            text = re.sub(r"^from akash\.", f"from {PACKAGE}.akash.", text, flags=re.M)
            target.write_text(text)
            written.append(target)
    for folder in {out_dir, *(p.parent for p in out_dir.rglob("*_pb2.py"))}:
        while folder != out_dir.parent:
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text("")
            folder = folder.parent
    (out_dir / "__init__.py").write_text(
        '"""Generated from tools/akash/proto (do not edit; run tools.akash.proto.generate)."""\n\n'
        "import cosmpy.protos  # noqa: F401  (puts cosmos.* generated modules on sys.path)\n"
    )
    return written


if __name__ == "__main__":
    files = generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
    print(f"generated {len(files)} modules in {OUT_DIR}")
