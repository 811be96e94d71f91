"""Every signal error and every Redis error maps to a gRPC status; Redis down is UNAVAILABLE."""

from __future__ import annotations

import grpc
import pytest
import redis.exceptions

from services.signal.signals import errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("pair", "bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.PermissionDenied("no"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.FailedPrecondition("in use"), grpc.StatusCode.FAILED_PRECONDITION),
        (errors.OutOfRange("trimmed"), grpc.StatusCode.OUT_OF_RANGE),
        (redis.exceptions.ConnectionError("refused"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.TimeoutError("slow"), grpc.StatusCode.UNAVAILABLE),
        (ConnectionRefusedError("refused"), grpc.StatusCode.UNAVAILABLE),
        (TimeoutError("slow"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.ResponseError("script"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_of(error: Exception, code: grpc.StatusCode) -> None:
    assert errors.status_of(error) is code


def test_every_signal_error_class_is_mapped() -> None:
    for cls in errors.SignalError.__subclasses__():
        error = cls("field", "x") if cls is errors.InvalidArgument else cls("x")
        assert errors.status_of(error) is not None


def test_unavailable_store_is_described_as_such() -> None:
    text = errors.describe(redis.exceptions.ConnectionError("refused"))
    assert text == "signal store unavailable: ConnectionError: refused"
