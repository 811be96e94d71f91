"""Every risk error and every Redis error maps to a gRPC status; Redis down is UNAVAILABLE."""

from __future__ import annotations

import grpc
import pytest
import redis.exceptions

from services.risk import errors


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidArgument("order.volume", "bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.VersionConflict("stale"), grpc.StatusCode.ABORTED),
        (errors.NotFound("gone"), grpc.StatusCode.NOT_FOUND),
        (errors.StoreUnavailable("down"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.ConnectionError("refused"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.TimeoutError("slow"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.BusyLoadingError("loading"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.ReadOnlyError("replica"), grpc.StatusCode.UNAVAILABLE),
        (redis.exceptions.ResponseError("script"), grpc.StatusCode.INTERNAL),
    ],
)
def test_status_of(error: Exception, code: grpc.StatusCode) -> None:
    assert errors.status_of(error) is code


def test_every_risk_error_class_is_mapped() -> None:
    for cls in errors.RiskError.__subclasses__():
        assert errors.status_of(cls("x") if cls is not errors.InvalidArgument else cls("f", "x"))


def test_invalid_argument_names_the_field_first() -> None:
    assert str(errors.InvalidArgument("order.volume", "is required")) == "order.volume: is required"
