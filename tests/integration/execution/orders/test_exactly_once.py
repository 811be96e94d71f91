"""Exactly once: 500 PlaceOrder calls, some of whose AddOrder answers the exchange drops after
executing them, each retried by its client until answered, leave exactly 500 orders at the
exchange, and every record ends in a definite state once reconciled.

The exchange and execution run at the ``pro`` tier, and the orders are spread over the three
USD pairs, so the 500 AddOrders fit the trading counters (180 per pair) without waiting.
A dropped answer of a call the exchange refused leaves an order that is rightly not there and
ends REJECTED ("not found at Kraken"); the nonce window is wide so that no call is refused.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from tests.integration.execution.orders.conftest import (
    Trader,
    execution_fixture,
    price_near,
    wait_until,
)
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys
from tests.support.services import RunningService
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

pytestmark = pytest.mark.integration

ORDERS = 500
CLIENTS = 16
DROP_EVERY = 20
PAIRS = {"BTC/USD": "0.001", "ETH/USD": "0.01", "SOL/USD": "0.1"}
TEAMS = [f"bulk-{n}" for n in range(5)]
# Answers that mean "not decided, ask again with the same id".
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    # A 10 s nonce window: 16 concurrent calls in window mode arrive out of nonce order, and a
    # call refused for its nonce whose answer is then dropped is (rightly) never at the
    # exchange; with no refusals every dropped answer belongs to an executed order.
    with PaperExchange(nonce_window=10_000_000_000, tier="pro") as exchange:
        yield exchange


execution = execution_fixture({"KRAKEN_TIER": "pro"})


def place_until_answered(
    trader: Trader, request: execution_pb2.PlaceOrderRequest
) -> execution_pb2.PlaceOrderResponse:
    for attempt in itertools.count():
        try:
            reply: execution_pb2.PlaceOrderResponse = trader.stub.PlaceOrder(
                request, metadata=trader.metadata(), timeout=15
            )
            return reply
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or attempt > 50:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def test_500_orders_with_dropped_answers_reach_the_exchange_exactly_once(
    platform_keys: PlatformKeys, execution: RunningService, paper: PaperExchange
) -> None:
    prices = {pair: price_near(paper, pair, "0.97") for pair in PAIRS}
    traders = [Trader(platform_keys, execution.target, team=team) for team in TEAMS]
    pairs = list(PAIRS)
    requests = [
        (
            traders[n % len(traders)],
            execution_pb2.PlaceOrderRequest(
                client_order_id=str(uuid.uuid4()),
                pair=pairs[n % len(pairs)],
                side=common_pb2.SIDE_BUY,
                order_type=common_pb2.ORDER_TYPE_LIMIT,
                volume=PAIRS[pairs[n % len(pairs)]],
                limit_price=prices[pairs[n % len(pairs)]],
            ),
        )
        for n in range(ORDERS)
    ]
    counter = itertools.count()
    lock = threading.Lock()

    def place(job: tuple[Trader, execution_pb2.PlaceOrderRequest]) -> common_pb2.Order:
        with lock:
            number = next(counter)
        if number % DROP_EVERY == 0:
            paper.add_fault("drop_after_accept", endpoints=["AddOrder"], count=1)
        return place_until_answered(*job).order

    with ThreadPoolExecutor(CLIENTS) as pool:
        first_answers = list(pool.map(place, requests))
    unknown = [
        o.client_order_id for o in first_answers if o.status == common_pb2.ORDER_STATUS_UNKNOWN
    ]

    owner = {request.client_order_id: trader for trader, request in requests}

    def settled() -> bool:
        return all(owner[i].get(i).status != common_pb2.ORDER_STATUS_UNKNOWN for i in unknown)

    wait_until(settled, within=60, what="reconciliation of the UNKNOWN orders")
    with ThreadPoolExecutor(CLIENTS) as pool:
        replays = list(pool.map(lambda job: place_until_answered(*job), requests))
    at_exchange = paper.orders()["orders"]
    final = {
        o.client_order_id: o
        for trader in traders
        for o in trader.stub.ListOrders(
            execution_pb2.ListOrdersRequest(page=common_pb2.PageRequest(page_size=500)),
            metadata=trader.metadata(),
            timeout=10,
        ).orders
    }
    for trader in traders:
        trader.channel.close()

    ids = [r.client_order_id for _, r in requests]
    stats = paper.stats()
    assert stats["faults"].get("drop_after_accept") == ORDERS // DROP_EVERY
    assert not stats["errors"]
    assert len(unknown) == ORDERS // DROP_EVERY
    assert {o.status for o in first_answers} == {
        common_pb2.ORDER_STATUS_OPEN,
        common_pb2.ORDER_STATUS_UNKNOWN,
    }
    assert sorted(o["cl_ord_id"] for o in at_exchange) == sorted(ids)
    assert len(at_exchange) == ORDERS
    assert all(r.replayed for r in replays)
    assert sorted(final) == sorted(ids)
    txids = {o["cl_ord_id"]: o["txid"] for o in at_exchange}
    assert {o.status for o in final.values()} == {common_pb2.ORDER_STATUS_OPEN}
    assert all(final[i].txid == txids[i] for i in ids)
