"""The Kraken key pair never shows in execution's output or in an error a caller receives.

A real execution process logs at DEBUG while it places, refuses, loses and cancels orders and
reads balances; its whole stdout and stderr, and every error detail sent back, are searched for
the key and the secret (and for the first 16 characters of each, in case one is cut short).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader, price_near
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration


def test_secrets_never_in_logs_or_errors(
    platform_keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    execution_redis: RedisServer,
    risk: RunningService,
) -> None:
    env = execution_env(
        platform_keys,
        paper,
        execution_redis.url,
        risk.target,
        {"LOG_LEVEL": "DEBUG", "EXECUTION_DEAD_MANS_SWITCH_SECONDS": "30"},
    )
    details: list[str] = []
    below = price_near(paper, "BTC/USD", "0.97")
    with running_service("services.execution", platform_keys.keys, log_dir, env) as service:
        trader = Trader(platform_keys, service.target, team="secret-keeper")

        def attempt(call: str, request: object) -> None:
            try:
                getattr(trader.stub, call)(request, metadata=trader.metadata(), timeout=15)
            except grpc.RpcError as exc:
                details.append(exc.details() or "")

        placed = trader.place(limit_price=below)
        attempt(
            "CancelOrder",
            execution_pb2.CancelOrderRequest(client_order_id=placed.order.client_order_id),
        )
        attempt("PlaceOrder", execution_pb2.PlaceOrderRequest(client_order_id="not-a-uuid"))
        trader.place(volume="6", limit_price=below)  # refused by risk
        paper.add_fault("drop_after_accept", endpoints=["AddOrder"], count=1)
        trader.place(limit_price=below)  # outcome unknown
        paper.add_fault("error", endpoints=["AddOrder"], error="EAPI:Invalid key", count=1)
        attempt(
            "PlaceOrder",
            execution_pb2.PlaceOrderRequest(
                client_order_id=str(uuid.uuid4()),
                pair="BTC/USD",
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                volume="0.01",
                limit_price=below,
            ),
        )
        attempt("GetBalances", execution_pb2.GetBalancesRequest())
        trader.channel.close()
        service.process.terminate()
        service.process.wait(timeout=30)
        output = service.log()

    assert "order event" in output  # the log really covers the calls above
    assert "dead man's switch disarmed" in output
    assert details  # and some errors went back to the caller
    for secret in (paper.api_key, paper.api_secret):
        for text in (output, *details):
            assert secret not in text
            assert secret[:16] not in text
