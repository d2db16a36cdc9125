"""LocalKeySigner: key storage permissions, reuse, no secrets in repr, low-S signatures, policy checks."""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import stat

import coincurve
import cosmpy.protos  # noqa: F401
import pytest
from cosmos.tx.v1beta1 import tx_pb2

from tools.akash import messages as m
from tools.akash.signer import LocalKeySigner, assemble_tx_raw, build_sign_doc, verify_signature
from tools.akash.tx import build_auth_info, build_tx_body
from tools.errors import BudgetExceeded, PolicyDenied
from tools.settings import NectoSettings

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@pytest.fixture
def settings(tmp_path) -> NectoSettings:
    return NectoSettings(data_dir=tmp_path / "data", network="sandbox")


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_key_files_are_private_and_reused(settings, tmp_path) -> None:
    old = os.umask(0)  # even a permissive umask must not loosen the key file
    try:
        signer = LocalKeySigner(settings, "alice")
    finally:
        os.umask(old)
    key_dir = settings.effective_key_dir
    assert _mode(key_dir) == 0o700
    assert _mode(key_dir / "alice.key") == 0o600
    assert sorted(p.name for p in key_dir.iterdir()) == ["alice.key"]  # no temp file left behind

    again = LocalKeySigner(settings, "alice")
    assert again.address == signer.address and again.public_key == signer.public_key
    other = LocalKeySigner(settings, "bob")
    assert other.address != signer.address
    assert signer.address.startswith("akash1") and len(signer.address) == 44
    assert len(signer.public_key) == 33 and signer.public_key[0] in (2, 3)


def test_existing_loose_directory_is_tightened(settings) -> None:
    key_dir = settings.effective_key_dir
    key_dir.mkdir(parents=True)
    os.chmod(key_dir, 0o755)
    LocalKeySigner(settings)
    assert _mode(key_dir) == 0o700


def test_world_readable_key_is_refused(settings) -> None:
    LocalKeySigner(settings, "k")
    path = settings.effective_key_dir / "k.key"
    os.chmod(path, 0o644)
    with pytest.raises(PolicyDenied, match="readable by other users"):
        LocalKeySigner(settings, "k")


def test_bad_names_and_corrupt_files(settings) -> None:
    for name in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(PolicyDenied):
            LocalKeySigner(settings, name)
    key_dir = settings.effective_key_dir
    key_dir.mkdir(parents=True)
    fd = os.open(key_dir / "bad.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not a key")
    os.close(fd)
    with pytest.raises(PolicyDenied, match="not a hex"):
        LocalKeySigner(settings, "bad")


def test_repr_and_pickling_never_expose_the_key(settings) -> None:
    signer = LocalKeySigner(settings, "alice")
    secret_hex = signer._key.secret.hex()  # test-only peek to prove it is not shown
    text = repr(signer) + str(signer) + f"{signer}"
    assert signer.address in text and secret_hex not in text
    assert not any(hasattr(signer, a) for a in ("private_key", "mnemonic", "secret", "key"))
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)


def _tx_parts(signer: LocalKeySigner, fee: int = 5000):
    body = build_tx_body([m.msg_close_deployment(signer.address, 42)], "")
    auth = build_auth_info(signer.public_key, 3, 200_000, fee, "uakt")
    return body, auth


def test_sign_doc_verifies_and_is_low_s(settings) -> None:
    signer = LocalKeySigner(settings)
    body, auth = _tx_parts(signer)
    for chain_id in ("necto-sandbox-1", "akashnet-2"):
        signature = signer.sign_doc(body, auth, chain_id, 9)
        assert len(signature) == 64
        assert int.from_bytes(signature[32:], "big") <= N // 2
        doc = build_sign_doc(body, auth, chain_id, 9)
        der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(signature))
        assert coincurve.PublicKey(signer.public_key).verify(
            der, doc, hasher=lambda b: hashlib.sha256(b).digest()
        )
        assert verify_signature(signer.public_key, doc, signature)
        assert not verify_signature(signer.public_key, build_sign_doc(body, auth, chain_id, 10), signature)
        # the high-S twin of a valid signature is refused, as the chain does
        s = int.from_bytes(signature[32:], "big")
        assert not verify_signature(signer.public_key, doc, signature[:32] + (N - s).to_bytes(32, "big"))
    raw = tx_pb2.TxRaw.FromString(assemble_tx_raw(body, auth, signature))
    assert raw.body_bytes == body and raw.auth_info_bytes == auth and list(raw.signatures) == [signature]


def test_sign_doc_enforces_policy(settings) -> None:
    signer = LocalKeySigner(settings)
    body, auth = _tx_parts(signer)
    with pytest.raises(PolicyDenied, match="chain id"):
        signer.sign_doc(body, auth, "cosmoshub-4", 1)
    other = LocalKeySigner(settings, "other")
    foreign = build_tx_body([m.msg_close_deployment(other.address, 1)])
    with pytest.raises(PolicyDenied, match="other accounts"):
        signer.sign_doc(foreign, auth, "akashnet-2", 1)
    with pytest.raises(BudgetExceeded):
        signer.sign_doc(body, _tx_parts(signer, fee=settings.max_fee_uakt + 1)[1], "akashnet-2", 1)
    with pytest.raises(PolicyDenied, match="uakt"):
        signer.sign_doc(body, build_auth_info(signer.public_key, 1, 1, 1, "uact"), "akashnet-2", 1)
    with pytest.raises(PolicyDenied):
        signer.sign_doc(b"garbage", auth, "akashnet-2", 1)


def test_jwt_signing_refuses_anything_but_a_jwt(settings) -> None:
    from tools.akash.jwt import InvalidJWT

    signer = LocalKeySigner(settings)
    body, auth = _tx_parts(signer)
    with pytest.raises(InvalidJWT):
        signer.sign_jwt_input(build_sign_doc(body, auth, "akashnet-2", 1))
    with pytest.raises(InvalidJWT):
        signer.sign_jwt_input(b"abc.def")
