"""Build a NectoService from settings: the network's endpoints, the signer, the price sources, the ledger.

On the ``sandbox`` network with no ``NECTO_REST_URL``, the devnet is started in this process (the product's
sandbox mode); everything else talks to the URLs in settings exactly as it would on mainnet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tools.settings import NectoSettings

log = logging.getLogger(__name__)


def start_embedded_devnet(settings: NectoSettings) -> Any:
    from devnet.server import start_devnet

    return start_devnet(
        host=settings.devnet_host,
        port=settings.devnet_port,
        block_time_s=settings.devnet_block_time_s,
        providers=settings.devnet_providers,
        seed=settings.devnet_seed,
        chain_id=settings.effective_chain_id,
    )


def price_sources(settings: NectoSettings, *, rest_url: str, console_url: str | None, lambda_url: str | None) -> list[Any]:
    from tools.pricing.sources.akash import AkashSource
    from tools.pricing.sources.lambda_cloud import LambdaSource
    from tools.pricing.sources.skypilot_catalog import SkyPilotCatalogSource

    sources: list[Any] = [AkashSource(rest_url=rest_url, console_url=console_url, timeout_s=settings.http_timeout_s)]
    if lambda_url:
        key = settings.lambda_api_key.get_secret_value() if settings.lambda_api_key else "sandbox"
        if settings.lambda_api_key or settings.network == "sandbox":
            sources.append(LambdaSource(base_url=lambda_url, api_key=key, timeout_s=settings.http_timeout_s))
    catalog_dir = settings.catalog_dir or Path.home() / ".sky" / "catalogs" / "v8"
    if catalog_dir.is_dir():
        sources.append(SkyPilotCatalogSource(catalog_dir))
    return sources


def build_service(settings: NectoSettings):
    from tools.deploy.akash_backend import AkashBackend
    from tools.service import NectoService

    devnet = None
    rest_url = settings.effective_rest_url
    console_url = settings.console_api_url or settings.preset.console_api_url
    lambda_url = settings.lambda_api_url
    if settings.uses_embedded_devnet:
        devnet = start_embedded_devnet(settings)
        rest_url = devnet.rest_url
        console_url = console_url or devnet.console_url
        lambda_url = lambda_url or devnet.lambda_url
        log.info("sandbox devnet at %s", rest_url)
    elif settings.network == "sandbox":
        # A standalone `necto devnet` serves the console and lambda fakes beside the chain REST.
        console_url = console_url or rest_url
        lambda_url = lambda_url or f"{rest_url.rstrip('/')}/lambda"
    if rest_url is None:
        raise RuntimeError(f"no REST URL for network {settings.network}")
    backend = AkashBackend(settings, rest_url=rest_url, faucet=settings.network == "sandbox")
    sources = price_sources(settings, rest_url=rest_url, console_url=console_url, lambda_url=lambda_url)
    return NectoService(settings, backend=backend, sources=sources, devnet=devnet)
