"""Start and stop a devnet: chain REST app, every provider gateway and the block producer.

All uvicorn servers share ONE asyncio event loop. :func:`start_devnet` runs that loop in a background
thread and returns a :class:`DevnetHandle` once every port is listening; :func:`serve_devnet_forever`
runs it in the caller's loop until SIGINT/SIGTERM (``necto devnet`` / ``python -m devnet.server``).

Sockets are bound before the servers start, so every provider's on-chain ``host_uri`` is known up front.
A provider whose strategy is "always offline" gets a bound but non-listening socket: connections to its
gateway are refused, like a provider whose machine is down.

Providers serve plain loopback HTTP with JWT auth by default. ``mtls_providers=N`` turns the first N
reliable providers into mTLS-only providers (TLS with a self-signed server certificate published on
chain; client certificates checked against the chain) and ``tls_providers=M`` gives the next M providers
TLS with JWT auth; their ``host_uri`` is ``https://127.0.0.1:PORT``. Both default to 0, so the default
devnet is unchanged. The client certificate of each TLS connection reaches the provider app through the
ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``), which uvicorn does not fill.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from devnet.certs import ServerTLS
from devnet.chain import Chain
from devnet.providers import ProviderFleet, ProviderSim, build_fleet, build_gateway_app
from devnet.rest import build_rest_app

__all__ = ["DevnetHandle", "main", "serve_devnet_forever", "start_devnet"]

START_TIMEOUT_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: with protocol 0 asyncio does not set TCP_NODELAY on accepted connections, and
    # uvicorn's split header/body writes then wait ~40 ms on Nagle for every response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def _url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


class _PeerCertificates:
    """Client certificates of live TLS connections by remote address, handed to the app as the ASGI TLS
    extension (a websocket upgrade keeps its connection, hence its address)."""

    MAX_ENTRIES = 4096

    def __init__(self) -> None:
        self.by_peer: dict[tuple, bytes | None] = {}

    def protocol_class(self) -> type:
        registry = self.by_peer
        limit = self.MAX_ENTRIES

        class PeerCertificateProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
            def connection_made(self, transport: Any) -> None:  # type: ignore[override]
                super().connection_made(transport)
                ssl_object = transport.get_extra_info("ssl_object")
                if len(registry) >= limit:
                    registry.pop(next(iter(registry)))
                key = tuple(self.client or ())
                registry.pop(key, None)
                registry[key] = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None

            def connection_lost(self, exc: Exception | None) -> None:
                registry.pop(tuple(self.client or ()), None)
                super().connection_lost(exc)

        return PeerCertificateProtocol

    def middleware(self, app: Any) -> Any:
        registry = self.by_peer

        async def with_tls_extension(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] in ("http", "websocket"):
                der = registry.get(tuple(scope.get("client") or ()))
                extensions = dict(scope.get("extensions") or {})
                extensions["tls"] = {"client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else []}
                scope = {**scope, "extensions": extensions}
            await app(scope, receive, send)

        return with_tls_extension


def _tls_candidates(providers: list[ProviderSim]) -> list[ProviderSim]:
    """Providers that may serve TLS in tests: online, not flaky, bidding on CPU orders soon."""
    return [
        p
        for p in providers
        if not (p.strategy.always_offline or p.strategy.flaky or p.strategy.gpu_only or p.strategy.slow)
        and not p.strategy.refuses
    ]


@dataclass
class _Devnet:
    """Everything a running devnet owns (built synchronously, served by :meth:`run`)."""

    chain: Chain
    fleet: ProviderFleet
    rest_socket: socket.socket
    provider_sockets: list[socket.socket]
    rest_url: str
    servers: list[uvicorn.Server] = field(default_factory=list)
    stop_event: asyncio.Event | None = None

    @classmethod
    def build(
        cls,
        *,
        host: str,
        port: int,
        block_time_s: float,
        providers: int,
        seed: int,
        chain_id: str,
        bid_window_blocks: int | None,
        mtls_providers: int = 0,
        tls_providers: int = 0,
        **chain_options: Any,
    ) -> _Devnet:
        chain = Chain(
            chain_id=chain_id,
            seed=seed,
            block_time_s=block_time_s,
            bid_window_blocks=bid_window_blocks,
            **chain_options,
        )
        fleet = ProviderFleet(chain, build_fleet(seed, providers))
        candidates = _tls_candidates(fleet.providers)
        if mtls_providers + tls_providers > len(candidates):
            raise ValueError(f"at most {len(candidates)} providers can serve TLS with {providers} providers")
        for index, provider in enumerate(candidates[: mtls_providers + tls_providers]):
            mtls = index < mtls_providers
            provider.auth_mode = "mtls" if mtls else "jwt"
            provider.tls = ServerTLS(
                provider.owner,
                (host, "localhost", provider.hostname),
                chain.valid_certificates if mtls else None,
            )
        sockets: list[socket.socket] = []
        rest_socket = _bind(host, port)
        try:
            for provider in fleet.providers:
                sock = _bind(host, 0)
                sockets.append(sock)
                provider.port = sock.getsockname()[1]
                provider.host_uri = _url(host, provider.port, "https" if provider.tls else "http")
        except OSError:
            for sock in [rest_socket, *sockets]:
                sock.close()
            raise
        fleet.register()
        return cls(chain, fleet, rest_socket, sockets, _url(host, rest_socket.getsockname()[1]))

    def _server(self, app: Any, tls: ServerTLS | None = None) -> uvicorn.Server:
        options: dict[str, Any] = {}
        if tls is not None:
            peers = _PeerCertificates()
            context = tls.server_context()
            app = peers.middleware(app)
            options = {"ssl_context_factory": lambda _config, _default: context, "http": peers.protocol_class()}
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            **options,
        )
        return uvicorn.Server(config)

    async def run(self, on_ready: Any = None) -> None:
        """Serve until :meth:`request_stop`; calls ``on_ready()`` once every server is listening."""
        self.stop_event = asyncio.Event()
        tasks: list[asyncio.Task] = []
        rest = self._server(build_rest_app(self.chain, self.fleet))
        self.servers.append(rest)
        tasks.append(asyncio.create_task(rest.serve(sockets=[self.rest_socket])))
        for provider, sock in zip(self.fleet.providers, self.provider_sockets, strict=True):
            provider.stopping = asyncio.Event()
            if provider.strategy.always_offline:
                continue  # bound, never listening: connection refused
            server = self._server(build_gateway_app(provider, self.chain), provider.tls)
            self.servers.append(server)
            tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        producer = asyncio.create_task(self._produce_blocks())
        try:
            while not all(s.started for s in self.servers):
                failed = [t for t in tasks if t.done()]
                if failed:
                    failed[0].result()
                    raise RuntimeError("a devnet server exited during start-up")
                await asyncio.sleep(0.005)
            if on_ready is not None:
                on_ready()
            await self.stop_event.wait()
        finally:
            producer.cancel()
            for provider in self.fleet.providers:
                if provider.stopping is not None:
                    provider.stopping.set()
            for server in self.servers:
                server.should_exit = True
            await asyncio.wait([*tasks, producer], timeout=3.0)
            for task in tasks:
                if not task.done():
                    task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*tasks, producer, return_exceptions=True)
            for sock in [self.rest_socket, *self.provider_sockets]:
                sock.close()
            for provider in self.fleet.providers:
                if provider.tls is not None:
                    provider.tls.close()

    async def _produce_blocks(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.chain.block_time_s
        next_at = loop.time()
        while True:
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.chain.produce_block()
            if loop.time() - next_at > 5 * interval:
                next_at = loop.time()  # fell far behind (debugger, suspended laptop): don't burst

    def request_stop(self) -> None:
        if self.stop_event is not None:
            self.stop_event.set()


class DevnetHandle:
    """A running devnet. ``stop()`` is idempotent; usable as a context manager.

    Attributes: ``rest_url`` (chain REST), ``console_url`` (Console-compatible routes, same base),
    ``lambda_url`` (``rest_url + "/lambda"``), ``chain`` (:class:`devnet.chain.Chain`), ``providers``
    (list of :class:`devnet.providers.ProviderSim`, each with ``owner``, ``host_uri``, ``strategy``...),
    ``fleet``.
    """

    def __init__(self, devnet: _Devnet, thread: threading.Thread, loop: asyncio.AbstractEventLoop) -> None:
        self._devnet = devnet
        self._thread = thread
        self._loop = loop
        self._stopped = False
        self.rest_url = devnet.rest_url
        self.console_url = devnet.rest_url
        self.lambda_url = devnet.rest_url + "/lambda"
        self.chain: Chain = devnet.chain
        self.fleet: ProviderFleet = devnet.fleet
        self.providers: list[ProviderSim] = devnet.fleet.providers

    @property
    def chain_id(self) -> str:
        return self.chain.chain_id

    def provider(self, owner: str) -> ProviderSim:
        return self.fleet.by_owner[owner]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._devnet.request_stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> DevnetHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # pragma: no cover - safety net for a forgotten stop()
        with contextlib.suppress(Exception):
            self.stop()


def start_devnet(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    block_time_s: float = 1.0,
    providers: int = 24,
    seed: int = 7,
    chain_id: str = "necto-sandbox-1",
    bid_window_blocks: int | None = None,
    **chain_options: Any,
) -> DevnetHandle:
    """Start a devnet in a background thread; returns once every port is listening.

    ``chain_options`` go to :class:`devnet.chain.Chain` (``akt_price_usd``, ``mints_allowed``,
    ``faucet_uakt``, ``faucet_uact``), except ``mtls_providers`` / ``tls_providers`` (module docstring).
    """
    devnet = _Devnet.build(
        host=host,
        port=port,
        block_time_s=block_time_s,
        providers=providers,
        seed=seed,
        chain_id=chain_id,
        bid_window_blocks=bid_window_blocks,
        **chain_options,
    )
    ready = threading.Event()
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(devnet.run(on_ready=ready.set))
        except BaseException as exc:  # reported to the starting thread
            failure.append(exc)
            ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"necto-devnet-{devnet.rest_url}", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT_S) or failure:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(devnet.request_stop)
        thread.join(timeout=5)
        if failure:
            raise RuntimeError(f"devnet failed to start: {failure[0]!r}") from failure[0]
        raise RuntimeError("devnet did not start within 10 s")
    return DevnetHandle(devnet, thread, loop)


async def serve_devnet_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    block_time_s: float = 1.0,
    providers: int = 24,
    seed: int = 7,
    chain_id: str = "necto-sandbox-1",
    bid_window_blocks: int | None = None,
    **chain_options: Any,
) -> None:
    """Run a devnet in this event loop; print one JSON line with its URLs; stop on SIGINT/SIGTERM."""
    devnet = _Devnet.build(
        host=host,
        port=port,
        block_time_s=block_time_s,
        providers=providers,
        seed=seed,
        chain_id=chain_id,
        bid_window_blocks=bid_window_blocks,
        **chain_options,
    )
    loop = asyncio.get_running_loop()

    def announce() -> None:
        print(
            json.dumps(
                {
                    "rest_url": devnet.rest_url,
                    "console_url": devnet.rest_url,
                    "lambda_url": devnet.rest_url + "/lambda",
                    "chain_id": chain_id,
                    "providers": len(devnet.fleet.providers),
                }
            ),
            flush=True,
        )

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, devnet.request_stop)
    try:
        await devnet.run(on_ready=announce)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="necto-devnet", description="Run Necto's local Akash devnet.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--block-time", type=float, default=1.0, dest="block_time_s")
    parser.add_argument("--providers", type=int, default=24)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chain-id", default="necto-sandbox-1")
    parser.add_argument("--bid-window-blocks", type=int, default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_devnet_forever(**vars(args)))


if __name__ == "__main__":
    main()
