"""Price sources: each turns one provider's API or catalog into Offers for a ComputeRequest.

A source is any object with a ``name`` and ``async def fetch(request) -> list[Offer]`` (``PriceSource``).
Network sources take an injectable base URL, an optional ``httpx.AsyncClient`` (or a transport, for tests)
and a timeout. Anything that goes wrong (timeout, HTTP error, a body that is not the documented shape)
raises ``SourceError(source, reason)``; ``gather_quote`` turns that into a skipped source.

    NectoError
    └── PricingError (tools.pricing.normalize)
        └── SourceError       a source timed out, failed or answered garbage
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import httpx

from tools.pricing.normalize import PricingError
from tools.pricing.offer import Offer
from tools.request import ComputeRequest
from tools.tls import default_ssl_context

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_RETRIES = 1  # one more try on a transport error or a 502/503/504
RETRY_BACKOFF_S = 0.2
_RETRY_STATUS = {502, 503, 504}

Clock = Callable[[], datetime]


class SourceError(PricingError):
    """A price source failed; ``reason`` is one readable sentence fragment."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}", hint="The quote skips this source; the others still count.")
        self.source = source
        self.reason = reason


@runtime_checkable
class PriceSource(Protocol):
    name: str

    async def fetch(self, request: ComputeRequest) -> list[Offer]: ...


def _error_detail(response: httpx.Response) -> str:
    """The most readable message in an error body (Lambda's ``{"error":{"message",...}}``, ``message``, text)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            parts = [str(error.get(k)) for k in ("code", "message", "suggestion") if error.get(k)]
            return " ".join(parts)[:300]
        for key in ("message", "error", "detail"):
            if isinstance(body.get(key), str):
                return body[key][:300]
    return str(body)[:200]


class HttpJson:
    """GET/POST JSON with a timeout and a small retry policy, mapping every failure to SourceError."""

    def __init__(
        self,
        source: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.source = source
        self._client = client
        self._transport = transport
        self.timeout_s = timeout_s
        self.retries = retries
        self.headers = headers or {}

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if self._client is not None:
            return await self._with_retries(self._client, method, url, **kwargs)
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self.timeout_s, verify=default_ssl_context()
        ) as client:
            return await self._with_retries(client, method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> Any:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> Any:
        return await self.request("POST", url, **kwargs)

    async def _with_retries(self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
        headers = {"Accept": "application/json", **self.headers, **kwargs.pop("headers", {})}
        attempt = 0
        while True:
            try:
                response = await client.request(
                    method, url, headers=headers, timeout=self.timeout_s, **kwargs
                )
            except httpx.TimeoutException:
                failure = f"timed out after {self.timeout_s:g}s ({method} {url})"
            except httpx.TransportError as exc:
                failure = f"cannot reach {url}: {type(exc).__name__}"
            else:
                if response.status_code in _RETRY_STATUS:
                    failure = f"HTTP {response.status_code} from {url}"
                elif response.is_error:
                    raise SourceError(self.source, f"HTTP {response.status_code}: {_error_detail(response)}")
                else:
                    try:
                        return response.json()
                    except ValueError:
                        raise SourceError(self.source, f"answered non-JSON from {url}") from None
            if attempt >= self.retries:
                raise SourceError(self.source, failure)
            attempt += 1
            await asyncio.sleep(RETRY_BACKOFF_S * attempt)


def require(condition: bool, source: str, what: str) -> None:
    """Raise SourceError("unexpected response shape: ...") unless ``condition``."""
    if not condition:
        raise SourceError(source, f"unexpected response shape: {what}")


__all__ = ["Clock", "HttpJson", "PriceSource", "SourceError", "require", "DEFAULT_TIMEOUT_S"]
