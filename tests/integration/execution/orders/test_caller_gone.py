"""A caller that gives up mid-PlaceOrder does not cut the order off half-way.

The AddOrder is slowed at the paper exchange; the caller's deadline passes while it is in flight.
The order must still reach the exchange once and be recorded with Kraken's answer, so that a
retry with the same id returns it instead of leaving it PENDING.
"""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader, limit_order
from tests.support.paper_exchange import PaperExchange
from trading.common.v1 import common_pb2


def test_order_completes_after_the_caller_hangs_up(trader: Trader, paper: PaperExchange) -> None:
    order_id = str(uuid.uuid4())
    paper.add_fault("latency", endpoints=["AddOrder"], seconds="1.0", count=1)

    with pytest.raises(grpc.RpcError) as caught:
        trader.stub.PlaceOrder(
            limit_order(client_order_id=order_id), metadata=trader.metadata(), timeout=0.3
        )
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    deadline = time.monotonic() + 10
    while trader.get(order_id).status == common_pb2.ORDER_STATUS_PENDING:
        assert time.monotonic() < deadline, "the order stayed PENDING"
        time.sleep(0.1)
    assert trader.get(order_id).status == common_pb2.ORDER_STATUS_OPEN
    assert paper.orders(cl_ord_id=order_id)["count"] == 1
    replay = trader.place(client_order_id=order_id)
    assert replay.replayed
    assert paper.orders(cl_ord_id=order_id)["count"] == 1
