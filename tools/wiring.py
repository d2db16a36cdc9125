"""Build a NectoService from settings: the network's endpoints, the signer, the price sources, the ledger.

On the ``sandbox`` network with no ``NECTO_REST_URL``, the devnet is started in this process (the product's
sandbox mode); everything else talks to the URLs in settings exactly as it would on mainnet.
"""

from __future__ import annotations

import gc
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


SOURCE_NAMES = ("akash", "lambda", "aws", "ionet", "render", "skypilot")


def token_prices(settings: NectoSettings, *, oracle: Any, market_base: str | None) -> Any:
    """One TokenPriceService per service: the chain oracle for AKT first, then CoinGecko (cached, budgeted)."""
    from tools.pricing.sources.coingecko import COINGECKO_API_URL, CoinGeckoClient
    from tools.pricing.token_service import TokenPriceService

    url = settings.coingecko_api_url or (f"{market_base}/coingecko" if market_base else COINGECKO_API_URL)
    key = settings.coingecko_api_key.get_secret_value() if settings.coingecko_api_key else ""
    return TokenPriceService(oracle=oracle, coingecko=CoinGeckoClient(url, key, timeout_s=settings.http_timeout_s))


def _secret(value: Any, sandbox_default: str | None) -> str | None:
    return value.get_secret_value() if value is not None else sandbox_default


def price_sources(
    settings: NectoSettings,
    *,
    rest_url: str,
    console_url: str | None,
    lambda_url: str | None,
    market_base: str | None = None,
    tokens: Any = None,
) -> list[Any]:
    """Every price source settings make available. ``market_base``: the sandbox devnet, whose fakes of the
    other markets answer at ``<market_base>/<market>``; None on a real network, where a source needs its
    URL (and key, where the market wants one) in settings."""
    from tools.pricing.sources.akash import AkashSource
    from tools.pricing.sources.ionet import IonetSource
    from tools.pricing.sources.lambda_cloud import LambdaSource
    from tools.pricing.sources.render import RenderSource
    from tools.pricing.sources.skypilot_catalog import SkyPilotCatalogSource

    timeout = settings.http_timeout_s
    sandbox = market_base is not None
    wanted = set(settings.price_sources or SOURCE_NAMES)
    sources: list[Any] = []
    if "akash" in wanted:
        sources.append(AkashSource(rest_url=rest_url, console_url=console_url, timeout_s=timeout))
    lambda_key = _secret(settings.lambda_api_key, "sandbox" if sandbox else None)
    if "lambda" in wanted and lambda_url and lambda_key:
        sources.append(LambdaSource(base_url=lambda_url, api_key=lambda_key, timeout_s=timeout))
    aws = _aws_source(settings, market_base) if "aws" in wanted else None
    if aws is not None:
        sources.append(aws)
    ionet_url = settings.ionet_api_url or (f"{market_base}/ionet" if sandbox else None)
    ionet_key = _secret(settings.ionet_api_key, "sandbox" if sandbox else None)
    if "ionet" in wanted and ionet_url and ionet_key:
        sources.append(IonetSource(ionet_url, ionet_key, tokens=tokens, timeout_s=timeout))
    render_url = settings.render_prices_url or (f"{market_base}/render/gpu-prices.json" if sandbox else None)
    if "render" in wanted and render_url:
        sources.append(RenderSource(render_url, tokens=tokens, timeout_s=timeout))
    catalog_dir = settings.catalog_dir or Path.home() / ".sky" / "catalogs" / "v8"
    if "skypilot" in wanted and catalog_dir.is_dir():
        sources.append(SkyPilotCatalogSource(catalog_dir))
    return sources


def _aws_source(settings: NectoSettings, market_base: str | None) -> Any:
    """AWS on-demand (Price List files), spot (DescribeSpotPriceHistory) and Spot Advisor buckets.

    Outside the sandbox AWS is opt-in (``aws_enabled`` or an explicit ``aws_pricing_url``): a region's Price
    List file is hundreds of MB, downloaded once into the price cache and reused for hours."""
    from tools.pricing.sources.aws import AwsSource

    sandbox = market_base is not None
    if not (sandbox or settings.aws_enabled or settings.aws_pricing_url):
        return None
    kwargs: dict[str, Any] = {
        "regions": settings.aws_regions,
        "cache_dir": (settings.price_cache_dir or settings.data_dir / "cache") / "aws",
        "timeout_s": settings.http_timeout_s,
    }
    if sandbox:
        from devnet.aws_api import SANDBOX_ACCESS_KEY_ID, SANDBOX_SECRET_ACCESS_KEY

        kwargs.update(
            pricing_url=f"{market_base}/aws", ec2_url=f"{market_base}/aws/ec2/",
            spot_advisor_url=f"{market_base}/aws/spot-advisor-data.json",
            access_key_id=SANDBOX_ACCESS_KEY_ID, secret_access_key=SANDBOX_SECRET_ACCESS_KEY,
        )
    for name, setting in (("pricing_url", settings.aws_pricing_url), ("ec2_url", settings.aws_ec2_url),
                          ("spot_advisor_url", settings.aws_spot_advisor_url)):
        if setting:
            kwargs[name] = setting
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        kwargs["access_key_id"] = settings.aws_access_key_id.get_secret_value()
        kwargs["secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    return AwsSource(**kwargs)


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
    ledger = None
    if settings.payment_rail == "console":
        # --- console rail: the Console managed wallet signs and pays (tools/console/); its lease request
        # sends the manifest the ledger keeps with the job, so backend and service share one ledger.
        from tools.console.backend import build_console_backend
        from tools.ledger import Ledger

        ledger = Ledger(settings.effective_database_url)
        backend = build_console_backend(settings, console_url=console_url, rest_url=rest_url, ledger=ledger)
    else:
        backend = AkashBackend(settings, rest_url=rest_url, faucet=settings.network == "sandbox")
    market_base = rest_url.rstrip("/") if settings.network == "sandbox" else None
    tokens = token_prices(settings, oracle=lambda: backend.akt_usd(), market_base=market_base)
    sources = price_sources(
        settings, rest_url=rest_url, console_url=console_url, lambda_url=lambda_url, market_base=market_base,
        tokens=tokens,
    )
    from tools.tracking import build_tracker

    tracker = build_tracker(settings, sandbox_base=market_base)
    return NectoService(settings, backend=backend, sources=sources, devnet=devnet, tokens=tokens, tracker=tracker,
                        ledger=ledger)


def settle_heap() -> None:
    """For a long-running process, once its service is built: everything alive then (modules, the service,
    the embedded devnet) lives as long as the process, so freeze it and keep the collector's full passes to
    what requests create. With web3, ADK and the rest loaded, each full pass over the start-up heap took
    ~130 ms, the p95 of a 1,000-offer quote. Not for tests or short commands (frozen objects are never freed)."""
    gc.collect()
    gc.freeze()
