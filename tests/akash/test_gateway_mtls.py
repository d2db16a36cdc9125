"""ProviderGateway authentication choice: JWT first, mTLS fallback on 401, never both (MockTransport).

End-to-end mTLS and certificate pinning against real TLS providers: tests/devnet/test_mtls.py.
"""

from __future__ import annotations

import httpx
import pytest

from tools.akash.cert import CertificateStore
from tools.akash.gateway import ProviderGateway
from tools.errors import ProviderError

TOKEN = "aGVhZGVy.Y2xhaW1z.c2ln"
OWNER = "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63"


@pytest.fixture
def certificate(tmp_path):
    return CertificateStore(tmp_path).create(OWNER)


def _old_provider(calls: list[httpx.Request]):
    """A provider without JWT support: 401 for a bearer token, 200 without one (the client cert is TLS)."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if "authorization" in request.headers:
            return httpx.Response(401, text="unauthorized")
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"services": {}, "forwarded_ports": {}})
        return httpx.Response(200)

    return httpx.MockTransport(handler)


async def test_falls_back_to_mtls_after_a_401_and_stays_there(certificate):
    calls: list[httpx.Request] = []
    async with ProviderGateway(
        "https://old.provider:8443",
        jwt_factory=lambda: TOKEN,
        transport=_old_provider(calls),
        client_certificate=certificate,
    ) as gw:
        assert gw.auth_mode == "jwt"
        await gw.send_manifest(7, b"[]", retries=1)
        assert gw.auth_mode == "mtls"
        assert await gw.lease_status(7, 1, 1) is not None
    assert [("authorization" in c.headers) for c in calls] == [True, False, False]


async def test_no_fallback_without_certificate_or_when_jwt_is_forced(certificate):
    calls: list[httpx.Request] = []
    async with ProviderGateway(
        "https://old.provider:8443", jwt_factory=lambda: TOKEN, transport=_old_provider(calls)
    ) as gw:
        with pytest.raises(ProviderError, match="refused our credentials") as caught:
            await gw.send_manifest(7, b"[]", retries=1)
    assert "mTLS client certificate" in caught.value.hint
    calls.clear()
    async with ProviderGateway(
        "https://old.provider:8443",
        jwt_factory=lambda: TOKEN,
        transport=_old_provider(calls),
        client_certificate=certificate,
        auth="jwt",
    ) as gw:
        with pytest.raises(ProviderError, match="refused our credentials"):
            await gw.send_manifest(7, b"[]", retries=1)
    assert len(calls) == 1
    # mTLS is a TLS feature: over the devnet's plain http there is nothing to fall back to
    calls.clear()
    async with ProviderGateway(
        "http://127.0.0.1:9",
        jwt_factory=lambda: TOKEN,
        transport=_old_provider(calls),
        client_certificate=certificate,
        allow_http=True,
    ) as gw:
        with pytest.raises(ProviderError):
            await gw.send_manifest(7, b"[]", retries=1)
    assert len(calls) == 1


async def test_mtls_only_sends_no_bearer_and_needs_a_certificate(certificate):
    calls: list[httpx.Request] = []
    async with ProviderGateway(
        "https://old.provider:8443", transport=_old_provider(calls), client_certificate=certificate
    ) as gw:
        assert gw.auth_mode == "mtls"  # no JWT signer: the certificate is the only credential
        await gw.send_manifest(7, b"[]", retries=1)
    assert "authorization" not in calls[0].headers
    with pytest.raises(ProviderError, match="mTLS"):
        ProviderGateway("https://p:8443", jwt_factory=lambda: TOKEN, auth="mtls")
    with pytest.raises(ProviderError, match="no credentials"):
        ProviderGateway("https://p:8443")
    with pytest.raises(ProviderError, match="unknown provider auth"):
        ProviderGateway("https://p:8443", jwt_factory=lambda: TOKEN, auth="basic")  # type: ignore[arg-type]


async def test_a_401_on_mtls_is_not_retried_forever(certificate):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401)

    async with ProviderGateway(
        "https://p:8443",
        jwt_factory=lambda: TOKEN,
        transport=httpx.MockTransport(handler),
        client_certificate=certificate,
    ) as gw:
        with pytest.raises(ProviderError, match="refused our credentials") as caught:
            await gw.send_manifest(7, b"[]", retries=5, delay_s=0)
    assert len(calls) == 2  # JWT, then mTLS once; a refusal is final
    assert "published on chain" in caught.value.hint
