"""Build a NectoService from settings: the network's endpoints, the signer, the price sources, the ledger.

On the ``sandbox`` network with no ``NECTO_REST_URL``, the devnet is started in this process (the product's
sandbox mode); everything else talks to the URLs in settings exactly as it would on mainnet.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import httpx

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


SANDBOX_FILE = "sandbox.json"


def attach_running_sandbox(settings: NectoSettings) -> dict[str, Any] | None:
    """The sandbox another Necto process (e.g. `make run`) published in the data dir, if it still answers."""
    path = settings.data_dir / SANDBOX_FILE
    try:
        published = json.loads(path.read_text())
        answer = httpx.get(f"{published['rest_url']}/necto-devnet/info", timeout=1.0)
        if answer.status_code == 200 and answer.json().get("chain_id") == settings.effective_chain_id:
            return published
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None
    return None


def publish_sandbox(settings: NectoSettings, devnet: Any) -> Path:
    path = settings.data_dir / SANDBOX_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"rest_url": devnet.rest_url, "console_url": devnet.console_url, "lambda_url": devnet.lambda_url,
              "pid": os.getpid()}
    path.write_text(json.dumps(record))
    return path


def unpublish_sandbox(settings: NectoSettings, devnet: Any) -> None:
    path = settings.data_dir / SANDBOX_FILE
    try:
        if json.loads(path.read_text()).get("rest_url") == devnet.rest_url:
            path.unlink()
    except (OSError, ValueError):
        pass


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
    attached = attach_running_sandbox(settings) if settings.uses_embedded_devnet else None
    if attached is not None:
        # One sandbox per data dir: deployments made in the web chat are visible to `necto logs` etc.
        rest_url = attached["rest_url"]
        console_url = console_url or attached["console_url"]
        lambda_url = lambda_url or attached["lambda_url"]
        log.info("attached to the running sandbox at %s", rest_url)
    elif settings.uses_embedded_devnet:
        devnet = start_embedded_devnet(settings)
        rest_url = devnet.rest_url
        console_url = console_url or devnet.console_url
        lambda_url = lambda_url or devnet.lambda_url
        publish_sandbox(settings, devnet)
        log.info("sandbox devnet at %s", rest_url)
    if rest_url is None:
        raise RuntimeError(f"no REST URL for network {settings.network}")
    if attached is None and devnet is None and settings.network == "sandbox":
        # A standalone `necto devnet` serves the console and lambda fakes beside the chain REST.
        console_url = console_url or rest_url
        lambda_url = lambda_url or f"{rest_url.rstrip('/')}/lambda"
    backend = AkashBackend(settings, rest_url=rest_url, faucet=settings.network == "sandbox")
    sources = price_sources(settings, rest_url=rest_url, console_url=console_url, lambda_url=lambda_url)
    return NectoService(settings, backend=backend, sources=sources, devnet=devnet)
