"""Errors of the signal service and the one table that maps them, and Redis's, to gRPC statuses.

    SignalError               base of everything signal raises on purpose
    ├── InvalidArgument       a request field is malformed; names the field
    ├── NotFound              no such rule or binding, or not the caller's to see
    ├── PermissionDenied      the caller may not act on this rule, binding or source
    ├── FailedPrecondition    the state forbids it (a rule still used by a binding)
    └── OutOfRange            a resume point older than the retained signal history

Redis's own exceptions are mapped in `status_of` only: Redis unreachable is UNAVAILABLE, so the
service fails closed (nothing is recorded or traded without the shared store).
"""

from __future__ import annotations

import grpc
import redis.exceptions


class SignalError(Exception):
    """Base of the errors signal raises on purpose; `status_of` gives the gRPC status."""


class InvalidArgument(SignalError):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(SignalError):
    pass


class PermissionDenied(SignalError):
    pass


class FailedPrecondition(SignalError):
    pass


class OutOfRange(SignalError):
    pass


_STATUS: dict[type[BaseException], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    redis.exceptions.ConnectionError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.TimeoutError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.BusyLoadingError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.ReadOnlyError: grpc.StatusCode.UNAVAILABLE,
    redis.exceptions.RedisError: grpc.StatusCode.INTERNAL,
    # redis-py lets a socket timeout or a refused connection surface as these on some paths
    # (TimeoutError is an OSError).
    OSError: grpc.StatusCode.UNAVAILABLE,
}

STORE_FAILURES = (redis.exceptions.RedisError, OSError)


def status_of(error: BaseException) -> grpc.StatusCode | None:
    """The gRPC status for a signal or Redis error (most specific class wins); None otherwise."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return None


def describe(error: BaseException) -> str:
    if isinstance(error, SignalError):
        return str(error)
    if status_of(error) is grpc.StatusCode.UNAVAILABLE:
        return f"signal store unavailable: {type(error).__name__}: {error}"
    return f"signal store error: {type(error).__name__}: {error}"
