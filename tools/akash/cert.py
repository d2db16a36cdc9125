"""Akash certificates (cert v1): the mTLS client certificate, the on-chain certificate query, and
pinning a provider's TLS certificate to the one it published on chain.

**Client certificate (mTLS, akash.md §5 legacy path).** The format is the one ``provider-services tx cert
generate client`` writes (``akash-api: go/util/tls/key_pair_manager.go``): a self-signed ECDSA P-256
certificate whose subject and issuer CN are the owner's ``akash1...`` address, the extra subject attribute
``2.23.133.2.6 = "v0.0.1"`` (auth version), serial = Unix time in nanoseconds, one year of validity,
extended key usage clientAuth, basic constraints CA:false. It is published with
``/akash.cert.v1.MsgCreateCertificate {owner, cert: PEM "CERTIFICATE", pubkey: PEM "EC PUBLIC KEY"}`` (the
pubkey block holds the SubjectPublicKeyInfo DER); the chain checks the PEM block types, that the
certificate is signed by that key and that its CN is the owner (``chain-sdk: go/node/cert/v1/cert.go``,
``ParseAndValidateCertificate``). One deliberate difference: upstream sets key usage
keyEncipherment|dataEncipherment only; Necto adds digitalSignature, because in TLS 1.3 an ECDSA client
authenticates by signing and OpenSSL-based servers refuse a client certificate without it (Go-based
providers ignore key usage, so both kinds of provider accept it).

The private key is written once, 0600, to ``<key_dir>/mtls/<owner>.key.pem`` and never leaves that file
except into an ``ssl.SSLContext``; no object here holds it as text, and reprs show the owner and serial only.

**Provider certificate pinning.** Akash providers serve self-signed certificates, so public-CA verification
fails. Upstream clients (``provider: gateway/rest/client.go``, ``verifyPeerCertificate``) accept a provider's
single self-signed certificate only if it is a *valid certificate published on chain* by the address in its
CN (query ``GET /akash/cert/v1/certificates/list?filter.owner=&filter.serial=&filter.state=valid``); any
other certificate chain must verify against the system roots (providers with a Let's Encrypt certificate
for their JWT endpoint). :class:`ProviderTrust` does the same, and is stricter in two ways: the CN must be
the provider Necto expects (the lease's provider, or the on-chain provider whose ``host_uri`` is this host),
and the presented certificate must be byte-for-byte the published one. The verified certificate becomes
the only trust anchor of the ``SSLContext`` used for every later connection, so a certificate that changes
afterwards fails the TLS handshake; the gateway then re-checks the chain once (a provider rotating its
certificate publishes the new one first) and otherwise refuses with :class:`ProviderCertificateRefused`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from tools.akash.messages import is_account_address
from tools.errors import ProviderError
from tools.tls import default_ssl_context

__all__ = [
    "AUTH_VERSION_OID",
    "CertificateStore",
    "ChainCertificates",
    "ClientCertificate",
    "OnChainCertificate",
    "ProviderCertificateRefused",
    "ProviderTrust",
    "certificate_owner",
    "fingerprint",
    "generate_client_certificate",
    "pem_block",
    "publish_tx_body",
    "validate_certificate_pair",
]

AUTH_VERSION_OID = ObjectIdentifier("2.23.133.2.6")
AUTH_VERSION = "v0.0.1"
PEM_CERTIFICATE = "CERTIFICATE"
PEM_EC_PUBLIC_KEY = "EC PUBLIC KEY"
VALID_DAYS = 365
PIN_TTL_S = 600.0
PROBE_TIMEOUT_S = 10.0


class ProviderCertificateRefused(ProviderError):
    """The provider's TLS certificate is not the one it published on chain (or not a public-CA one)."""


# --- PEM helpers ----------------------------------------------------------------------------------------


def pem_block(kind: str, der: bytes) -> bytes:
    """A PEM block with 64-column base64 lines (Go's ``pem.EncodeToMemory``)."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----\n").encode("ascii")


def _pem_decode(data: bytes, kind: str, what: str) -> bytes:
    """The DER of the single PEM block of type ``kind`` in ``data``; ``ValueError`` otherwise."""
    text = bytes(data).decode("ascii", errors="strict").strip()
    begin, end = f"-----BEGIN {kind}-----", f"-----END {kind}-----"
    if not text.startswith(begin) or not text.endswith(end) or text.count("-----BEGIN") != 1:
        raise ValueError(f"{what} is not a single PEM {kind!r} block")
    try:
        return base64.b64decode("".join(text[len(begin) : -len(end)].split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"{what} has invalid base64 in its PEM block") from exc


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as colon-separated hex (what ``openssl x509 -fingerprint`` shows)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def certificate_owner(cert: x509.Certificate) -> str | None:
    """The ``akash1...`` address in a certificate's subject CN (None when absent or not an address)."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        return None
    return names[0].value if is_account_address(names[0].value) else None


def validate_certificate_pair(owner: str, cert_pem: bytes, pubkey_pem: bytes) -> x509.Certificate:
    """The chain's ``ParseAndValidateCertificate``: PEM types, EC public key, self-signature, CN = owner.

    Raises ``ValueError`` with the reason; returns the parsed certificate.
    """
    key = serialization.load_der_public_key(_pem_decode(pubkey_pem, PEM_EC_PUBLIC_KEY, "the public key"))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the public key is not an EC key")
    cert = x509.load_der_x509_certificate(_pem_decode(cert_pem, PEM_CERTIFICATE, "the certificate"))
    try:
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ValueError("the certificate is not signed by the given public key") from exc
    if certificate_owner(cert) != owner:
        raise ValueError("the certificate's CommonName does not match the owner")
    return cert


# --- the client certificate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientCertificate:
    """A client certificate on disk: the PEM certificate and public key, and the path of the 0600 key."""

    owner: str
    serial: int
    cert_pem: bytes = field(repr=False)
    pubkey_pem: bytes = field(repr=False)
    cert_path: Path = field(repr=False)
    key_path: Path = field(repr=False)
    not_after: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(_pem_decode(self.cert_pem, PEM_CERTIFICATE, "the certificate"))

    def expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= self.not_after


def generate_client_certificate(
    owner: str, *, now: datetime | None = None, valid_days: int = VALID_DAYS
) -> tuple[bytes, bytes, bytes]:
    """``(cert_pem, pubkey_pem, key_pem)`` for ``owner`` in the upstream client format (module docstring).

    The caller owns ``key_pem``: :meth:`CertificateStore.create` writes it 0600 and drops it.
    """
    if not is_account_address(owner):
        raise ValueError(f"{owner!r} is not an akash1... address")
    key = ec.generate_private_key(ec.SECP256R1())
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, owner),
            x509.NameAttribute(AUTH_VERSION_OID, AUTH_VERSION),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, owner)]))
        .public_key(key.public_key())
        .serial_number(time.time_ns())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_block(PEM_EC_PUBLIC_KEY, spki), key_pem


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 (never following a pre-existing file) and write ``data``."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class CertificateStore:
    """Client certificates under ``<key_dir>/mtls`` (directory 0700, files 0600), one per owner."""

    def __init__(self, key_dir: Path) -> None:
        self.directory = Path(key_dir) / "mtls"

    def __repr__(self) -> str:
        return f"CertificateStore({str(self.directory)!r})"

    def _paths(self, owner: str) -> tuple[Path, Path, Path]:
        if not is_account_address(owner):
            raise ValueError(f"{owner!r} is not an akash1... address")
        base = self.directory / owner
        return (
            base.with_name(owner + ".crt.pem"),
            base.with_name(owner + ".pub.pem"),
            base.with_name(owner + ".key.pem"),
        )

    def load(self, owner: str) -> ClientCertificate | None:
        """The stored certificate of ``owner`` (None if there is none, or it is unreadable or mismatched)."""
        if not is_account_address(owner):
            return None
        cert_path, pub_path, key_path = self._paths(owner)
        if not (cert_path.is_file() and pub_path.is_file() and key_path.is_file()):
            return None
        try:
            cert_pem, pubkey_pem = cert_path.read_bytes(), pub_path.read_bytes()
            cert = validate_certificate_pair(owner, cert_pem, pubkey_pem)
        except (OSError, ValueError):
            return None
        return ClientCertificate(
            owner=owner,
            serial=cert.serial_number,
            cert_pem=cert_pem,
            pubkey_pem=pubkey_pem,
            cert_path=cert_path,
            key_path=key_path,
            not_after=cert.not_valid_after_utc,
        )

    def create(self, owner: str, *, replace: bool = False) -> ClientCertificate:
        """Generate and store a new certificate; an existing, unexpired one is kept unless ``replace``."""
        existing = self.load(owner)
        if existing is not None and not replace and not existing.expired():
            return existing
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        cert_pem, pubkey_pem, key_pem = generate_client_certificate(owner)
        cert_path, pub_path, key_path = self._paths(owner)
        _write_private(key_path, key_pem)
        del key_pem
        _write_private(pub_path, pubkey_pem)
        _write_private(cert_path, cert_pem)
        created = self.load(owner)
        if created is None:  # pragma: no cover - the files were just written
            raise ProviderError("the client certificate could not be stored", hint=f"check {self.directory}")
        return created


def publish_tx_body(certificate: ClientCertificate) -> bytes:
    """The TxBody bytes publishing ``certificate`` (one ``MsgCreateCertificate``), for a confirmed plan."""
    import cosmpy.protos  # noqa: F401
    from cosmos.tx.v1beta1 import tx_pb2

    from tools.akash.messages import msg_create_certificate

    msg = msg_create_certificate(certificate.owner, certificate.cert_pem, certificate.pubkey_pem)
    return tx_pb2.TxBody(messages=[msg]).SerializeToString()


# --- the chain's certificate query ------------------------------------------------------------------------


@dataclass(frozen=True)
class OnChainCertificate:
    owner: str
    serial: int
    state: str
    cert_pem: bytes = field(repr=False)
    pubkey_pem: bytes = field(repr=False)

    @property
    def der(self) -> bytes:
        return _pem_decode(self.cert_pem, PEM_CERTIFICATE, "the on-chain certificate")


def _decode_bytes_field(value: object) -> bytes:
    """REST JSON carries proto ``bytes`` as base64; tolerate a node that returns the PEM text itself."""
    if not isinstance(value, str) or not value:
        return b""
    if value.startswith("-----BEGIN"):
        return value.encode("ascii", errors="replace")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


class ChainCertificates:
    """Reads certificates and provider records from the chain REST (URLs from settings only)."""

    def __init__(
        self,
        rest_url: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self._timeout_s = timeout_s
        self._transport = transport

    def __repr__(self) -> str:
        return f"ChainCertificates({self.rest_url!r})"

    async def _get(self, path: str, params: dict[str, str]) -> dict | None:
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout_s, transport=self._transport, verify=default_ssl_context()
            ) as http:
                response = await http.get(f"{self.rest_url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"could not read certificates from the chain REST at {self.rest_url}: {exc.__class__.__name__}",
                hint="check the network settings (NECTO_REST_URL); provider TLS is only trusted after this check",
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ProviderError(f"the chain REST answered HTTP {response.status_code} for {path}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(f"the chain REST answered non-JSON for {path}") from exc
        return body if isinstance(body, dict) else None

    async def certificates(
        self, owner: str, *, serial: int | None = None, state: str = "valid"
    ) -> list[OnChainCertificate]:
        """``/akash/cert/v1/certificates/list`` (singular ``filter.`` params), decoded; malformed rows skipped."""
        params = {"filter.owner": owner, "filter.state": state, "pagination.limit": "100"}
        if serial is not None:
            params["filter.serial"] = str(int(serial))
        body = await self._get("/akash/cert/v1/certificates/list", params) or {}
        found = []
        for row in body.get("certificates") or []:
            if not isinstance(row, dict) or not isinstance(row.get("certificate"), dict):
                continue
            cert = row["certificate"]
            serial_text = str(row.get("serial", ""))
            if not serial_text.isdigit():
                continue
            found.append(
                OnChainCertificate(
                    owner=owner,
                    serial=int(serial_text),
                    state=str(cert.get("state", "")),
                    cert_pem=_decode_bytes_field(cert.get("cert")),
                    pubkey_pem=_decode_bytes_field(cert.get("pubkey")),
                )
            )
        return [c for c in found if c.state == state and (serial is None or c.serial == serial)]

    async def provider_host_uri(self, owner: str) -> str | None:
        body = await self._get(f"/akash/provider/v1beta4/providers/{owner}", {})
        provider = (body or {}).get("provider")
        host_uri = provider.get("host_uri") if isinstance(provider, dict) else None
        return host_uri if isinstance(host_uri, str) else None

    async def is_published(self, certificate: ClientCertificate) -> bool:
        """True when ``certificate`` is on chain, valid, and byte-for-byte the stored one."""
        rows = await self.certificates(certificate.owner, serial=certificate.serial)
        return any(row.cert_pem.strip() == certificate.cert_pem.strip() for row in rows)


# --- provider certificate pinning ------------------------------------------------------------------------


def _host_port(host_uri: str) -> tuple[str, int]:
    parts = urlsplit(host_uri)
    if not parts.hostname:
        raise ProviderError(f"the provider host_uri {host_uri!r} has no host")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


async def _peer_certificate(host: str, port: int, timeout_s: float) -> bytes:
    """The DER certificate a TLS server presents (no verification: it is checked against the chain next)."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=probe, server_hostname=host), timeout_s
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise ProviderError(
            f"could not open a TLS connection to the provider at {host}:{port}: {exc.__class__.__name__}",
            hint="the provider may be offline; try again later or choose another provider",
        ) from exc
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 2)
    if not der:
        raise ProviderCertificateRefused(f"the provider at {host}:{port} presented no TLS certificate")
    return der


@dataclass
class _Pin:
    owner: str | None  # None: a public-CA certificate, verified by the system roots and the hostname
    cert_pem: bytes | None
    checked_at: float


class ProviderTrust:
    """Decides which TLS certificate each provider host may present (see the module docstring)."""

    def __init__(self, chain: ChainCertificates, *, ttl_s: float = PIN_TTL_S) -> None:
        self.chain = chain
        self.ttl_s = ttl_s
        self._pins: dict[tuple[str, int], _Pin] = {}

    def __repr__(self) -> str:
        return f"ProviderTrust({self.chain!r}, pinned={len(self._pins)})"

    def forget(self, host_uri: str) -> None:
        """Drop what was learnt about a host (its certificate failed a handshake)."""
        self._pins.pop(_host_port(host_uri), None)

    def pinned_owner(self, host_uri: str) -> str | None:
        pin = self._pins.get(_host_port(host_uri))
        return pin.owner if pin else None

    async def _pin(self, host_uri: str, provider: str | None) -> _Pin:
        host, port = _host_port(host_uri)
        pin = self._pins.get((host, port))
        if pin is not None and time.monotonic() - pin.checked_at < self.ttl_s:
            if provider is None or pin.owner in (None, provider):
                return pin
        der = await _peer_certificate(host, port, PROBE_TIMEOUT_S)
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError as exc:
            raise ProviderCertificateRefused(
                f"the provider at {host}:{port} presented a TLS certificate that does not parse"
            ) from exc
        owner = certificate_owner(cert)
        issuer_cns = [a.value for a in cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if owner is None or issuer_cns != [owner]:
            # Not an Akash self-signed certificate: it must chain to a public CA for this hostname (checked
            # by the default context on every connection), like upstream's multi-certificate path.
            pin = _Pin(owner=None, cert_pem=None, checked_at=time.monotonic())
            self._pins[(host, port)] = pin
            return pin
        short = fingerprint(der)[:23]
        if provider is not None and owner != provider:
            raise ProviderCertificateRefused(
                f"the provider at {host}:{port} presented the certificate of {owner}, not of {provider} "
                "(the lease's provider)",
                hint="do not send the manifest or credentials there; the host_uri may point at another machine",
            )
        published = await self.chain.certificates(owner, serial=cert.serial_number)
        match = next((row for row in published if _safe_der(row) == der), None)
        if match is None:
            raise ProviderCertificateRefused(
                f"the TLS certificate of provider {owner} at {host}:{port} (sha256 {short}...) is not a valid "
                "certificate that provider published on chain; it changed or was never published, which is "
                "what a man in the middle looks like",
                hint="Necto refused to connect. Try again later; if it persists, choose another provider or "
                "ask the provider to publish its current certificate (MsgCreateCertificate)",
            )
        if provider is None:
            registered = await self.chain.provider_host_uri(owner)
            if registered is None or _host_port(registered) != (host, port):
                raise ProviderCertificateRefused(
                    f"the certificate at {host}:{port} belongs to {owner}, whose on-chain host_uri is "
                    f"{registered or 'not set'}",
                    hint="Necto only talks to a provider at the host_uri it registered on chain",
                )
        pin = _Pin(owner=owner, cert_pem=match.cert_pem, checked_at=time.monotonic())
        self._pins[(host, port)] = pin
        return pin

    async def ssl_context(
        self,
        host_uri: str,
        *,
        provider: str | None = None,
        client_certificate: ClientCertificate | None = None,
    ) -> ssl.SSLContext:
        """An ``SSLContext`` that accepts only this provider's verified certificate (and, if given,
        presents ``client_certificate`` for mTLS)."""
        pin = await self._pin(host_uri, provider)
        if pin.owner is None:
            if client_certificate is None:
                return default_ssl_context()
            context = ssl.create_default_context(cafile=_certifi_bundle())
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            # Identity is the on-chain certificate itself (CN = provider address), not a DNS name: the
            # certificate is the only trust anchor, exactly as upstream's verifyPeerCertificate does.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_REQUIRED
            # The pinned certificate is itself the trust anchor even though its issuer name differs from
            # its subject (upstream certificates carry an extra subject attribute), as in Go's Verify.
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            context.load_verify_locations(cadata=pin.cert_pem.decode("ascii"))
        if client_certificate is not None:
            try:
                context.load_cert_chain(client_certificate.cert_path, client_certificate.key_path)
            except (OSError, ssl.SSLError) as exc:
                raise ProviderError(
                    f"the mTLS client certificate of {client_certificate.owner} could not be loaded",
                    hint="create it again (it is stored under <key_dir>/mtls) and publish it on chain",
                ) from exc
        return context


def _safe_der(row: OnChainCertificate) -> bytes | None:
    try:
        return row.der
    except ValueError:
        return None


def _certifi_bundle() -> str | None:
    cafile = os.environ.get("SSL_CERT_FILE")
    if cafile:
        return cafile
    import certifi

    return certifi.where()
