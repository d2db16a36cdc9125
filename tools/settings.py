"""The one settings object (pydantic-settings, env prefix ``NECTO_``).

Every endpoint Necto talks to comes from here, never from the model or the chat. ``network`` picks a
preset (chain id, REST URL); any explicit ``NECTO_REST_URL`` wins over the preset. On the ``sandbox``
network with no REST URL, Necto starts the local devnet in-process (see ``devnet/``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = Literal["sandbox", "sandbox-2", "mainnet"]


class NetworkPreset:
    """Chain id and public endpoints of a network (akash.md §1)."""

    def __init__(self, chain_id: str, rest_url: str | None, console_api_url: str | None) -> None:
        self.chain_id = chain_id
        self.rest_url = rest_url
        self.console_api_url = console_api_url


NETWORK_PRESETS: dict[str, NetworkPreset] = {
    # rest_url None: the embedded devnet picks its own loopback port at start-up.
    "sandbox": NetworkPreset("necto-sandbox-1", None, None),
    "sandbox-2": NetworkPreset("sandbox-2", "https://api.sandbox-2.aksh.pw:443", None),
    "mainnet": NetworkPreset("akashnet-2", "https://rpc.akt.dev/rest", "https://console-api.akash.network"),
}


def _default_data_dir() -> Path:
    return Path.home() / ".necto"


class NectoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NECTO_", extra="ignore", validate_default=True)

    # --- network and endpoints -------------------------------------------------------------------
    network: Network = "sandbox"
    chain_id: str | None = None  # None: the preset's
    rest_url: str | None = None  # chain REST (LCD); None: the preset's, or the embedded devnet
    console_api_url: str | None = None
    lambda_api_url: str | None = None  # fixed-rate catalog; the sandbox serves a local fake
    lambda_api_key: SecretStr | None = None
    catalog_dir: Path | None = None  # SkyPilot catalogs (<dir>/<cloud>/vms.csv); None: ~/.sky/catalogs/v8 if present
    # Other markets. In the sandbox every URL left unset points at the devnet's fake of that market
    # (<devnet>/aws, /ionet, /render, /coingecko); elsewhere a source without its URL or key is not asked.
    aws_pricing_url: str | None = None  # Price List bulk files; real: https://pricing.us-east-1.amazonaws.com
    aws_ec2_url: str | None = None  # one EC2 Query endpoint; None: https://ec2.<region>.amazonaws.com
    aws_spot_advisor_url: str | None = None  # real: https://spot-bid-advisor.s3.amazonaws.com/spot-advisor-data.json
    aws_access_key_id: SecretStr | None = None  # for DescribeSpotPriceHistory; on-demand prices need none
    aws_secret_access_key: SecretStr | None = None
    aws_regions: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
    aws_enabled: bool = False  # outside the sandbox: the Price List files are large; opt in
    ionet_api_url: str | None = None  # real: https://api.io.solutions
    ionet_api_key: SecretStr | None = None
    render_prices_url: str | None = None  # a JSON price document (Render publishes prices on a web page)
    coingecko_api_url: str | None = None  # None: https://api.coingecko.com (sandbox: the devnet's fake)
    coingecko_api_key: SecretStr | None = None
    price_sources: tuple[str, ...] | None = None  # only these sources (akash, lambda, aws, ionet, render, skypilot)
    price_cache_dir: Path | None = None  # None: <data_dir>/cache
    allowed_chain_ids: tuple[str, ...] = ("necto-sandbox-1", "sandbox-2", "akashnet-2")

    # --- the embedded devnet (sandbox network only) --------------------------------------------------
    devnet_host: str = "127.0.0.1"
    devnet_port: int = 0  # 0: any free port
    devnet_block_time_s: float = 1.0
    devnet_providers: int = 24
    devnet_seed: int = 7

    # --- tracking: the ComputeRouter contract on an EVM chain (ADI Chain) ----------------------------
    # Each job is "untracked" (ledger only) or "tracked" (also recorded in ComputeRouter); the user can
    # choose per job, this is the default.
    tracking: Literal["tracked", "untracked"] = "untracked"
    evm_rpc_url: str | None = None  # None: the sandbox devnet's EVM (<devnet>/evm); ADI testnet: rpc.ab.testnet...
    evm_chain_id: int = 99999  # ADI testnet; mainnet 36900
    router_contract_address: str | None = None  # None in the sandbox: deployed on first use and remembered
    router_key_file: Path | None = None  # the router account's key (0600); None: <key_dir>/router.key
    trace_dir: Path | None = None  # reasoning traces, content-addressed; None: <data_dir>/traces
    reconcile_interval_s: float = 300.0  # compare the ledger with the chain this often (and at start-up)
    low_escrow_hours: float = 24.0  # warn when a running deployment's escrow lasts less than this

    # --- console rail: who pays and signs ----------------------------------------------------------
    # self: the local key signs and pays in ACT. console: the Akash Console managed wallet (x-api-key)
    # signs and bills the Console account in USD (tools/console/); the URL is console_api_url above
    # (the network preset's, or the sandbox devnet's), the key NECTO_CONSOLE_API_KEY (the sandbox has one).
    payment_rail: Literal["self", "console"] = "self"
    console_api_key: SecretStr | None = None

    # --- persistence and keys ----------------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # None: sqlite:///<data_dir>/necto.db
    key_dir: Path | None = None  # None: <data_dir>/keys (created 0700, key files 0600)

    # --- chain parameters --------------------------------------------------------------------------
    deposit_denom: str = "uact"
    fee_denom: str = "uakt"
    gas_price_uakt: Decimal = Decimal("0.025")
    gas_adjustment: Decimal = Decimal("1.6")
    block_time_s: Decimal = Decimal("6.098")  # used for price conversion until measured
    min_deposit_uact: int = 500_000  # chain rule: 0.5 ACT

    # --- spending caps (security.md rule 3); all in micro-units ---------------------------------------
    max_deposit_uact: int = 50_000_000  # 50 ACT per deploy
    max_price_uact_per_block: int = 100_000  # ~59 USD/hour
    daily_cap_uact: int = 100_000_000
    max_open_deployments: int = 10
    max_fee_uakt: int = 2_000_000
    max_llm_calls_per_turn: int = 12

    # --- timeouts and waits ------------------------------------------------------------------------
    http_timeout_s: float = 10.0
    # Akash providers serve self-signed certificates: with verification on, a provider's certificate must be
    # the one it published on chain (or chain to a public CA); False disables the check (not recommended).
    provider_tls_verify: bool = True
    # Provider gateway auth: JWT, falling back to an on-chain mTLS client certificate (<key_dir>/mtls) on 401.
    provider_auth: Literal["auto", "jwt", "mtls"] = "auto"
    tx_inclusion_timeout_s: float = 60.0
    bid_wait_blocks: int = 8  # how long to collect bids after the order opens
    bid_deadline_s: float = 120.0  # wall-clock bound on waiting for bids
    manifest_retries: int = 10
    lease_ready_timeout_s: float = 120.0
    failed_offer_block_s: int = 3600  # a provider that failed a launch is left out of quotes this long

    # --- the model ---------------------------------------------------------------------------------
    google_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_API_KEY", "NECTO_GOOGLE_API_KEY")
    )
    gemini_model: str = "gemini-2.5-flash"

    # --- the web chat ------------------------------------------------------------------------------
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    public_url: str = "http://127.0.0.1:8000"

    # --- accounts: sign-in and chat history (README "Accounts") ----------------------------------------
    # none: one local user ("local", like the CLI); password: users from auth_users and the users file;
    # header: an authenticating reverse proxy names the user in auth_header; wallet: Keplr/Leap sign-in at
    # /wallet-login (ADR-036 over a server nonce), the user is "wallet:<akash address>" (ui/wallet_login.py).
    auth: Literal["none", "password", "header", "wallet"] = "none"
    auth_users: SecretStr | None = None  # "name:pbkdf2_sha256$...", comma- or newline-separated
    auth_users_file: Path | None = None  # None: <data_dir>/users (`necto user add` writes it, 0600)
    auth_header: str = "X-Forwarded-User"
    # Header mode: when set, a request must also carry X-Necto-Proxy-Secret with this value (only the proxy
    # knows it), so a client that reaches the chat directly cannot name itself.
    auth_proxy_secret: SecretStr | None = None
    chat_history: bool = True  # persist chats (only when someone signs in: Chainlit keys threads by user)
    chat_database_url: str | None = None  # None: sqlite+aiosqlite:///<data_dir>/chat.db

    # --- bots: Slack and Discord (README "Slack and Discord"; security.md rule 6: bots are read-only) --------
    # Chainlit switches them on from its own variables: SLACK_BOT_TOKEN + SLACK_SIGNING_SECRET (events at
    # <public_url>/slack/events), DISCORD_BOT_TOKEN. For anything that signs, a bot replies with a hand-off
    # link <public_url>/handoff/<token> (ui/handoff.py) that opens the plan in the web chat.
    handoff_ttl_s: int = Field(default=600, ge=30, le=3600)  # a hand-off link works once, within this time
    handoff_secret: SecretStr | None = None  # signs hand-off links; None: <data_dir>/handoff_secret (0600)
    # With sign-in on (NECTO_AUTH), a link opens only for the web user its bot identity is linked to, as
    # JSON: {"slack:T0123:U0456": "alice", "discord:81234": "bob"}. Without sign-in the link is the proof.
    bot_links: dict[str, str] = Field(default_factory=dict)
    bot_log_lines: int = Field(default=20, ge=1, le=100)  # log lines a bot shows (the last ones)

    # ------------------------------------------------------------------------------------------------
    @property
    def preset(self) -> NetworkPreset:
        return NETWORK_PRESETS[self.network]

    @property
    def effective_chain_id(self) -> str:
        return self.chain_id or self.preset.chain_id

    @property
    def effective_rest_url(self) -> str | None:
        return self.rest_url or self.preset.rest_url

    @property
    def uses_embedded_devnet(self) -> bool:
        return self.network == "sandbox" and not self.rest_url

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'necto.db'}"

    @property
    def effective_key_dir(self) -> Path:
        return self.key_dir or self.data_dir / "keys"

    @property
    def effective_users_file(self) -> Path:
        return self.auth_users_file or self.data_dir / "users"

    @property
    def effective_chat_database_url(self) -> str:
        return self.chat_database_url or f"sqlite+aiosqlite:///{self.data_dir / 'chat.db'}"
