"""Client for a provider's gateway (akash.md §5): status, manifest, lease status, logs and events.

Everything a provider sends is untrusted (security.md rule 2): log lines and event notes are stripped of
ANSI escapes and control/format characters and capped in length before they leave this module, service
names are reduced to ``[a-z0-9-]``, and a malformed answer or frame is a ``ProviderError`` (HTTP) or is
skipped (websocket frames), never a crash.

    ProviderError                   unreachable gateway, 401, garbage, lease unknown after all retries
    ├── ManifestRejected            422: the provider's hash of the manifest differs from the on-chain hash
    ├── ProviderCertificateRefused  the provider's TLS certificate is not the one it published on chain
    └── ClientCertificateRejected   the provider closed the TLS handshake on our mTLS client certificate

Authentication (akash.md §5): a JWT bearer (AEP-64) first, never together with a client certificate
(upstream providers answer "ambiguous authentication" to both). ``auth="auto"`` falls back to mTLS when a
provider answers 401 to the JWT and a client certificate is available (providers from before JWT support
accept only mTLS); the gateway then stays on mTLS. ``auth="jwt"`` / ``"mtls"`` force one method.

TLS: Akash providers serve self-signed certificates. With a :class:`tools.akash.cert.ProviderTrust`
(``trust=``), the certificate must be the one the provider published on chain (or chain to a public CA for
the hostname); it is the only trust anchor for every later connection, a changed certificate is re-checked
against the chain once and otherwise refused (``ProviderCertificateRefused``). Without ``trust``,
``verify`` applies as given (``True``: system CAs; a CA bundle path or an ``ssl.SSLContext``: pinned by
the caller). ``verify=False`` accepts a man-in-the-middle who could read the bearer JWT and the manifest
(env values included) and forge status/logs; it is an explicit per-provider opt-out, never a default.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import ssl
import unicodedata
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus, WebSocketException

from tools.akash.cert import ClientCertificate, ProviderCertificateRefused, ProviderTrust
from tools.errors import ManifestRejected, ProviderError
from tools.tls import default_ssl_context

__all__ = [
    "ClientCertificateRejected",
    "ForwardedPort",
    "KubeEvent",
    "LeaseStatus",
    "LogLine",
    "ProviderGateway",
    "ProviderStatus",
    "ServiceStatus",
    "sanitize_text",
    "service_from_pod",
]

MAX_LINE_CHARS = 2_000
_WINDOW = 2_000  # lines remembered to drop replays after a reconnect
_RECONNECT_TAIL = 50
_MAX_RECONNECTS = 5
_MAX_FRAME_BYTES = 1 << 20

JwtFactory = Callable[[], str | Awaitable[str]]
AuthMode = Literal["auto", "jwt", "mtls"]


class ClientCertificateRejected(ProviderError):
    """The provider ended the TLS handshake on our mTLS client certificate."""

# --- sanitising ---------------------------------------------------------------------------------------

_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor moves)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC strings
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)


def sanitize_text(text: Any, max_chars: int = MAX_LINE_CHARS) -> str:
    """One line of untrusted text made safe to show or hand to the model.

    Strips ANSI escapes, control characters (tabs become spaces) and invisible format characters
    (zero-width, bidi overrides), and caps the length with a visible marker.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _ANSI.sub("", text[: max_chars * 4])
    kept = []
    for ch in text:
        if ch == "\t":
            kept.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            kept.append(ch)
    clean = "".join(kept).strip()
    if len(clean) > max_chars:
        clean = clean[: max_chars - 1] + "…"
    return clean


_POD_SUFFIXES = (
    re.compile(r"^(?P<svc>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$"),  # Deployment: <svc>-<rs hash>-<pod>
    re.compile(r"^(?P<svc>.+)-\d+$"),  # StatefulSet: <svc>-<ordinal>
    re.compile(r"^(?P<svc>.+)-[a-z0-9]{5}$"),  # a bare pod suffix
)


def service_from_pod(pod: str, known_services: tuple[str, ...] = ()) -> str:
    """The SDL service name from a pod name like ``web-7d9f8c6b5-x2x7k``, reduced to ``[a-z0-9-]``."""
    pod = re.sub(r"[^a-z0-9-]", "", str(pod).lower())[:253]
    for name in sorted(known_services, key=len, reverse=True):
        if pod == name or pod.startswith(name + "-"):
            return name
    for pattern in _POD_SUFFIXES:
        match = pattern.match(pod)
        if match:
            return match.group("svc")[:63]
    return pod[:63]


# --- models -------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class LogLine(_Model):
    service: str
    pod: str
    message: str


class KubeEvent(_Model):
    type: str
    reason: str
    note: str
    object_kind: str
    object_name: str
    service: str


class ServiceStatus(_Model):
    name: str
    available: int
    total: int
    uris: list[str]
    ready_replicas: int
    available_replicas: int


class ForwardedPort(_Model):
    host: str
    port: int  # the container port
    external_port: int  # what to connect to on ``host``
    proto: str
    name: str


class LeaseStatus(_Model):
    services: dict[str, ServiceStatus]
    forwarded_ports: dict[str, list[ForwardedPort]]
    ips: dict[str, Any]
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def ready(self) -> bool:
        """Every service has all replicas available."""
        return bool(self.services) and all(
            s.total > 0 and s.available >= s.total for s in self.services.values()
        )


class NodeInventory(_Model):
    name: str
    allocatable: dict[str, int]
    available: dict[str, int]


class ProviderStatus(_Model):
    address: str
    cluster_public_hostname: str
    active_leases: int
    nodes: list[NodeInventory]
    raw: dict[str, Any] = Field(default_factory=dict, repr=False, exclude=True)


# --- parsing ------------------------------------------------------------------------------------------


def _as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return default


def _clean_str(value: Any, max_chars: int = 255) -> str:
    return sanitize_text(value, max_chars) if isinstance(value, str | int) else ""


def _parse_lease_status(body: Any) -> LeaseStatus:
    if not isinstance(body, dict) or not isinstance(body.get("services", {}), dict | None):
        raise ProviderError("the provider's lease status is not the documented JSON object")
    services = {}
    for key, svc in (body.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        name = service_from_pod(svc.get("name") or key, (str(key),))
        uris = [_clean_str(u) for u in svc.get("uris") or [] if isinstance(u, str)]
        services[name] = ServiceStatus(
            name=name,
            available=_as_int(svc.get("available")),
            total=_as_int(svc.get("total")),
            uris=[u for u in uris if u],
            ready_replicas=_as_int(svc.get("ready_replicas")),
            available_replicas=_as_int(svc.get("available_replicas")),
        )
    forwarded: dict[str, list[ForwardedPort]] = {}
    raw_ports = body.get("forwarded_ports") or {}
    if isinstance(raw_ports, dict):
        for key, ports in raw_ports.items():
            if not isinstance(ports, list):
                continue
            name = service_from_pod(str(key), (str(key),))
            forwarded[name] = [
                ForwardedPort(
                    host=_clean_str(p.get("host")),
                    port=_as_int(p.get("port")),
                    external_port=_as_int(p.get("externalPort", p.get("external_port"))),
                    proto=_clean_str(p.get("proto") or "TCP", 8),
                    name=service_from_pod(str(p.get("name") or key), (str(key),)),
                )
                for p in ports
                if isinstance(p, dict)
            ]
    ips = body.get("ips") if isinstance(body.get("ips"), dict) else {}
    return LeaseStatus(services=services, forwarded_ports=forwarded, ips=ips, raw=body)


def _resource_map(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        return {}
    return {sanitize_text(k, 64): _as_int(v) for k, v in value.items() if not isinstance(v, dict | list)}


def _parse_provider_status(body: Any) -> ProviderStatus:
    if not isinstance(body, dict):
        raise ProviderError("the provider's /status is not a JSON object")
    cluster = body.get("cluster") if isinstance(body.get("cluster"), dict) else {}
    leases = cluster.get("leases")
    nodes_raw = ((cluster.get("inventory") or {}).get("available") or {}).get("nodes") if cluster else None
    nodes = [
        NodeInventory(
            name=_clean_str(n.get("name"), 128),
            allocatable=_resource_map(n.get("allocatable")),
            available=_resource_map(n.get("available")),
        )
        for n in (nodes_raw if isinstance(nodes_raw, list) else [])
        if isinstance(n, dict)
    ]
    return ProviderStatus(
        address=_clean_str(body.get("address"), 64),
        cluster_public_hostname=_clean_str(body.get("cluster_public_hostname")),
        active_leases=_as_int(leases.get("active") if isinstance(leases, dict) else leases),
        nodes=nodes,
        raw=body,
    )


def _frame_json(frame: str | bytes) -> dict | None:
    if isinstance(frame, bytes):
        frame = frame.decode("utf-8", errors="replace")
    try:
        value = json.loads(frame)
    except (json.JSONDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --- the client ---------------------------------------------------------------------------------------


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        return ssl.create_default_context()
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # see the module docstring: an explicit, per-provider opt-in
    return context


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _certificate_verify_failed(exc: BaseException) -> bool:
    return any(
        isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e)
        for e in _cause_chain(exc)
    )


def _tls_alert(exc: BaseException) -> str | None:
    """The TLS alert the peer sent (e.g. ``TLSV1_ALERT_UNKNOWN_CA``), if that is what ended the connection."""
    for e in _cause_chain(exc):
        reason = getattr(e, "reason", None) or ""
        text = reason if isinstance(reason, str) and reason else str(e)
        match = re.search(r"(?:TLSV1\d?|SSLV3)_ALERT_[A-Z_]+", text.upper())
        if match:
            return match.group(0)
    return None


class _CertificateChanged(Exception):
    """A pinned provider certificate failed a handshake: re-check the chain once."""


class ProviderGateway:
    """One provider's gateway at its on-chain ``host_uri`` (``https://host:8443``).

    ``jwt_factory`` returns a fresh bearer token (sync or async), e.g.
    ``lambda: create_jwt(signer, ttl_s=300)``. ``client_certificate`` (published on chain) enables mTLS, as
    the fallback (``auth="auto"``) or the only method (``auth="mtls"``). ``provider`` is the address the
    lease names, checked against the certificate's CN when ``trust`` pins it. Plain ``http://`` is refused
    unless ``allow_http`` (the devnet's loopback providers): the JWT is a credential.
    """

    def __init__(
        self,
        host_uri: str,
        *,
        jwt_factory: JwtFactory | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str | ssl.SSLContext = True,
        allow_http: bool = False,
        ping_interval_s: float = 20.0,
        reconnect_delay_s: float = 1.0,
        trust: ProviderTrust | None = None,
        provider: str | None = None,
        client_certificate: ClientCertificate | None = None,
        auth: AuthMode = "auto",
    ) -> None:
        parts = urlsplit(host_uri.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ProviderError(f"the provider host_uri {host_uri!r} is not an http(s) URL")
        if parts.scheme == "http" and not allow_http:
            raise ProviderError(
                f"refusing plain http to provider {parts.hostname}: the bearer JWT would travel unencrypted",
                hint="providers serve https on :8443; allow_http is meant for the local devnet",
            )
        if auth not in ("auto", "jwt", "mtls"):
            raise ProviderError(f"unknown provider auth method {auth!r}", hint="use auto, jwt or mtls")
        https = parts.scheme == "https"
        can_mtls = https and client_certificate is not None
        if auth == "mtls" and not can_mtls:
            raise ProviderError(
                "mTLS to a provider needs https and a client certificate published on chain",
                hint="create and publish a client certificate first, or use JWT authentication",
            )
        if jwt_factory is None and not can_mtls:
            raise ProviderError("no credentials for the provider: neither a JWT signer nor a client certificate")
        self.host_uri = f"{parts.scheme}://{parts.netloc}"
        self._ws_base = f"{'wss' if https else 'ws'}://{parts.netloc}"
        self._https = https
        self._jwt_factory = jwt_factory
        self._timeout_s = timeout_s
        self._transport = transport
        self._verify = verify
        # The chain decides which certificate is trusted, unless the caller pinned one or opted out.
        self._trust = trust if https and verify is True and transport is None else None
        self._provider = provider
        self._client_certificate = client_certificate if can_mtls else None
        self._auth: AuthMode = "mtls" if jwt_factory is None else auth
        self._mode: Literal["jwt", "mtls"] = "mtls" if self._auth == "mtls" else "jwt"
        self._ping_interval_s = ping_interval_s
        self._reconnect_delay_s = reconnect_delay_s
        self._ssl: dict[bool, ssl.SSLContext | None] = {}
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def __repr__(self) -> str:
        return f"ProviderGateway({self.host_uri!r})"

    @property
    def auth_mode(self) -> Literal["jwt", "mtls"]:
        """How authenticated requests are sent now (``mtls`` after a fallback)."""
        return self._mode

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> ProviderGateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _token(self) -> str:
        if self._jwt_factory is None:
            raise ProviderError("no JWT signer for this provider")
        token = self._jwt_factory()
        if inspect.isawaitable(token):
            token = await token
        if not isinstance(token, str) or token.count(".") != 2:
            raise ProviderError("the JWT factory did not return a JWT")
        return token

    # --- TLS and clients ------------------------------------------------------------------------

    async def _ssl_for(self, with_cert: bool) -> ssl.SSLContext | None:
        """The TLS context for a connection with or without the client certificate (None for http)."""
        if not self._https:
            return None
        if with_cert not in self._ssl:
            certificate = self._client_certificate if with_cert else None
            if certificate is not None and self._trust is not None:
                await self._check_published(certificate)
            if self._trust is not None:
                context = await self._trust.ssl_context(
                    self.host_uri, provider=self._provider, client_certificate=certificate
                )
            elif isinstance(self._verify, ssl.SSLContext):
                context = self._verify  # the caller's own context (and client certificate, if any)
            else:
                context = _ssl_context(self._verify)
                if certificate is not None:
                    context.load_cert_chain(certificate.cert_path, certificate.key_path)
            self._ssl[with_cert] = context
        return self._ssl[with_cert]

    async def _check_published(self, certificate: ClientCertificate) -> None:
        """Refuse early, with the next step, when our client certificate is not valid on chain: providers
        drop such handshakes without saying why."""
        if certificate.expired():
            raise ClientCertificateRejected(
                f"our mTLS client certificate for {certificate.owner} expired on {certificate.not_after:%Y-%m-%d}",
                hint="make and publish a new one: `necto cert publish --replace` (a card to approve)",
            )
        if not await self._trust.chain.is_published(certificate):
            raise ClientCertificateRejected(
                f"the provider at {self.host_uri} needs an mTLS client certificate, and ours (serial "
                f"{certificate.serial}) is not published on chain for {certificate.owner}",
                hint="publish it with `necto cert publish` (a card to approve; only the fee is spent), then retry",
            )

    async def _client(self, with_cert: bool) -> httpx.AsyncClient:
        client = self._clients.get(with_cert)
        if client is None:
            context = await self._ssl_for(with_cert)
            client = httpx.AsyncClient(
                base_url=self.host_uri,
                timeout=httpx.Timeout(self._timeout_s, connect=min(self._timeout_s, 5.0)),
                transport=self._transport,
                verify=context if context is not None else default_ssl_context(),
                follow_redirects=False,
            )
            self._clients[with_cert] = client
        return client

    async def _recheck_certificate(self) -> None:
        """A pinned certificate failed a handshake: forget it; the next connection re-checks the chain."""
        if self._trust is None:
            raise ProviderCertificateRefused(
                f"the TLS certificate of the provider at {self.host_uri} failed verification",
                hint="the provider's certificate is not trusted; choose another provider",
            )
        self._trust.forget(self.host_uri)
        self._ssl.clear()
        await self.aclose()

    def _can_fall_back(self) -> bool:
        return self._auth == "auto" and self._mode == "jwt" and self._client_certificate is not None

    def _fall_back_to_mtls(self) -> None:
        self._mode = "mtls"

    def _refused_hint(self) -> str:
        if self._mode == "mtls":
            return "the provider did not accept our mTLS client certificate; check that it is published on chain"
        if self._client_certificate is None and self._https:
            return (
                "the JWT must be signed by the deployment owner, whose account needs an on-chain public key; "
                "providers without JWT support need an mTLS client certificate published on chain "
                "(`necto cert publish`)"
            )
        return "the JWT must be signed by the deployment owner, whose account needs an on-chain public key"

    def _transport_error(self, method: str, path: str, exc: Exception) -> ProviderError:
        alert = _tls_alert(exc)
        if alert and self._mode == "mtls":
            certificate = self._client_certificate
            return ClientCertificateRejected(
                f"the provider at {self.host_uri} rejected our mTLS client certificate ({alert})",
                hint=(
                    f"publish the certificate (serial {certificate.serial}) of {certificate.owner} on chain "
                    "with MsgCreateCertificate, or use a provider that supports JWT"
                    if certificate is not None
                    else "use a provider that supports JWT"
                ),
            )
        return ProviderError(f"{method} {self.host_uri}{path}: {exc.__class__.__name__}: {exc}"[:300])

    # --- requests -------------------------------------------------------------------------------

    async def _send_once(
        self, method: str, path: str, *, auth: bool, content: bytes | None
    ) -> httpx.Response:
        with_cert = auth and self._mode == "mtls"
        headers = {"accept": "application/json"}
        if auth and not with_cert:
            headers["authorization"] = f"Bearer {await self._token()}"
        if content is not None:
            headers["content-type"] = "application/json"
        client = await self._client(with_cert)
        try:
            return await client.request(method, path, headers=headers, content=content)
        except httpx.HTTPError as exc:
            if _certificate_verify_failed(exc):
                raise _CertificateChanged from exc
            raise self._transport_error(method, path, exc) from exc

    async def _send(self, method: str, path: str, *, auth: bool, content: bytes | None) -> httpx.Response:
        try:
            return await self._send_once(method, path, auth=auth, content=content)
        except _CertificateChanged:
            await self._recheck_certificate()  # the chain is asked again: a rotated certificate passes
        try:
            return await self._send_once(method, path, auth=auth, content=content)
        except _CertificateChanged as exc:
            raise ProviderCertificateRefused(
                f"the TLS certificate of the provider at {self.host_uri} changed during the session and "
                "no longer verifies",
                hint="Necto refused to continue; try again later or choose another provider",
            ) from exc

    async def _request(
        self, method: str, path: str, *, auth: bool, content: bytes | None = None
    ) -> httpx.Response:
        response = await self._send(method, path, auth=auth, content=content)
        if auth and response.status_code == 401 and self._can_fall_back():
            self._fall_back_to_mtls()
            response = await self._send(method, path, auth=auth, content=content)
        return response

    async def _get_json(self, path: str, *, auth: bool) -> Any:
        response = await self._request("GET", path, auth=auth)
        if response.status_code != 200:
            raise ProviderError(f"GET {self.host_uri}{path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"GET {self.host_uri}{path}: the provider answered non-JSON") from exc

    # --- HTTP -----------------------------------------------------------------------------------

    async def status(self) -> ProviderStatus:
        """Cluster inventory and counters (no auth)."""
        return _parse_provider_status(await self._get_json("/status", auth=False))

    async def version(self) -> dict[str, Any]:
        """The provider's version document (raw JSON object; shown, never trusted)."""
        body = await self._get_json("/version", auth=False)
        if not isinstance(body, dict):
            raise ProviderError("the provider's /version is not a JSON object")
        return body

    async def send_manifest(
        self, dseq: int, manifest_json: bytes, *, retries: int = 10, delay_s: float = 3.0
    ) -> None:
        """PUT the manifest; retries while the provider has not seen the lease yet (404) or is briefly down.

        Raises ``ManifestRejected`` on 422 (hash mismatch), ``ProviderError`` on 401/403, other statuses,
        or when the lease is still unknown after ``retries`` attempts.
        """
        path = f"/deployment/{int(dseq)}/manifest"
        last = ""
        for attempt in range(max(1, retries)):
            if attempt:
                await asyncio.sleep(min(delay_s * (1.5 ** (attempt - 1)), 30.0))
            try:
                response = await self._request("PUT", path, auth=True, content=bytes(manifest_json))
            except (ProviderCertificateRefused, ClientCertificateRejected):
                raise  # a trust decision, not a provider that is briefly down: retrying cannot help
            except ProviderError as exc:
                last = exc.message
                continue
            status = response.status_code
            if status in (200, 201, 202, 204):
                return
            if status == 422:
                detail = sanitize_text(response.text, 300)
                raise ManifestRejected(
                    "the provider computed a different manifest hash than the one on chain"
                    + (f" ({detail})" if detail else ""),
                    hint="the manifest sent must be byte-for-byte the one whose sha256 went into MsgCreateDeployment",
                )
            if status in (401, 403):
                raise ProviderError(
                    f"the provider refused our credentials (HTTP {status})", hint=self._refused_hint()
                )
            if status == 404 or status >= 500:
                last = f"HTTP {status}" + (" (lease not seen yet)" if status == 404 else "")
                continue
            raise ProviderError(f"PUT {path}: unexpected HTTP {status}: {sanitize_text(response.text, 200)}")
        raise ProviderError(
            f"the provider did not accept the manifest for dseq {dseq} after {max(1, retries)} tries: {last}",
            hint="the lease may not be visible to the provider yet; retry later, or close the lease to get a refund",
        )

    async def lease_status(self, dseq: int, gseq: int, oseq: int) -> LeaseStatus | None:
        """Services (URIs, replica counts) and forwarded ports; ``None`` before the manifest is deployed."""
        path = f"/lease/{int(dseq)}/{int(gseq)}/{int(oseq)}/status"
        response = await self._request("GET", path, auth=True)
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise ProviderError(
                f"the provider refused our credentials for lease status (HTTP {response.status_code})",
                hint=self._refused_hint(),
            )
        if response.status_code != 200:
            raise ProviderError(f"GET {path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(f"GET {path}: the provider answered non-JSON") from exc
        return _parse_lease_status(body)

    # --- websockets -----------------------------------------------------------------------------

    def _ws_url(self, path: str, params: dict[str, str]) -> str:
        return f"{self._ws_base}{path}?{urlencode(params)}" if params else f"{self._ws_base}{path}"

    async def _stream(
        self,
        path: str,
        params_for: Callable[[bool], dict[str, str]],
        follow: bool,
        parse: Callable[[dict], list[tuple[Hashable, Any]]],
    ) -> AsyncIterator[Any]:
        """Yield parsed frames; while following, reconnect after a drop and skip what was already yielded.

        ``params_for(reconnecting)`` gives the query; ``parse(frame)`` returns ``(dedupe_key, item)`` pairs.
        After a reconnect the server replays a short tail: items whose key is in the rolling window are
        dropped until the first new one, after which everything is yielded (so repeated lines still show).
        """
        seen: deque[Hashable] = deque(maxlen=_WINDOW)
        seen_set: dict[Hashable, int] = {}
        reconnects = 0
        reconnecting = False

        def remember(key: Hashable) -> None:
            if len(seen) == seen.maxlen:
                old = seen[0]
                seen_set[old] -= 1
                if not seen_set[old]:
                    del seen_set[old]
            seen.append(key)
            seen_set[key] = seen_set.get(key, 0) + 1

        rechecked = False
        while True:
            with_cert = self._mode == "mtls"
            headers = {} if with_cert else {"Authorization": f"Bearer {await self._token()}"}
            context = await self._ssl_for(with_cert)
            catching_up = reconnecting
            try:
                async with ws_connect(
                    self._ws_url(path, params_for(reconnecting)),
                    additional_headers=headers,
                    ssl=context,
                    open_timeout=self._timeout_s,
                    ping_interval=self._ping_interval_s,
                    ping_timeout=self._ping_interval_s,
                    close_timeout=2,
                    max_size=_MAX_FRAME_BYTES,
                    proxy=None,
                ) as ws:
                    async for frame in ws:
                        payload = _frame_json(frame)
                        if payload is None:
                            continue
                        for key, item in parse(payload):
                            if catching_up and key in seen_set:
                                continue
                            catching_up = False
                            remember(key)
                            reconnects = 0
                            yield item
                return  # the server closed normally: the tail (or the stream) is complete
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status == 401 and self._can_fall_back():
                    self._fall_back_to_mtls()
                    continue
                if status in (401, 403):
                    raise ProviderError(
                        f"the provider refused our credentials for {path} (HTTP {status})",
                        hint=self._refused_hint(),
                    ) from exc
                if status == 404:
                    raise ProviderError(
                        f"the provider does not know this lease yet ({path}: HTTP 404)"
                    ) from exc
                if status >= 500 and (not follow or reconnects >= _MAX_RECONNECTS):
                    raise ProviderError(
                        f"the provider at {self.host_uri} is unavailable right now (HTTP {status})",
                        hint="try again in a minute; if it stays down, close the deployment (the rest of the "
                        "deposit is refunded)",
                    ) from exc
                error: Exception = exc
            except ConnectionClosedOK:
                return
            except (TimeoutError, ConnectionClosed, WebSocketException, OSError) as exc:
                if _certificate_verify_failed(exc):
                    if rechecked:
                        raise ProviderCertificateRefused(
                            f"the TLS certificate of the provider at {self.host_uri} no longer verifies",
                            hint="Necto refused to continue; try again later or choose another provider",
                        ) from exc
                    rechecked = True
                    await self._recheck_certificate()
                    continue
                if with_cert and _tls_alert(exc):
                    raise self._transport_error("WS", path, exc) from exc
                error = exc
            if not follow or reconnects >= _MAX_RECONNECTS:
                raise ProviderError(
                    f"the {path.rsplit('/', 1)[-1]} stream from {self.host_uri} failed: {error.__class__.__name__}"
                ) from error
            reconnects += 1
            reconnecting = True
            await asyncio.sleep(self._reconnect_delay_s * reconnects)

    async def logs(
        self,
        dseq: int,
        gseq: int,
        oseq: int,
        *,
        tail: int = 100,
        follow: bool = False,
        services: list[str] | tuple[str, ...] | None = None,
    ) -> AsyncIterator[LogLine]:
        """Container log lines, sanitised. With ``follow``, keeps streaming and survives dropped sockets."""
        known = tuple(services or ())
        tail = max(0, min(int(tail), 10_000))

        def params_for(reconnecting: bool) -> dict[str, str]:
            params = {
                "follow": "true" if follow else "false",
                "tail": str(min(tail, _RECONNECT_TAIL) if reconnecting else tail),
            }
            if known:
                params["service"] = ",".join(known)
            return params

        def parse(frame: dict) -> list[tuple[Hashable, LogLine]]:
            pod, message = frame.get("name"), frame.get("message")
            if not isinstance(pod, str) or not isinstance(message, str):
                return []
            pod_clean = sanitize_text(pod, 253)
            service = service_from_pod(pod_clean, known)
            return [
                ((pod_clean, line), LogLine(service=service, pod=pod_clean, message=line))
                for line in (sanitize_text(raw) for raw in message.splitlines() or [""])
            ]

        path = f"/lease/{int(dseq)}/{int(gseq)}/{int(oseq)}/logs"
        async for line in self._stream(path, params_for, follow, parse):
            yield line

    async def events(
        self, dseq: int, gseq: int, oseq: int, *, follow: bool = False
    ) -> AsyncIterator[KubeEvent]:
        """Kubernetes events of the lease (pulls, crashes, scheduling), sanitised."""

        def params_for(reconnecting: bool) -> dict[str, str]:
            return {"follow": "true" if follow else "false"}

        def parse(frame: dict) -> list[tuple[Hashable, KubeEvent]]:
            obj = frame.get("object") if isinstance(frame.get("object"), dict) else {}
            if not isinstance(frame.get("reason"), str) and not isinstance(frame.get("note"), str):
                return []
            name = sanitize_text(obj.get("name"), 253)
            event = KubeEvent(
                type=sanitize_text(frame.get("type"), 32),
                reason=sanitize_text(frame.get("reason"), 128),
                note=sanitize_text(frame.get("note")),
                object_kind=sanitize_text(obj.get("kind"), 64),
                object_name=name,
                service=service_from_pod(name),
            )
            return [((event.type, event.reason, event.note, event.object_kind, name), event)]

        path = f"/lease/{int(dseq)}/{int(gseq)}/{int(oseq)}/kubeevents"
        async for event in self._stream(path, params_for, follow, parse):
            yield event
