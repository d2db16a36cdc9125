"""The job ledger: plans, jobs, their state history, routing decisions, what is on chain (deployments, leases,
transactions) and the audit log (sqlmodel; SQLite by default, PostgreSQL to share one database between processes).
The schema is migrated with alembic on start-up (``tools.ledger.migrate``)."""

from tools.ledger.db import RESUMABLE_STATES, TERMINAL_STATES, Ledger
from tools.ledger.models import (
    AuditEntry,
    BlockedOffer,
    Deployment,
    Job,
    JobEvent,
    Lease,
    Plan,
    RoutingDecision,
    TxRecord,
    Wallet,
)

__all__ = [
    "RESUMABLE_STATES",
    "TERMINAL_STATES",
    "AuditEntry",
    "BlockedOffer",
    "Deployment",
    "Job",
    "JobEvent",
    "Lease",
    "Ledger",
    "Plan",
    "RoutingDecision",
    "TxRecord",
    "Wallet",
]
