"""Verifiable routing: every routing decision as a hashed, replayable record (issue "Verifiable routing").

- ``canonical``: RFC 8785 canonical JSON with money as exact decimal strings; ``sha256_hex``.
- ``decision``: ``RoutingSnapshot`` (every input of a ranking), ``RoutingOutcome`` (what it decided),
  ``record_decision(quote, ...) -> DecisionRecord`` (both documents and their hashes), ``replay``.
- ``verify``: ``verify(record, on_chain=..., signature=...) -> VerifyReport`` with one ``Finding`` per check.
- ``eip712``: the router key's EIP-712 signature over a decision.
- ``traces``: content-addressed reasoning traces (``TraceStore``, ``LocalTraceStore``).

Domain code only: no ledger, web3 or ADK import; the service and the CLI wire it in.
"""

from tools.routing.canonical import canonical_json, sha256_hex
from tools.routing.decision import (
    DecisionRecord,
    RoutingOutcome,
    RoutingSnapshot,
    decision_hash,
    record_decision,
    replay,
    request_hash,
)
from tools.routing.errors import NotCanonical, RoutingError, TraceNotFound, TraceTampered
from tools.routing.traces import LocalTraceStore, TraceStore, trace_from_events
from tools.routing.verify import (
    Finding,
    LeaseFacts,
    OnChainFacts,
    OnChainRecord,
    SignatureCheck,
    VerifyReport,
    verify,
)

__all__ = [
    "DecisionRecord",
    "Finding",
    "LeaseFacts",
    "LocalTraceStore",
    "NotCanonical",
    "OnChainFacts",
    "OnChainRecord",
    "RoutingError",
    "RoutingOutcome",
    "RoutingSnapshot",
    "SignatureCheck",
    "TraceNotFound",
    "TraceStore",
    "TraceTampered",
    "VerifyReport",
    "canonical_json",
    "decision_hash",
    "record_decision",
    "replay",
    "request_hash",
    "sha256_hex",
    "trace_from_events",
    "verify",
]
