"""ProviderGateway: manifest retries and refusals (MockTransport), logs/events over a real local websocket."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from tools.akash.gateway import ProviderGateway, sanitize_text, service_from_pod
from tools.errors import ManifestRejected, ProviderError

TOKEN = "aGVhZGVy.Y2xhaW1z.c2ln"


def _gateway(handler=None, host: str = "https://provider.test:8443", **kwargs) -> ProviderGateway:
    transport = httpx.MockTransport(handler) if handler else None
    return ProviderGateway(host, jwt_factory=lambda: TOKEN, timeout_s=2, transport=transport, **kwargs)


async def test_manifest_retries_404_until_the_lease_is_seen() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404 if len(calls) < 3 else 200)

    async with _gateway(handler) as gw:
        await gw.send_manifest(42, b'[{"name":"dcloud"}]', retries=5, delay_s=0)
    assert len(calls) == 3
    assert calls[-1].method == "PUT" and calls[-1].url.path == "/deployment/42/manifest"
    assert calls[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert calls[-1].content == b'[{"name":"dcloud"}]'


async def test_manifest_refusals() -> None:
    async with _gateway(lambda r: httpx.Response(422, text="manifest version validation failed")) as gw:
        with pytest.raises(ManifestRejected, match="different manifest hash"):
            await gw.send_manifest(1, b"[]", retries=3, delay_s=0)
    async with _gateway(lambda r: httpx.Response(401, text="unauthorized")) as gw:
        with pytest.raises(ProviderError, match="credentials") as info:
            await gw.send_manifest(1, b"[]", retries=3, delay_s=0)
        assert not isinstance(info.value, ManifestRejected)
    async with _gateway(lambda r: httpx.Response(404)) as gw:
        with pytest.raises(ProviderError, match="after 3 tries"):
            await gw.send_manifest(1, b"[]", retries=3, delay_s=0)
    async with _gateway(lambda r: httpx.Response(418, text="\x1b[31mteapot")) as gw:
        with pytest.raises(ProviderError, match="418"):
            await gw.send_manifest(1, b"[]", retries=3, delay_s=0)


async def test_lease_status_parsing() -> None:
    body = {
        "services": {
            "web": {
                "name": "web",
                "available": 1,
                "total": 1,
                "uris": ["abc.ingress.provider.test"],
                "observed_generation": 1,
                "replicas": 1,
                "updated_replicas": 1,
                "ready_replicas": 1,
                "available_replicas": 1,
            }
        },
        "forwarded_ports": {
            "web": [
                {"host": "provider.test", "port": 22, "externalPort": 31234, "proto": "TCP", "name": "web"}
            ]
        },
        "ips": {},
    }
    answers = iter([httpx.Response(404), httpx.Response(200, json=body), httpx.Response(200, text="<html>")])
    async with _gateway(lambda r: next(answers)) as gw:
        assert await gw.lease_status(42, 1, 1) is None
        status = await gw.lease_status(42, 1, 1)
        assert status.ready and status.services["web"].uris == ["abc.ingress.provider.test"]
        assert status.forwarded_ports["web"][0].external_port == 31234
        with pytest.raises(ProviderError, match="non-JSON"):
            await gw.lease_status(42, 1, 1)


async def test_status_and_garbage() -> None:
    status = {
        "cluster": {
            "leases": {"active": 3},
            "inventory": {
                "available": {
                    "nodes": [
                        {
                            "name": "node-1",
                            "allocatable": {"cpu": 64000, "gpu": 8, "memory": 1 << 38},
                            "available": {"cpu": 32000, "gpu": 2, "memory": 1 << 37},
                        }
                    ]
                }
            },
        },
        "bidengine": {"orders": 0},
        "manifest": {"deployments": 3},
        "cluster_public_hostname": "provider.test",
        "address": "akash1" + "p" * 38,
    }
    answers = iter([httpx.Response(200, json=status), httpx.Response(200, json=["x"]), httpx.Response(500)])
    async with _gateway(lambda r: next(answers)) as gw:
        parsed = await gw.status()
        assert parsed.active_leases == 3 and parsed.nodes[0].available["gpu"] == 2
        with pytest.raises(ProviderError):
            await gw.status()
        with pytest.raises(ProviderError, match="500"):
            await gw.status()


def test_plain_http_needs_an_explicit_opt_in() -> None:
    with pytest.raises(ProviderError, match="plain http"):
        _gateway(host="http://10.0.0.5:8443")
    with pytest.raises(ProviderError):
        _gateway(host="ftp://x")
    _gateway(host="http://127.0.0.1:9", allow_http=True)


def test_sanitize_and_service_names() -> None:
    assert sanitize_text("\x1b[31mred\x1b[0m \x1b]0;title\x07ok\r") == "red ok"
    assert sanitize_text("a\u202eb\u200bc\x00d\te") == "abcd e"
    assert len(sanitize_text("x" * 5000)) == 2000
    assert service_from_pod("web-7d9f8c6b5-x2x7k") == "web"
    assert service_from_pod("my-db-0") == "my-db"
    assert service_from_pod("api-ab12c") == "api"
    assert service_from_pod("my-api-ab12c", ("my-api",)) == "my-api"
    assert service_from_pod("EVIL<script>-ab12c") == "evilscript"


# --- websockets ---------------------------------------------------------------------------------------


class FakeProviderWs:
    """A local websocket server speaking the provider's logs/kubeevents protocol, scripted per connection."""

    def __init__(self, scripts) -> None:
        self.scripts = list(scripts)  # one coroutine function (ws, query) per connection
        self.requests: list[tuple[str, dict, str | None]] = []

    async def handler(self, ws) -> None:
        parts = urlsplit(ws.request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query, ws.request.headers.get("Authorization")))
        script = self.scripts.pop(0)
        await script(ws, query)

    async def __aenter__(self) -> str:
        self._server = await serve(self.handler, "127.0.0.1", 0, process_request=self._auth)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        self._server.close()
        await self._server.wait_closed()

    @staticmethod
    def _auth(connection, request):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Response(401, "Unauthorized", Headers(), b"unauthorized")
        return None


def _frame(pod: str, message: str) -> str:
    return json.dumps({"name": pod, "message": message})


def _ws_gateway(base: str, token: str = TOKEN) -> ProviderGateway:
    return ProviderGateway(
        base,
        jwt_factory=lambda: token,
        timeout_s=2,
        allow_http=True,
        ping_interval_s=5,
        reconnect_delay_s=0.01,
    )


async def test_logs_tail_without_follow_sanitised_and_garbage_skipped() -> None:
    async def script(ws, query):
        await ws.send(_frame("web-7d9f8c6b5-x2x7k", "\x1b[32mstarted\x1b[0m"))
        await ws.send("not json at all")
        await ws.send(json.dumps({"name": "web-7d9f8c6b5-x2x7k"}))  # no message
        await ws.send(json.dumps([1, 2]))
        await ws.send(_frame("db-0", "ready\nlistening on 5432"))
        await ws.send(_frame("web-7d9f8c6b5-x2x7k", "y" * 3000))

    fake = FakeProviderWs([script])
    async with fake as base:
        gw = _ws_gateway(base)
        lines = [line async for line in gw.logs(42, 1, 1, tail=10, services=["web", "db"])]
        await gw.aclose()
    assert [(x.service, x.message) for x in lines[:3]] == [
        ("web", "started"), ("db", "ready"), ("db", "listening on 5432"),
    ]  # fmt: skip
    assert len(lines[3].message) == 2000 and lines[3].message.endswith("…")
    path, query, auth = fake.requests[0]
    assert path == "/lease/42/1/1/logs"
    assert query == {"follow": "false", "tail": "10", "service": "web,db"}
    assert auth == f"Bearer {TOKEN}"


async def test_follow_reconnects_after_a_drop_without_duplicates() -> None:
    async def first(ws, query):
        for i in range(1, 6):
            await ws.send(_frame("web-abc12", f"line {i}"))
        await asyncio.sleep(0.05)
        ws.transport.abort()  # the connection drops mid-stream (no close frame)

    async def second(ws, query):
        # the provider replays the tail, which overlaps with what the client already has
        for i in range(3, 8):
            await ws.send(_frame("web-abc12", f"line {i}"))
        await ws.send(_frame("web-abc12", "line 3"))  # a genuinely repeated line after new ones is kept
        await ws.close()

    fake = FakeProviderWs([first, second])
    async with fake as base:
        gw = _ws_gateway(base)
        lines = [line.message async for line in gw.logs(42, 1, 1, tail=200, follow=True)]
        await gw.aclose()
    assert lines == [f"line {i}" for i in range(1, 8)] + ["line 3"]
    assert [r[1]["tail"] for r in fake.requests] == ["200", "50"]
    assert all(r[1]["follow"] == "true" for r in fake.requests)


async def test_logs_without_follow_do_not_reconnect_and_auth_errors_are_clear() -> None:
    async def drop(ws, query):
        await ws.send(_frame("web-abc12", "one"))
        await asyncio.sleep(0.05)
        ws.transport.abort()

    fake = FakeProviderWs([drop])
    async with fake as base:
        gw = _ws_gateway(base)
        got = []
        with pytest.raises(ProviderError, match="logs stream"):
            async for line in gw.logs(1, 1, 1):
                got.append(line.message)
        assert got == ["one"]
        bad = _ws_gateway(base, token="x.y.z")
        with pytest.raises(ProviderError, match="credentials"):
            async for _ in bad.logs(1, 1, 1):
                pass
        await gw.aclose()
        await bad.aclose()


async def test_events() -> None:
    async def script(ws, query):
        await ws.send(
            json.dumps(
                {"type": "Normal", "reason": "Pulled", "note": "image \x1b[1mnginx\x1b[0m pulled",
                 "object": {"kind": "Pod", "name": "web-7d9f8c6b5-x2x7k"}}
            )
        )  # fmt: skip
        await ws.send(json.dumps({"unexpected": True}))
        await ws.send(
            json.dumps(
                {
                    "type": "Warning",
                    "reason": "BackOff",
                    "note": "restarting",
                    "object": {"kind": "Pod", "name": "db-0"},
                }
            )
        )

    fake = FakeProviderWs([script])
    async with fake as base:
        gw = _ws_gateway(base)
        events = [e async for e in gw.events(42, 1, 1)]
        await gw.aclose()
    assert [(e.reason, e.note, e.service) for e in events] == [
        ("Pulled", "image nginx pulled", "web"),
        ("BackOff", "restarting", "db"),
    ]
    assert fake.requests[0][0] == "/lease/42/1/1/kubeevents"
