"""The job ledger: plans, jobs, their state history and the audit log (sqlmodel; SQLite by default)."""

from tools.ledger.db import Ledger
from tools.ledger.models import AuditEntry, Job, JobEvent, Plan

__all__ = ["AuditEntry", "Job", "JobEvent", "Ledger", "Plan"]
