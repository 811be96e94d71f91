"""A token minted by the plugin (through the real plugin server) is accepted by a running
service, and the same token after expiry is not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest

from tests.integration.kong.conftest import PLUGIN_NAME, IssuerKeys
from tests.support.kong_pluginserver import KongSide, request_after_auth
from tests.support.services import Keys, RunningService, running_service

pytestmark = pytest.mark.integration

risk_pb2 = pytest.importorskip("trading.risk.v1.risk_pb2")
risk_pb2_grpc = pytest.importorskip("trading.risk.v1.risk_pb2_grpc")

LEEWAY = 5  # docs/identity.md


@pytest.fixture
def risk_service(
    tmp_path: Path, issuer_keys: IssuerKeys, redis_url: str
) -> Iterator[RunningService]:
    keys = Keys.create(tmp_path)
    env = {"IDENTITY_TRUSTED_KEYS": f"kong={issuer_keys.public_path}", "REDIS_URL": redis_url}
    with running_service("services.risk", keys, tmp_path, extra_env=env) as service:
        yield service


def mint(kong_side: KongSide, issuer_keys: IssuerKeys, groups: list[str], lifetime: int) -> str:
    instance = kong_side.start_instance(
        PLUGIN_NAME,
        {"private_key_path": str(issuer_keys.private_path), "lifetime_seconds": lifetime},
    )
    request = request_after_auth({}, {"id": "c-1", "username": "risk-office"}, groups=groups)
    outcome = kong_side.run_phase(instance, "access", request)
    kong_side.close_instance(instance)
    assert outcome.exit is None
    return request.upstream_header("authorization")[0].removeprefix("Bearer ")


def get_limits(target: str, token: str) -> grpc.StatusCode:
    with grpc.insecure_channel(target) as channel:
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        try:
            stub.GetLimits(
                risk_pb2.GetLimitsRequest(),
                metadata=[("authorization", f"Bearer {token}"), ("x-request-id", "rid-1")],
                timeout=5,
            )
        except grpc.RpcError as exc:
            code: grpc.StatusCode = exc.code()
            return code
    return grpc.StatusCode.OK


def test_plugin_token_is_accepted_then_refused_after_expiry(
    kong_side: KongSide, issuer_keys: IssuerKeys, risk_service: RunningService
) -> None:
    token = mint(kong_side, issuer_keys, ["risk-officers"], lifetime=1)

    fresh = get_limits(risk_service.target, token)
    expiry = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expiry + LEEWAY + 1 - time.time()))
    expired = get_limits(risk_service.target, token)

    assert fresh == grpc.StatusCode.OK
    assert expired == grpc.StatusCode.UNAUTHENTICATED


def test_service_refuses_a_group_kong_would_not_let_through(
    kong_side: KongSide, issuer_keys: IssuerKeys, risk_service: RunningService
) -> None:
    token = mint(kong_side, issuer_keys, ["researchers"], lifetime=30)

    assert get_limits(risk_service.target, token) == grpc.StatusCode.PERMISSION_DENIED
