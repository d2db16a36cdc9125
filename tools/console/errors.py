"""Errors of the Akash Console managed-wallet API (akash.md §7), one class per thing a user can act on.

    NectoError
    └── ConsoleError               the Console API failed; never carries the API key or a request header
        ├── ConsoleAuthError       401 / 403: the x-api-key was refused (wrong, revoked, or another account's)
        ├── ConsoleCreditExhausted 402, or a balance below the deposit: add credit in Console (also an
        │                          InsufficientFunds, so callers that handle a short wallet handle this too)
        ├── ConsoleNotFound        404: no such deployment (or not this key's)
        ├── ConsoleRefused         another 4xx: Console refused the request as given (its message, cleaned)
        ├── ConsoleUnavailable     5xx, timeout, connection refused: try again later
        └── ConsoleBadAnswer       a body that is not JSON or not the documented ``{data: ...}`` shape
"""

from __future__ import annotations

from tools.errors import InsufficientFunds, NectoError


class ConsoleError(NectoError):
    def __init__(self, message: str, *, status: int = 0, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ConsoleAuthError(ConsoleError):
    pass


class ConsoleCreditExhausted(ConsoleError, InsufficientFunds):
    pass


class ConsoleNotFound(ConsoleError):
    pass


class ConsoleRefused(ConsoleError):
    pass


class ConsoleUnavailable(ConsoleError):
    pass


class ConsoleBadAnswer(ConsoleError):
    pass
