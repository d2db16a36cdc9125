"""The devnet's cert module rules and its providers' TLS: x509 checks the chain does, server certificates
and the per-handshake TLS context of a provider that accepts mTLS clients.

Written independently of ``tools/akash/cert.py`` so the product is checked against the chain's rules, not
against itself. Rules (``chain-sdk: go/node/cert/v1/cert.go``, ``ParseAndValidateCertificate``): the pubkey
is one PEM block of type ``EC PUBLIC KEY`` holding a PKIX (SubjectPublicKeyInfo) ECDSA key; the cert is one
PEM block of type ``CERTIFICATE``; the certificate's signature verifies with that key; the subject CN is
the owner's bech32 address. Certificates are keyed by (owner, serial): publishing a serial twice fails.

Provider TLS mirrors ``provider: gateway/utils/utils.go`` (``NewServerTLSConfig``): the server requests a
client certificate, and a presented one is only accepted if it is a valid certificate on chain (here:
the handshake's trust store is rebuilt from the chain's valid certificates by an SNI callback, the Python
equivalent of Go's ``GetConfigForClient``). Known difference: OpenSSL enforces key usage on client
certificates, so a client certificate needs digitalSignature (Necto's have it; Go providers ignore it).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import ssl
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from devnet import txdecode

__all__ = ["CertificateInvalid", "ServerTLS", "generate_certificate", "peer_owner", "validate_certificate"]

AUTH_VERSION_OID = ObjectIdentifier("2.23.133.2.6")


class CertificateInvalid(ValueError):
    """A certificate/pubkey pair the cert module refuses (the message is the chain's reason)."""


def _pem_block(kind: str, der: bytes) -> bytes:
    text = base64.b64encode(der).decode()
    body = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode()


def _pem_der(data: bytes, kind: str, error: str) -> bytes:
    try:
        text = bytes(data).decode("ascii").strip()
    except UnicodeDecodeError:
        raise CertificateInvalid(error) from None
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    if not text.startswith("-----BEGIN") or text.count("-----BEGIN") != 1 or not text.endswith("-----"):
        raise CertificateInvalid(error)
    if not text.startswith(begin) or not text.endswith(end):
        raise CertificateInvalid(f"{error}: invalid pem block type")
    try:
        return base64.b64decode("".join(text[len(begin) : -len(end)].split()), validate=True)
    except binascii.Error:
        raise CertificateInvalid(error) from None


def validate_certificate(owner: str, cert_pem: bytes, pubkey_pem: bytes) -> x509.Certificate:
    """The cert module's ParseAndValidateCertificate; raises :class:`CertificateInvalid`."""
    spki = _pem_der(pubkey_pem, "EC PUBLIC KEY", "invalid pubkey value")
    try:
        key = serialization.load_der_public_key(spki)
    except ValueError:
        raise CertificateInvalid("invalid pubkey value: not a PKIX public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise CertificateInvalid("invalid pubkey value: invalid public key type")
    der = _pem_der(cert_pem, "CERTIFICATE", "invalid certificate value")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateInvalid("invalid certificate value: x509: malformed certificate") from None
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise CertificateInvalid("invalid certificate value: invalid certificate signature") from None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = names[0].value if len(names) == 1 else ""
    if not txdecode.is_valid_address(common_name):
        raise CertificateInvalid("invalid certificate value: CommonName is not a bech32 account address")
    if common_name != owner:
        raise CertificateInvalid("invalid certificate value: CommonName does not match owner")
    return cert


def generate_certificate(
    owner: str, *, hosts: tuple[str, ...] = (), days: int = 365
) -> tuple[bytes, bytes, bytes]:
    """``(cert_pem, pubkey_pem, key_pem)``: self-signed P-256, CN = owner; with ``hosts``, a server
    certificate for those names/IPs (``provider-services tx cert generate server <host>``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    eku = [ExtendedKeyUsageOID.CLIENT_AUTH] + ([ExtendedKeyUsageOID.SERVER_AUTH] if hosts else [])
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, owner),
                    x509.NameAttribute(AUTH_VERSION_OID, "v0.0.1"),
                ]
            )
        )
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, owner)]))
        .public_key(key.public_key())
        .serial_number(time.time_ns())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(
            x509.KeyUsage(True, False, True, True, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_block("EC PUBLIC KEY", spki), key_pem


def peer_owner(der: bytes) -> tuple[str, int] | None:
    """(CN address, serial) of a DER client certificate, or None."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not txdecode.is_valid_address(names[0].value):
        return None
    return names[0].value, cert.serial_number


class ServerTLS:
    """A provider's TLS identity: its server certificate (files in a private temp dir) and contexts.

    ``trusted_clients`` returns the PEM certificates a client may present (the chain's valid ones); when it
    is None, no client certificate is requested (a JWT-only provider over TLS).
    """

    def __init__(
        self,
        owner: str,
        hosts: tuple[str, ...],
        trusted_clients: Callable[[], tuple[bytes, ...]] | None = None,
    ) -> None:
        self.owner = owner
        self.cert_pem, self.pubkey_pem, key_pem = generate_certificate(owner, hosts=hosts)
        self._dir = tempfile.TemporaryDirectory(prefix="necto-devnet-tls-")
        self.cert_path = Path(self._dir.name) / "server.crt"
        self.key_path = Path(self._dir.name) / "server.key"
        self.cert_path.write_bytes(self.cert_pem)
        self.key_path.touch(mode=0o600)
        self.key_path.write_bytes(key_pem)
        self._trusted_clients = trusted_clients
        self._cache: tuple[tuple[bytes, ...], ssl.SSLContext] | None = None

    @property
    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.cert_pem).serial_number

    def close(self) -> None:
        self._dir.cleanup()

    def _context(self, clients: tuple[bytes, ...] | None) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        if clients is not None:
            context.verify_mode = ssl.CERT_OPTIONAL  # requested, not required: /status needs no auth
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # an on-chain certificate is its own anchor
            if clients:
                context.load_verify_locations(cadata="".join(c.decode("ascii") for c in clients))
        return context

    def server_context(self) -> ssl.SSLContext:
        """The listening context; for mTLS, each handshake swaps in a context trusting the chain's certs."""
        if self._trusted_clients is None:
            return self._context(None)
        base = self._context(())

        def per_handshake(ssl_object: ssl.SSLObject, _server_name: str | None, _base: ssl.SSLContext) -> None:
            clients = self._trusted_clients()
            if self._cache is None or self._cache[0] != clients:
                self._cache = (clients, self._context(clients))
            ssl_object.context = self._cache[1]

        base.sni_callback = per_handshake
        return base
