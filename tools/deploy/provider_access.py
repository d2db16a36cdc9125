"""What a chain backend does at the provider's gateway, whoever pays: send the manifest, read lease status,
logs and Kubernetes events. ``AkashBackend`` (self-custody) and ``ConsoleBackend`` (managed wallet) differ only
in how they build the gateway client (``_gateway``: JWT from the local key, the browser wallet or Console)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from tools.akash.gateway import ProviderGateway
from tools.deploy.backend import LeaseReadiness


class ProviderAccess:
    """Mixin: the gateway half of ``ChainBackend``; needs ``settings`` and ``_gateway(host_uri)``."""

    settings: Any

    def _gateway(self, host_uri: str) -> ProviderGateway:  # pragma: no cover - provided by the backend
        raise NotImplementedError

    async def send_manifest(self, host_uri: str, dseq: int, manifest_json: bytes) -> None:
        """PUT the manifest (retried while the provider has not seen the lease; 422 = hash mismatch). Sending
        it again is idempotent, so on the Console rail this also proves the provider holds the approved one."""
        async with self._gateway(host_uri) as gateway:
            await gateway.send_manifest(dseq, manifest_json, retries=self.settings.manifest_retries, delay_s=0.5)

    async def lease_readiness(self, host_uri: str, dseq: int, gseq: int, oseq: int) -> LeaseReadiness | None:
        async with self._gateway(host_uri) as gateway:
            status = await gateway.lease_status(dseq, gseq, oseq)
        if status is None:
            return None
        return LeaseReadiness(
            ready=status.ready,
            uris=[uri for svc in status.services.values() for uri in svc.uris],
            forwarded_ports=[
                {"service": name, **port.model_dump()} for name, ports in status.forwarded_ports.items() for port in ports
            ],
            services={name: svc.model_dump() for name, svc in status.services.items()},
        )

    async def logs(
        self, host_uri: str, dseq: int, gseq: int, oseq: int, *, tail: int, follow: bool, services: list[str] | None
    ) -> AsyncIterator[dict[str, str]]:
        async with self._gateway(host_uri) as gateway:
            async for line in gateway.logs(dseq, gseq, oseq, tail=tail, follow=follow, services=services):
                yield {"service": line.service, "message": line.message}

    async def kube_events(self, host_uri: str, dseq: int, gseq: int, oseq: int) -> AsyncIterator[dict[str, str]]:
        """The lease's Kubernetes events (scheduling, image pulls, restarts) so far, sanitised by the gateway."""
        async with self._gateway(host_uri) as gateway:
            async for event in gateway.events(dseq, gseq, oseq, follow=False):
                yield event.model_dump()
