"""Redis unreachable: risk refuses to decide (UNAVAILABLE), and recovers when Redis is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.integration.risk.conftest import Metadata, order, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, running_service
from trading.risk.v1 import risk_pb2_grpc

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.close()


def test_check_is_unavailable_while_redis_is_down(
    own_redis: RedisServer, keys: Keys, log_dir: Path, limits_file: Path, as_execution: Metadata
) -> None:
    with (
        running_service(
            "services.risk", keys, log_dir, risk_env(own_redis.url, limits_file)
        ) as risk,
        grpc.insecure_channel(risk.target) as channel,
    ):
        stub = risk_pb2_grpc.RiskServiceStub(channel)
        assert stub.CheckOrder(order(), metadata=as_execution, timeout=5).approved

        own_redis.stop()
        with pytest.raises(grpc.RpcError) as failed:
            stub.CheckOrder(order(), metadata=as_execution, timeout=5)
        assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
        assert "risk store unavailable" in (failed.value.details() or "")

        own_redis.start()
        assert stub.CheckOrder(order(), metadata=as_execution, timeout=5).approved
