"""Every AddOrder carries a deadline inside half the reconcile grace, so a request that reaches
the exchange too late is refused there instead of becoming an order recorded as not found.

A separate execution process with a 10 s grace (the shared one runs with 3 s, which is too
short for a deadline Kraken accepts): its AddOrder deadline is 4 s after sending.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.integration.execution.orders.conftest import Trader, execution_fixture
from tests.support.paper_exchange import PaperExchange
from trading.common.v1 import common_pb2

pytestmark = pytest.mark.integration


execution = execution_fixture({"EXECUTION_RECONCILE_GRACE": "10", "KRAKEN_HTTP_TIMEOUT": "8"})


def test_an_order_in_time_is_accepted_with_its_deadline(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())

    reply = trader.place(client_order_id=order_id)

    assert reply.order.status == common_pb2.ORDER_STATUS_OPEN
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


def test_an_add_order_that_arrives_after_its_deadline_is_refused_by_the_exchange(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())
    paper.add_fault("latency", endpoints=["AddOrder"], seconds="5.0", count=1)

    started = time.monotonic()
    reply = trader.place(client_order_id=order_id)

    assert time.monotonic() - started >= 5.0
    # Kraken's "Deadline elapsed" is an unknown outcome: reconciliation settles it.
    assert reply.order.status == common_pb2.ORDER_STATUS_UNKNOWN
    assert "EService:Deadline elapsed" in reply.order.status_reason
    assert paper.orders(cl_ord_id=order_id)["count"] == 0
