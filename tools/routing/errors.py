"""Errors raised by tools.routing (they belong under ``tools.errors.NectoError``).

    NectoError (tools.errors)
    └── RoutingError              a routing record or trace could not be built or read
        ├── NotCanonical          a value has no RFC 8785 form (NaN, infinity, a float Decimal, a bare object)
        ├── TraceNotFound         a trace ref the store does not hold
        └── TraceTampered         a stored trace whose bytes no longer hash to its ref

Verification never raises for a bad record: ``verify`` turns every mismatch into a ``Finding``.
"""

from __future__ import annotations

from tools.errors import NectoError


class RoutingError(NectoError):
    pass


class NotCanonical(RoutingError, ValueError):
    pass


class TraceNotFound(RoutingError):
    pass


class TraceTampered(RoutingError):
    pass
