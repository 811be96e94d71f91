"""A running service authenticates every call and authorizes it by group (design decision 5)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def risk(keys: Keys, log_dir: Path, redis_server: RedisServer) -> Iterator[RunningService]:
    with running_service(
        "services.risk", keys, log_dir, {"REDIS_URL": redis_server.url}
    ) as service:
        yield service


def call_get_limits(target: str, metadata: tuple[tuple[str, str], ...]) -> grpc.RpcError:
    with grpc.insecure_channel(target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.GetLimits(risk_pb2.GetLimitsRequest(), metadata=metadata, timeout=5)
    return failed.value


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def test_no_token_is_unauthenticated(risk: RunningService) -> None:
    error = call_get_limits(risk.target, ())
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED


def test_expired_token_is_unauthenticated(risk: RunningService, keys: Keys) -> None:
    token = keys.issuer(lifetime=5).mint("desk-a", ["traders"], now=time.time() - 60)
    error = call_get_limits(risk.target, bearer(token))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "expired" in (error.details() or "")


def test_untrusted_issuer_is_unauthenticated(risk: RunningService, keys: Keys) -> None:
    token = keys.issuer("rogue").mint("desk-a", ["traders"])
    error = call_get_limits(risk.target, bearer(token))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED


def test_not_a_bearer_token_is_unauthenticated(risk: RunningService) -> None:
    error = call_get_limits(risk.target, (("authorization", "Basic dXNlcjpwYXNz"),))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED


def test_valid_token_without_the_group_is_permission_denied(
    risk: RunningService, keys: Keys
) -> None:
    token = keys.issuer().mint("lab-1", ["researchers"])
    error = call_get_limits(risk.target, bearer(token))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "lab-1" in (error.details() or "")


def test_the_right_group_passes(risk: RunningService, keys: Keys) -> None:
    token = keys.issuer().mint("desk-a", ["traders"])
    with grpc.insecure_channel(risk.target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        reply = stub.GetLimits(risk_pb2.GetLimitsRequest(), metadata=bearer(token), timeout=5)
    assert reply.limits.allowed_pairs


def test_risk_officer_only_rpc_refuses_a_trader(risk: RunningService, keys: Keys) -> None:
    token = keys.issuer().mint("desk-a", ["traders"])
    with grpc.insecure_channel(risk.target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.SetKillSwitch(risk_pb2.SetKillSwitchRequest(), metadata=bearer(token), timeout=5)
    assert failed.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_request_id_is_kept_and_logged(risk: RunningService, keys: Keys) -> None:
    token = keys.issuer().mint("desk-a", ["traders"])
    metadata = (*bearer(token), ("x-request-id", "rid-from-kong-123"))
    with grpc.insecure_channel(risk.target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        _, call = stub.GetLimits.with_call(
            risk_pb2.GetLimitsRequest(), metadata=metadata, timeout=5
        )
    trailing = dict(call.trailing_metadata() or ())
    assert trailing.get("x-request-id") == "rid-from-kong-123"
    deadline = time.monotonic() + 5
    while "rid-from-kong-123" not in request_ids(risk.log()):
        assert time.monotonic() < deadline, risk.log()
        time.sleep(0.05)


def request_ids(log: str) -> list[str | None]:
    return [json.loads(line).get("request_id") for line in log.splitlines()]
