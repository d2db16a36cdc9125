"""The committed protobuf modules are exactly what tools/akash/proto generates (no hand edits, no
linter rewrites: a formatter once dropped an import that the descriptor pool needed)."""

from pathlib import Path

import pytest

from tools.akash.proto.generate import OUT_DIR, generate


def test_generated_modules_match_the_proto_sources(tmp_path: Path):
    pytest.importorskip("grpc_tools")
    fresh = generate(tmp_path / "protogen")
    assert fresh, "nothing generated"
    for path in fresh:
        rel = path.relative_to(tmp_path / "protogen")
        committed = OUT_DIR / rel
        assert committed.exists(), f"{rel} is not committed"
        assert committed.read_text() == path.read_text(), f"{rel} differs from the generator's output: run `make protos`"


def test_every_message_module_imports():
    from tools.akash.protogen.akash.deployment.v1beta4 import deployment_pb2
    from tools.akash.protogen.akash.market.v1beta5 import lease_pb2

    assert deployment_pb2.MsgCreateDeployment.DESCRIPTOR.full_name == "akash.deployment.v1beta4.MsgCreateDeployment"
    assert lease_pb2.MsgCreateLease.DESCRIPTOR.full_name == "akash.market.v1beta5.MsgCreateLease"
