"""Fail closed and never twice: risk down, Redis down and a dropped AddOrder answer."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import running_service
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration


def test_risk_unreachable_is_unavailable_and_nothing_is_sent(
    platform_keys: PlatformKeys, log_dir: Path, paper: PaperExchange
) -> None:
    redis = RedisServer()
    redis.start()
    nowhere = f"127.0.0.1:{free_port()}"
    env = execution_env(platform_keys, paper, redis.url, nowhere)
    order_id = str(uuid.uuid4())
    try:
        with running_service("services.execution", platform_keys.keys, log_dir, env) as service:
            client = Trader(platform_keys, service.target)
            with pytest.raises(grpc.RpcError) as failed:
                client.place(client_order_id=order_id)
            client.channel.close()
    finally:
        redis.close()

    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
    assert paper.orders(cl_ord_id=order_id)["count"] == 0


def test_redis_down_is_unavailable_and_nothing_is_sent(
    trader: Trader, paper: PaperExchange, execution_redis: RedisServer
) -> None:
    order_id = str(uuid.uuid4())
    execution_redis.stop()
    try:
        with pytest.raises(grpc.RpcError) as failed:
            trader.place(client_order_id=order_id)
    finally:
        execution_redis.start()

    assert failed.value.code() is grpc.StatusCode.UNAVAILABLE
    assert paper.orders(cl_ord_id=order_id)["count"] == 0
    # The id was never used: a retry once Redis is back places the order.
    assert trader.place(client_order_id=order_id).order.status == common_pb2.ORDER_STATUS_OPEN


def wait_for_status(trader: Trader, order_id: str, timeout: float = 15) -> common_pb2.Order:
    deadline = time.monotonic() + timeout
    while True:
        order = trader.get(order_id)
        if order.status != common_pb2.ORDER_STATUS_UNKNOWN or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


def test_dropped_answer_leaves_order_unknown_then_reconciled_and_never_sent_twice(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())
    paper.add_fault("drop_after_accept", endpoints=["AddOrder"], count=1)

    first = trader.place(client_order_id=order_id)
    retry = trader.place(client_order_id=order_id)

    assert first.order.status == common_pb2.ORDER_STATUS_UNKNOWN
    assert retry.replayed
    reconciled = wait_for_status(trader, order_id)
    assert reconciled.status == common_pb2.ORDER_STATUS_OPEN
    at_exchange = paper.orders(cl_ord_id=order_id)
    assert at_exchange["count"] == 1
    assert reconciled.txid == at_exchange["orders"][0]["txid"]
    assert trader.place(client_order_id=order_id).replayed
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


def test_dropped_market_order_is_reconciled_to_filled(trader: Trader, paper: PaperExchange) -> None:
    order_id = str(uuid.uuid4())
    paper.add_fault("drop_after_accept", endpoints=["AddOrder"], count=1)

    first = trader.place(
        client_order_id=order_id, order_type=common_pb2.ORDER_TYPE_MARKET, limit_price=""
    )
    reply = trader.stub.ReconcileOrder(
        execution_pb2.ReconcileOrderRequest(client_order_id=order_id),
        metadata=trader.metadata(),
        timeout=10,
    )

    assert first.order.status == common_pb2.ORDER_STATUS_UNKNOWN
    assert reply.order.status == common_pb2.ORDER_STATUS_FILLED
    assert reply.order.filled_volume == "0.01"
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


def test_cancel_by_client_order_id(trader: Trader, paper: PaperExchange) -> None:
    order_id = str(uuid.uuid4())
    trader.place(client_order_id=order_id)

    reply = trader.stub.CancelOrder(
        execution_pb2.CancelOrderRequest(client_order_id=order_id),
        metadata=trader.metadata(),
        timeout=10,
    )

    assert reply.order.status == common_pb2.ORDER_STATUS_CANCELED
    assert paper.orders(cl_ord_id=order_id)["orders"][0]["status"] == "canceled"
