"""Necto's exception tree.

Two error channels (see ../shared/STYLE.md): what the model can act on is returned by a tool as
``{"status": "error", "message": ..., "hint": ...}``; programmer errors, broken invariants and security
refusals raise from this tree.

    NectoError
    ├── InvalidRequest            a ComputeRequest / tool argument that cannot be satisfied as given
    │   └── UnknownTemplate       a workload id with no template in sdl_templates/
    ├── InvalidSDL                SDL that does not parse or validate (message names the YAML path)
    ├── ChainError                the chain REST endpoint failed or answered something unusable
    │   ├── BroadcastError        CheckTx / DeliverTx rejected the transaction (code, raw_log)
    │   ├── TxTimeout             a broadcast tx was not included before the deadline
    │   ├── InsufficientFunds     the account cannot pay the deposit or the fee
    │   └── BmeHalted             the chain's circuit breaker halted ACT mints (collateral ratio too low)
    ├── ProviderError             a provider gateway failed or answered garbage
    │   └── ManifestRejected      the provider refused the manifest (422 hash mismatch, ...)
    ├── NoBids                    no acceptable bid arrived before the deadline
    ├── PolicyDenied              a security rule refused the action (no confirmation, plan changed, ...)
    │   └── BudgetExceeded        a spending cap in settings would be exceeded
    ├── PlanNotFound              a plan id that code never built (or that belongs to someone else)
    ├── JobNotFound               a job id unknown to the ledger
    └── RouterError               the ComputeRouter contract (ADI Chain) reverted, the tx timed out, or an
                                  argument cannot be encoded (``error_name`` says which)
"""

from __future__ import annotations


class NectoError(Exception):
    """Base class. ``message`` is a sentence a user can read; ``hint`` says what to do next."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_result(self) -> dict:
        """The tool-result shape for this error (never contains a traceback)."""
        result = {"status": "error", "error": type(self).__name__, "message": self.message}
        if self.hint:
            result["hint"] = self.hint
        return result


class InvalidRequest(NectoError):
    pass


class UnknownTemplate(InvalidRequest):
    pass


class InvalidSDL(NectoError):
    """Always one line: the YAML path, then what is wrong (SDL text is user input, so nothing in it may
    break the line, whatever the keys contain)."""

    def __init__(self, message: str, *, path: str = "", hint: str = "") -> None:
        line = f"{path}: {message}" if path else message
        line = "".join(ch if ch.isprintable() else " " for ch in line)
        super().__init__(line, hint=hint)
        self.path = path


class ChainError(NectoError):
    pass


class BroadcastError(ChainError):
    def __init__(self, message: str, *, code: int = 0, raw_log: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.raw_log = raw_log


class TxTimeout(ChainError):
    pass


class InsufficientFunds(ChainError):
    pass


class BmeHalted(ChainError):
    """MsgMintACT would fail: ``/akash/bme/v1/status`` says mints are halted (akash.md §1). Nothing is signed."""


class ProviderError(NectoError):
    pass


class ManifestRejected(ProviderError):
    pass


class NoBids(NectoError):
    pass


class PolicyDenied(NectoError):
    pass


class BudgetExceeded(PolicyDenied):
    pass


class PlanNotFound(NectoError):
    pass


class JobNotFound(NectoError):
    pass


class RouterError(NectoError):
    """A ComputeRouter call failed. ``error_name`` is the contract's custom error (``DuplicateJob``,
    ``UnknownJob``, ``NotAuthorized``, ``IllegalTransition``) or one of the client's own (``Reverted``,
    ``Timeout``, ``WrongChain``, ``InvalidArgument``); ``error_args`` holds its decoded arguments."""

    def __init__(
        self,
        message: str,
        *,
        error_name: str = "",
        error_args: dict | None = None,
        tx_hash: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_name = error_name
        self.error_args = dict(error_args or {})
        self.tx_hash = tx_hash

    def to_result(self) -> dict:
        result = super().to_result()
        if self.error_name:
            result["reason"] = self.error_name
        if self.tx_hash:
            result["tx_hash"] = self.tx_hash
        return result
