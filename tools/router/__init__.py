"""The ComputeRouter: Necto's public job record on ADI Chain (contract in ``contracts/ComputeRouter.sol``).

Plain Python over web3.py, no ADK or Chainlit import. The ABI and bytecode come from the committed
artifact ``contracts/build/ComputeRouter.json`` (rebuild: ``cd contracts && npm ci && node compile.mjs``).
"""

from tools.router.contract import (
    ComputeRouterClient,
    JobRecordedEvent,
    JobStatusChangedEvent,
    OnChainJob,
    RouterArtifact,
    RouterEvent,
    RouterStatus,
    RouterTx,
    decode_job_id,
    encode_buyer,
    encode_job_id,
    load_artifact,
    price_from_e18,
    price_to_e18,
    status_for_ledger_state,
)
from tools.router.networks import (
    ADI_MAINNET,
    ADI_TESTNET,
    ROUTER_NETWORKS,
    RouterNetwork,
    connect,
    router_network,
)

__all__ = [
    "ADI_MAINNET",
    "ADI_TESTNET",
    "ROUTER_NETWORKS",
    "ComputeRouterClient",
    "JobRecordedEvent",
    "JobStatusChangedEvent",
    "OnChainJob",
    "RouterArtifact",
    "RouterEvent",
    "RouterNetwork",
    "RouterStatus",
    "RouterTx",
    "connect",
    "decode_job_id",
    "encode_buyer",
    "encode_job_id",
    "load_artifact",
    "price_from_e18",
    "price_to_e18",
    "router_network",
    "status_for_ledger_state",
]
