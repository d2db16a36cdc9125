"""ADI Chain presets for the ComputeRouter (../shared/specs/stack.md, "ADI Chain facts").

Endpoints come from settings, never from the model (security.md rule 4); a preset only supplies the
public defaults. Mainnet has no known public RPC, so its ``rpc_url`` is None and the caller must pass one.
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from tools.errors import RouterError

DEFAULT_RPC_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RouterNetwork:
    name: str
    chain_id: int
    rpc_url: str | None
    explorer_url: str | None


ADI_TESTNET = RouterNetwork(
    name="adi-testnet",
    chain_id=99999,
    rpc_url="https://rpc.ab.testnet.adifoundation.ai/",
    explorer_url="https://explorer.ab.testnet.adifoundation.ai/",
)
ADI_MAINNET = RouterNetwork(name="adi-mainnet", chain_id=36900, rpc_url=None, explorer_url=None)

ROUTER_NETWORKS: dict[str, RouterNetwork] = {n.name: n for n in (ADI_TESTNET, ADI_MAINNET)}


def router_network(name: str) -> RouterNetwork:
    try:
        return ROUTER_NETWORKS[name]
    except KeyError:
        raise RouterError(
            f"Unknown ComputeRouter network {name!r}.",
            error_name="InvalidArgument",
            hint=f"Use one of: {', '.join(sorted(ROUTER_NETWORKS))}.",
        ) from None


def connect(
    network: RouterNetwork | str, *, rpc_url: str | None = None, timeout_s: float = DEFAULT_RPC_TIMEOUT_S
) -> Web3:
    """An HTTP ``Web3`` for ``network``; ``rpc_url`` (from settings) wins over the preset's.

    No request is made here: ``ComputeRouterClient`` checks the chain id against the preset before it
    signs anything (pass ``expected_chain_id=network.chain_id``).
    """
    preset = router_network(network) if isinstance(network, str) else network
    url = rpc_url or preset.rpc_url
    if not url:
        raise RouterError(
            f"{preset.name} has no public RPC endpoint preset.",
            error_name="InvalidArgument",
            hint="Set the ADI RPC URL in settings and pass it as rpc_url.",
        )
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))
