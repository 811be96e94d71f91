"""Errors of the risk service and the one table that maps them, and Redis's, to gRPC statuses.

    RiskError                 base of everything risk raises on purpose
    ├── InvalidArgument       a request field is malformed; names the field
    ├── VersionConflict       SetLimits expected_version differs from the stored version
    ├── NotFound              a reservation id or client_order_id risk never issued
    └── StoreUnavailable      Redis cannot be reached: fail closed

Redis's own exceptions are mapped in `status_of` only, so a handler never guesses.
"""

from __future__ import annotations

import grpc
import redis.exceptions


class RiskError(Exception):
    """Base of the errors risk raises on purpose; `status_of` gives the gRPC status."""


class InvalidArgument(RiskError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class VersionConflict(RiskError):
    pass


class NotFound(RiskError):
    pass


class StoreUnavailable(RiskError):
    pass


_STATUS: dict[type[Exception], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    VersionConflict: grpc.StatusCode.ABORTED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    StoreUnavailable: grpc.StatusCode.UNAVAILABLE,
    # Redis unreachable or slow: nothing is decided without the shared book.
    redis.exceptions.ConnectionError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.TimeoutError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.BusyLoadingError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.ReadOnlyError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.RedisError: grpc.StatusCode.INTERNAL,
}


def status_of(error: Exception) -> grpc.StatusCode | None:
    """The gRPC status for a risk or Redis error (most specific class wins); None otherwise."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return None


def describe(error: Exception) -> str:
    if isinstance(error, RiskError):
        return str(error)
    if status_of(error) is grpc.StatusCode.UNAVAILABLE:
        return f"risk store unavailable: {type(error).__name__}: {error}"
    return f"risk store error: {type(error).__name__}: {error}"
