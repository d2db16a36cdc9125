"""mTLS client certificates: upstream format, 0600 storage, the MsgCreateCertificate builder and the
chain's certificate query; checked against the devnet's independent x/cert rules (devnet/certs.py)."""

from __future__ import annotations

import base64
import stat
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devnet.certs import CertificateInvalid, validate_certificate
from tools.akash import messages as m
from tools.akash.cert import (
    AUTH_VERSION_OID,
    CertificateStore,
    ChainCertificates,
    generate_client_certificate,
    publish_tx_body,
    validate_certificate_pair,
)
from tools.akash.protogen.akash.cert.v1 import msg_pb2 as cert_pb2
from tools.errors import InvalidRequest, PolicyDenied, ProviderError

OWNER = "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63"
OTHER = "akash150rtrmj2f8vl9tem8qpfw36ylw5jg9j27c8wqr"  # a real address (key 0x07...07)


def test_certificate_has_the_upstream_client_format():
    before = time.time_ns()
    cert_pem, pubkey_pem, key_pem = generate_client_certificate(OWNER)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == OWNER
    assert cert.subject.get_attributes_for_oid(AUTH_VERSION_OID)[0].value == "v0.0.1"
    assert cert.issuer == x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, OWNER)])
    assert before <= cert.serial_number <= time.time_ns()  # serial = Unix time in ns, like upstream
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and usage.data_encipherment and usage.digital_signature
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    # the pubkey block: type "EC PUBLIC KEY", PKIX DER of the certificate's key
    assert pubkey_pem.startswith(b"-----BEGIN EC PUBLIC KEY-----\n")
    der = base64.b64decode(b"".join(pubkey_pem.strip().splitlines()[1:-1]))
    assert der == cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    # the chain's own rules (implemented independently in the devnet) accept it
    assert validate_certificate(OWNER, cert_pem, pubkey_pem).serial_number == cert.serial_number
    assert validate_certificate_pair(OWNER, cert_pem, pubkey_pem).serial_number == cert.serial_number


def test_chain_rules_refuse_mismatched_pairs():
    cert_pem, pubkey_pem, _ = generate_client_certificate(OWNER)
    _, other_pubkey, _ = generate_client_certificate(OWNER)
    for check in (validate_certificate, validate_certificate_pair):
        with pytest.raises(ValueError, match="(?i)signature|signed"):
            check(OWNER, cert_pem, other_pubkey)
        with pytest.raises(ValueError, match="CommonName"):
            check(OTHER, cert_pem, pubkey_pem)
        spki_as_public_key = pubkey_pem.replace(b"EC PUBLIC KEY", b"PUBLIC KEY")
        with pytest.raises(ValueError, match="(?i)pem|public key|pubkey"):
            check(OWNER, cert_pem, spki_as_public_key)
    with pytest.raises(CertificateInvalid, match="invalid pem block type"):
        validate_certificate(OWNER, cert_pem.replace(b"CERTIFICATE", b"X509 CRL"), pubkey_pem)
    with pytest.raises(ValueError):
        generate_client_certificate("cosmos1notakash")


def test_store_writes_private_files_and_never_shows_the_key(tmp_path):
    store = CertificateStore(tmp_path / "keys")
    assert store.load(OWNER) is None and store.load("not-an-address") is None
    created = store.create(OWNER)
    assert store.create(OWNER) == created  # kept while valid
    key_text = created.key_path.read_bytes()
    assert key_text.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(created.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(created.cert_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    shown = repr(created) + str(created)
    assert OWNER in shown and str(created.serial) in shown
    assert "PRIVATE" not in shown and "BEGIN" not in shown and str(created.key_path) not in shown
    assert not hasattr(created, "key_pem")
    loaded = store.load(OWNER)
    assert loaded is not None and loaded.serial == created.serial and not loaded.expired()
    assert loaded.expired(datetime.now(UTC) + timedelta(days=366))
    replaced = store.create(OWNER, replace=True)
    assert replaced.serial != created.serial and replaced.key_path.read_bytes() != key_text
    # a tampered certificate file is not used
    replaced.cert_path.write_bytes(generate_client_certificate(OTHER)[0])
    assert store.load(OWNER) is None


def test_create_certificate_message_is_signable_and_shown_readably(tmp_path):
    certificate = CertificateStore(tmp_path).create(OWNER)
    body = publish_tx_body(certificate)
    m.assert_signable(body, OWNER)
    with pytest.raises(PolicyDenied, match="other accounts"):
        m.assert_signable(body, OTHER)
    (described,) = m.describe_messages(body)
    assert described["type_url"] == "/akash.cert.v1.MsgCreateCertificate" == m.TYPE_CREATE_CERTIFICATE
    assert described["fields"] == {
        "owner": OWNER,
        "cert": certificate.cert_pem.decode(),
        "pubkey": certificate.pubkey_pem.decode(),
    }
    packed = m.msg_create_certificate(OWNER, certificate.cert_pem, certificate.pubkey_pem)
    decoded = cert_pb2.MsgCreateCertificate.FromString(packed.value)
    assert (decoded.owner, decoded.cert, decoded.pubkey) == (
        OWNER, certificate.cert_pem, certificate.pubkey_pem,
    )  # fmt: skip
    with pytest.raises(InvalidRequest, match="PEM 'CERTIFICATE'"):
        m.msg_create_certificate(OWNER, b"not pem", certificate.pubkey_pem)
    with pytest.raises(InvalidRequest, match="EC PUBLIC KEY"):
        m.msg_create_certificate(OWNER, certificate.cert_pem, certificate.cert_pem)
    with pytest.raises(InvalidRequest, match="bech32"):
        m.msg_create_certificate("akash1nope", certificate.cert_pem, certificate.pubkey_pem)


async def test_chain_query_uses_singular_filters_and_decodes_base64(tmp_path):
    certificate = CertificateStore(tmp_path).create(OWNER)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/providers/" + OWNER):
            return httpx.Response(
                200, json={"provider": {"owner": OWNER, "host_uri": "https://p.example:8443"}}
            )
        rows = [
            {
                "certificate": {
                    "state": "valid",
                    "cert": base64.b64encode(certificate.cert_pem).decode(),
                    "pubkey": base64.b64encode(certificate.pubkey_pem).decode(),
                },
                "serial": str(certificate.serial),
            },
            {"certificate": {"state": "valid", "cert": "%%%", "pubkey": ""}, "serial": "not-a-number"},
        ]
        return httpx.Response(
            200, json={"certificates": rows, "pagination": {"next_key": None, "total": "2"}}
        )

    chain = ChainCertificates("https://rest.example/", transport=httpx.MockTransport(handler))
    (row,) = await chain.certificates(OWNER, serial=certificate.serial)
    assert row.serial == certificate.serial and row.cert_pem == certificate.cert_pem
    params = seen[-1].url.params
    assert seen[-1].url.path == "/akash/cert/v1/certificates/list"
    assert (params["filter.owner"], params["filter.serial"], params["filter.state"]) == (
        OWNER, str(certificate.serial), "valid",
    )  # fmt: skip
    assert await chain.is_published(certificate)
    assert await chain.provider_host_uri(OWNER) == "https://p.example:8443"

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text="boom")

    with pytest.raises(ProviderError, match="HTTP 500"):
        await ChainCertificates("https://rest.example", transport=httpx.MockTransport(broken)).certificates(
            OWNER
        )
