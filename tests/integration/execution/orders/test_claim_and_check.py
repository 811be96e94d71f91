"""The claim and the risk check run at once: what that must never break.

PlaceOrder claims the client_order_id and asks risk in parallel. These tests drive the cases
where the two answers disagree, with real risk, execution, Redis and paper exchange processes:
a replay whose check reserves afresh, two different orders racing for one id, and a placement
that dies after its claim.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import grpc
import pytest
import redis

from services.execution.orders.model import STAGE_SENDING
from services.execution.orders.store import ATTENTION_INDEX, ORDERS_INDEX, order_key
from tests.integration.execution.orders.conftest import Trader, order_record, wait_until
from tests.support.paper_exchange import PaperExchange
from tests.support.redis_server import RedisServer
from trading.common.v1 import common_pb2

pytestmark = pytest.mark.integration

TEAM_KILL_SWITCH = "risk:kill:team:desk-a"

Outcome = common_pb2.Order | grpc.StatusCode


@pytest.fixture
def risk_store(risk_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(risk_redis.url, decode_responses=True)
    yield client
    client.close()


def reservation(risk_store: redis.Redis, order_id: str) -> dict[str, str]:
    return risk_store.hgetall(f"risk:reservation:order:{order_id}")  # type: ignore[return-value]


def test_a_replay_of_a_refused_order_gives_back_what_its_check_reserved(
    trader: Trader, paper: PaperExchange, risk_store: redis.Redis
) -> None:
    order_id = str(uuid.uuid4())
    risk_store.hset(TEAM_KILL_SWITCH, "engaged", "1")
    try:
        refused = trader.place(client_order_id=order_id)
    finally:
        risk_store.hset(TEAM_KILL_SWITCH, "engaged", "0")

    # Risk would approve it now, and its check reserves; but the id is taken by the refusal.
    replay = trader.place(client_order_id=order_id)

    assert refused.order.status == common_pb2.ORDER_STATUS_REJECTED
    assert [v.code for v in refused.order.violations] == ["KILL_SWITCH"]
    assert not refused.order.reservation_id
    assert replay.replayed
    assert replay.order.status == common_pb2.ORDER_STATUS_REJECTED
    given_back = reservation(risk_store, order_id)
    assert (given_back["state"], given_back["outcome"]) == ("closed", "NOT_SENT")
    assert paper.orders(cl_ord_id=order_id)["count"] == 0


def race(trader: Trader, order_id: str, volumes: tuple[str, ...]) -> dict[str, Outcome]:
    """Place one order per volume, all with ``order_id``, released at the same instant."""
    outcomes: dict[str, Outcome] = {}
    start = threading.Barrier(len(volumes))

    def place(volume: str) -> None:
        start.wait()
        try:
            outcomes[volume] = trader.place(client_order_id=order_id, volume=volume).order
        except grpc.RpcError as exc:
            outcomes[volume] = exc.code()

    threads = [threading.Thread(target=place, args=(v,)) for v in volumes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return outcomes


def test_two_different_orders_racing_for_one_id_never_both_go_out(
    trader: Trader, paper: PaperExchange, risk_store: redis.Redis
) -> None:
    for _ in range(6):
        order_id = str(uuid.uuid4())
        outcomes = race(trader, order_id, ("0.01", "0.02"))

        refused = [v for v, o in outcomes.items() if o is grpc.StatusCode.ALREADY_EXISTS]
        answered = [(v, o) for v, o in outcomes.items() if isinstance(o, common_pb2.Order)]
        assert len(refused) == 1, outcomes
        assert len(answered) == 1, outcomes
        volume, order = answered[0]
        at_exchange = paper.orders(cl_ord_id=order_id)
        if order.status == common_pb2.ORDER_STATUS_OPEN:
            # It went out, with its own reservation: the other order's check borrowed nothing.
            assert at_exchange["count"] == 1
            assert Decimal(at_exchange["orders"][0]["vol"]) == Decimal(volume)
            assert f"|{volume}|" in reservation(risk_store, order_id)["fingerprint"]
        else:
            # The other order's check reserved the id first: this one was refused, none went out.
            assert order.status == common_pb2.ORDER_STATUS_REJECTED, order
            assert [v.code for v in order.violations] == ["CLIENT_ORDER_ID_REUSED"]
            assert at_exchange["count"] == 0


def test_an_order_whose_placement_died_after_its_claim_is_looked_up_and_never_freed(
    trader: Trader, paper: PaperExchange, execution_redis: RedisServer
) -> None:
    # The claim records the order as possibly sent: placement may have died after the POST.
    # After the grace (3 s here) reconciliation asks Kraken by cl_ord_id; not found, the order
    # is REJECTED and its id stays used. Risk never reserved for it: the report of that outcome
    # is answered NOT_FOUND, which ends the reporting instead of repeating it every pass.
    order_id = str(uuid.uuid4())
    claimed_ms = int(time.time() * 1000) - 1000
    record = order_record(
        client_order_id=order_id,
        limit_price="64000",
        stage=STAGE_SENDING,
        reservation_id=f"order:{order_id}",
        created_ms=claimed_ms,
        updated_ms=claimed_ms,
        version=1,
    )
    store = redis.Redis.from_url(execution_redis.url, decode_responses=True)
    try:
        store.set(order_key(order_id), record.to_json())
        store.zadd(ORDERS_INDEX, {order_id: claimed_ms})
        store.zadd(ATTENTION_INDEX, {order_id: claimed_ms})
        within_grace = trader.get(order_id)

        wait_until(
            lambda: trader.get(order_id).status == common_pb2.ORDER_STATUS_REJECTED,
            within=15,
            what="the dead placement to be reconciled",
        )
        wait_until(
            lambda: store.zscore(ATTENTION_INDEX, order_id) is None,
            within=10,
            what="the order to leave the attention index",
        )
        settled = trader.get(order_id)
        # The id stays used: had it been freed, this would place an order.
        with pytest.raises(grpc.RpcError) as again:
            trader.place(client_order_id=order_id)
    finally:
        store.close()

    assert within_grace.status == common_pb2.ORDER_STATUS_PENDING
    assert settled.status_reason == "not found at Kraken"
    assert again.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert paper.orders(cl_ord_id=order_id)["count"] == 0
