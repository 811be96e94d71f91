"""Two risk replicas share one book: concurrent checks never together pass a limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import grpc.aio
import pytest

from tests.integration.risk.conftest import Metadata, order, risk_env
from tests.support.redis_server import RedisServer
from tests.support.services import Keys, RunningService, running_service
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration

CALLS = 200
VOLUME = Decimal("0.1")
# max_position BTC is 7.3 in the test limits: exactly 73 orders of 0.1 fit.
ADMITTED = 73


@pytest.fixture(scope="module")
def replicas(
    keys: Keys, log_dir: Path, limits_file: Path, redis_server: RedisServer
) -> Iterator[list[RunningService]]:
    env = risk_env(redis_server.url, limits_file)
    with ExitStack() as stack:
        yield [
            stack.enter_context(running_service("services.risk", keys, log_dir, env))
            for _ in range(2)
        ]


async def check_all(targets: list[str], metadata: Metadata) -> list[risk_pb2.CheckOrderResponse]:
    channels = [grpc.aio.insecure_channel(t) for t in targets]
    try:
        stubs = [risk_pb2_grpc.RiskServiceStub(c) for c in channels]
        requests = [order(str(VOLUME)) for _ in range(CALLS)]
        return await asyncio.gather(
            *(
                stubs[i % len(stubs)].CheckOrder(r, metadata=metadata, timeout=30)
                for i, r in enumerate(requests)
            )
        )
    finally:
        for channel in channels:
            await channel.close(grace=None)


def test_200_concurrent_checks_on_two_replicas_approve_exactly_the_limit(
    redis_url: str, replicas: list[RunningService], as_execution: Metadata
) -> None:
    replies = asyncio.run(check_all([r.target for r in replicas], as_execution))

    approved = [r for r in replies if r.approved]
    refused = [r for r in replies if not r.approved]
    assert len(approved) == ADMITTED
    assert {v.code for r in refused for v in r.violations} == {"MAX_POSITION"}
    assert len({r.reservation_id for r in approved}) == ADMITTED
    with grpc.insecure_channel(replicas[1].target) as channel:
        exposure = risk_pb2_grpc.RiskServiceStub(channel).GetExposure(
            risk_pb2.GetExposureRequest(assets=["BTC"]), metadata=as_execution, timeout=5
        )
    assert Decimal(exposure.assets[0].reserved_buy) == VOLUME * ADMITTED
