"""mTLS and provider TLS pinning end to end: a devnet with an mTLS-only provider and a JWT provider over
TLS (self-signed server certificates published on chain), Necto's ProviderGateway and ProviderTrust."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time

import httpx
import pytest
import uvicorn
from devnet_testkit import (
    BID_WINDOW_BLOCKS,
    BLOCK_TIME_S,
    URL_CREATE_DEPLOYMENT,
    URL_CREATE_LEASE,
    ChainClient,
    Wallet,
    bids_for,
    create_deployment_msg,
    create_lease_msg,
    manifest_for,
    manifest_hash,
    resource_unit,
)
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from devnet.certs import ServerTLS, generate_certificate
from devnet.chain import ProviderRecord
from devnet.server import start_devnet
from tools.akash.cert import (
    CertificateStore,
    ChainCertificates,
    ProviderCertificateRefused,
    ProviderTrust,
)
from tools.akash.gateway import ClientCertificateRejected, ProviderGateway
from tools.akash.protogen.akash.cert.v1 import msg_pb2 as cert_pb2
from tools.errors import ProviderError

URL_CREATE_CERTIFICATE = "/akash.cert.v1.MsgCreateCertificate"


@pytest.fixture(scope="module")
def tls_devnet():
    with start_devnet(
        block_time_s=BLOCK_TIME_S,
        bid_window_blocks=BID_WINDOW_BLOCKS,
        seed=7,
        providers=8,
        mtls_providers=1,
        tls_providers=1,
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def rest(tls_devnet):
    with httpx.Client(base_url=tls_devnet.rest_url, timeout=10.0) as http:
        yield http


@pytest.fixture(scope="module")
def chain(rest, tls_devnet) -> ChainClient:
    return ChainClient(rest, tls_devnet.chain_id)


@pytest.fixture(scope="module")
def mtls_provider(tls_devnet):
    return next(p for p in tls_devnet.providers if p.auth_mode == "mtls")


@pytest.fixture(scope="module")
def jwt_tls_provider(tls_devnet):
    return next(p for p in tls_devnet.providers if p.tls is not None and p.auth_mode == "jwt")


@pytest.fixture(scope="module")
def owner(chain):
    wallet = Wallet.from_name("mtls-owner")
    chain.faucet(wallet)
    return wallet


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return CertificateStore(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def published(chain, owner, store):
    certificate = store.create(owner.address)
    msg = cert_pb2.MsgCreateCertificate(
        owner=owner.address, cert=certificate.cert_pem, pubkey=certificate.pubkey_pem
    )
    result = chain.send(owner, [(URL_CREATE_CERTIFICATE, msg)])
    assert result["code"] == 0, result["raw_log"]
    return certificate


def _trust(devnet) -> ProviderTrust:
    return ProviderTrust(ChainCertificates(devnet.rest_url))


def _deploy_with(chain, rest, devnet, wallet, provider, dseq):
    """A deployment leased to ``provider``; returns the manifest JSON bytes."""
    manifest = manifest_for()
    msg = create_deployment_msg(wallet.address, dseq, [resource_unit()], version=manifest_hash(manifest))
    assert chain.send(wallet, [(URL_CREATE_DEPLOYMENT, msg)])["code"] == 0
    deadline = time.monotonic() + 20
    while True:
        bid = next(
            (b for b in bids_for(rest, wallet.address, dseq) if b["id"]["provider"] == provider.owner), None
        )
        if bid is not None:
            break
        assert time.monotonic() < deadline, "the TLS provider did not bid"
        time.sleep(BLOCK_TIME_S)
    assert chain.send(wallet, [(URL_CREATE_LEASE, create_lease_msg(bid["id"]))])["code"] == 0
    return json.dumps(manifest).encode()


# --- the chain's cert module ------------------------------------------------------------------------------


def test_certificate_published_and_queryable(rest, published, mtls_provider):
    rows = rest.get(
        "/akash/cert/v1/certificates/list",
        params={"filter.owner": published.owner, "filter.serial": published.serial, "filter.state": "valid"},
    ).json()["certificates"]
    assert len(rows) == 1 and rows[0]["serial"] == str(published.serial)
    assert rows[0]["certificate"]["state"] == "valid"
    # the providers' server certificates are on chain too
    provider_rows = rest.get(
        "/akash/cert/v1/certificates/list", params={"filter.owner": mtls_provider.owner}
    ).json()["certificates"]
    assert [r["serial"] for r in provider_rows] == [str(mtls_provider.tls.serial)]
    assert rest.get("/akash/cert/v1/certificates/list", params={"filter.state": "bogus"}).status_code == 400


def test_chain_refuses_bad_certificates(chain, owner, published):
    def deliver(cert: bytes, pubkey: bytes, who: str | None = None) -> dict:
        msg = cert_pb2.MsgCreateCertificate(owner=who or owner.address, cert=cert, pubkey=pubkey)
        return chain.send(owner, [(URL_CREATE_CERTIFICATE, msg)])

    again = deliver(published.cert_pem, published.pubkey_pem)
    assert (again["code"], again["codespace"]) == (3, "cert") and "exists" in again["raw_log"]
    someone_else = Wallet.from_name("not-the-owner").address
    cert, pubkey, _ = generate_certificate(someone_else)
    wrong_cn = deliver(cert, pubkey)
    assert (wrong_cn["code"], wrong_cn["codespace"]) == (6, "cert") and "CommonName" in wrong_cn["raw_log"]
    cert, _, _ = generate_certificate(owner.address)
    _, other_pubkey, _ = generate_certificate(owner.address)
    forged = deliver(cert, other_pubkey)
    assert forged["code"] == 6 and "signature" in forged["raw_log"]
    bad_type = deliver(cert, other_pubkey.replace(b"EC PUBLIC KEY", b"PUBLIC KEY"))
    assert bad_type["code"] == 7 and "pem block type" in bad_type["raw_log"]


# --- provider TLS pinning ---------------------------------------------------------------------------------


async def test_pinned_provider_over_tls(tls_devnet, jwt_tls_provider, mtls_provider, owner, published):
    trust = _trust(tls_devnet)
    async with ProviderGateway(
        jwt_tls_provider.host_uri, jwt_factory=owner.jwt, trust=trust, provider=jwt_tls_provider.owner
    ) as gw:
        status = await gw.status()
    assert status.address == jwt_tls_provider.owner
    assert trust.pinned_owner(jwt_tls_provider.host_uri) == jwt_tls_provider.owner
    # the host_uri is bound to the provider that registered it
    with pytest.raises(ProviderCertificateRefused, match="not of"):
        await trust.ssl_context(mtls_provider.host_uri, provider=jwt_tls_provider.owner)
    # without the check, the default CA verification refuses a self-signed provider
    async with ProviderGateway(jwt_tls_provider.host_uri, jwt_factory=owner.jwt) as plain:
        with pytest.raises(ProviderCertificateRefused, match="failed verification"):
            await plain.status()


async def _serve(app, context: ssl.SSLContext) -> tuple[uvicorn.Server, asyncio.Task, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ssl_context_factory=lambda _c, _d: context
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, task, port


async def test_impostor_certificates_are_refused(tls_devnet, jwt_tls_provider, owner):
    trust = _trust(tls_devnet)
    unpublished = ServerTLS(jwt_tls_provider.owner, ("127.0.0.1",))  # right CN, never published
    app = Starlette(routes=[Route("/status", lambda r: JSONResponse({"address": "x"}))])
    server, task, port = await _serve(app, unpublished.server_context())
    try:
        with pytest.raises(ProviderCertificateRefused, match="not a valid certificate") as caught:
            async with ProviderGateway(f"https://127.0.0.1:{port}", jwt_factory=owner.jwt, trust=trust) as gw:
                await gw.status()
        assert "man in the middle" in caught.value.message and caught.value.hint
    finally:
        server.should_exit = True
        await task
        unpublished.close()
    # the real certificate, replayed from another host: published, but not this host's provider
    real = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    real.load_cert_chain(jwt_tls_provider.tls.cert_path, jwt_tls_provider.tls.key_path)
    server, task, port = await _serve(app, real)
    try:
        with pytest.raises(ProviderCertificateRefused, match="on-chain host_uri"):
            await trust.ssl_context(f"https://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


async def test_a_changed_certificate_is_refused_until_it_is_published(tls_devnet, owner):
    """Pinned A; the server switches to B: refused; B published on chain (a rotation): accepted."""
    provider_owner = Wallet.from_name("rotating-provider").address
    first = ServerTLS(provider_owner, ("127.0.0.1",))
    second = ServerTLS(provider_owner, ("127.0.0.1",))
    current = {"tls": first}
    contexts = {id(first): first.server_context(), id(second): second.server_context()}
    listening = first.server_context()

    def choose(ssl_object, _name, _ctx):
        ssl_object.context = contexts[id(current["tls"])]

    listening.sni_callback = choose
    app = Starlette(routes=[Route("/status", lambda r: JSONResponse({"address": provider_owner}))])
    server, task, port = await _serve(app, listening)
    host_uri = f"https://127.0.0.1:{port}"
    chain = tls_devnet.chain
    chain.register_provider(ProviderRecord(provider_owner, host_uri, [], "", "", [], []))
    chain.publish_certificate(provider_owner, first.cert_pem, first.pubkey_pem)
    try:
        async with ProviderGateway(host_uri, jwt_factory=owner.jwt, trust=_trust(tls_devnet)) as gw:
            assert (await gw.status()).address == provider_owner
            current["tls"] = second
            await gw.aclose()  # drop the pooled connection; the next one handshakes again
            with pytest.raises(ProviderCertificateRefused, match="not a valid certificate"):
                await gw.status()
            chain.publish_certificate(provider_owner, second.cert_pem, second.pubkey_pem)
            assert (await gw.status()).address == provider_owner
    finally:
        server.should_exit = True
        await task
        first.close()
        second.close()


# --- mTLS to a provider without JWT support ------------------------------------------------------------------


async def test_deploy_to_mtls_provider_falls_back_from_jwt(
    tls_devnet, chain, rest, owner, published, mtls_provider
):
    manifest = _deploy_with(chain, rest, tls_devnet, owner, mtls_provider, dseq=501)
    async with ProviderGateway(
        mtls_provider.host_uri,
        jwt_factory=owner.jwt,
        trust=_trust(tls_devnet),
        provider=mtls_provider.owner,
        client_certificate=published,
        reconnect_delay_s=0.01,
    ) as gw:
        await gw.send_manifest(501, manifest, retries=10, delay_s=0.1)
        assert gw.auth_mode == "mtls"
        deadline = time.monotonic() + 10
        while not ((status := await gw.lease_status(501, 1, 1)) and status.ready):
            assert time.monotonic() < deadline, "lease never became ready"
            await asyncio.sleep(0.1)
        assert status.services["web"].uris
        lines = [line async for line in gw.logs(501, 1, 1, tail=3)]
        assert len(lines) == 3 and all(line.service == "web" for line in lines)
        events = [event async for event in gw.events(501, 1, 1)]
        assert [e.reason for e in events][:2] == ["Scheduled", "Pulling"]
    assert mtls_provider.manifests[(owner.address, 501)]["owner"] == owner.address

    # JWT alone is refused by this provider, with a hint at the certificate
    async with ProviderGateway(
        mtls_provider.host_uri, jwt_factory=owner.jwt, trust=_trust(tls_devnet)
    ) as jwt_only:
        with pytest.raises(ProviderError, match="refused our credentials") as caught:
            await jwt_only.lease_status(501, 1, 1)
        assert "mTLS client certificate" in caught.value.hint

    # a client certificate and a JWT together are ambiguous (upstream's rule)
    context = await _trust(tls_devnet).ssl_context(mtls_provider.host_uri, client_certificate=published)
    async with httpx.AsyncClient(verify=context) as http:
        both = await http.get(
            f"{mtls_provider.host_uri}/lease/501/1/1/status",
            headers={"authorization": f"Bearer {owner.jwt()}"},
        )
        assert both.status_code == 401 and "ambiguous" in both.text
        alone = await http.get(f"{mtls_provider.host_uri}/lease/501/1/1/status")
        assert alone.status_code == 200


async def test_unpublished_client_certificate_is_rejected(tls_devnet, mtls_provider, tmp_path):
    stranger = Wallet.from_name("mtls-stranger")
    certificate = CertificateStore(tmp_path).create(stranger.address)  # never published
    async with ProviderGateway(
        mtls_provider.host_uri,
        trust=_trust(tls_devnet),
        client_certificate=certificate,
        auth="mtls",
    ) as gw:
        with pytest.raises(ClientCertificateRejected, match="not published on chain") as caught:
            await gw.send_manifest(777, b"[]", retries=5, delay_s=0.01)
        assert str(certificate.serial) in caught.value.message and "necto cert publish" in caught.value.hint
    # and the provider itself refuses the handshake of an unpublished certificate
    context = await _trust(tls_devnet).ssl_context(mtls_provider.host_uri, client_certificate=certificate)
    async with httpx.AsyncClient(verify=context) as http:
        with pytest.raises(httpx.TransportError):
            await http.put(f"{mtls_provider.host_uri}/deployment/777/manifest", content=b"[]")
