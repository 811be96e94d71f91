"""Kill switch engaged: execution cancels the working orders in scope, nothing new goes out.

Real processes: the paper exchange, one Redis shared by risk and execution (as in production:
execution follows risk's audit stream there), one risk and two execution replicas, so the sweep
also has to be done once, not once per replica.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
import redis

from tests.integration.execution.orders.conftest import Trader, price_near, wait_until
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.common.v1 import common_pb2
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

pytestmark = pytest.mark.integration

Metadata = tuple[tuple[str, str], ...]


# Execution's replicas share risk's Redis, as in compose: they follow its audit stream.
@pytest.fixture(scope="module")
def replicas(
    platform_keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    risk_redis: RedisServer,
    risk: RunningService,
) -> Iterator[list[RunningService]]:
    env = execution_env(
        platform_keys,
        paper,
        risk_redis.url,
        risk.target,
        {"KRAKEN_TIER": "intermediate"},
    )
    with (
        running_service("services.execution", platform_keys.keys, log_dir, env) as first,
        running_service("services.execution", platform_keys.keys, log_dir, env) as second,
    ):
        yield [first, second]


@dataclass
class Desk:
    """A trading team on one replica, and the other replica for a second caller."""

    a: Trader
    b: Trader
    risk: risk_pb2_grpc.RiskServiceStub
    officer: Metadata
    redis: redis.Redis


@pytest.fixture
def desk(
    platform_keys: PlatformKeys,
    replicas: list[RunningService],
    risk: RunningService,
    risk_redis: RedisServer,
) -> Iterator[Desk]:
    a = Trader(platform_keys, replicas[0].target, team="desk-a")
    b = Trader(platform_keys, replicas[1].target, team="desk-b")
    channel = grpc.insecure_channel(risk.target)
    token = platform_keys.keys.issuer().mint("officer-1", ["risk-officers"])
    client = redis.Redis.from_url(risk_redis.url, decode_responses=True)
    yield Desk(
        a,
        b,
        risk_pb2_grpc.RiskServiceStub(channel),
        (("authorization", f"Bearer {token}"),),
        client,
    )
    client.close()
    channel.close()
    a.channel.close()
    b.channel.close()


def set_switch(desk: Desk, engaged: bool, team: str = "", request_id: str = "") -> None:
    scope = risk_pb2.KILL_SWITCH_SCOPE_TEAM if team else risk_pb2.KILL_SWITCH_SCOPE_GLOBAL
    metadata = desk.officer + ((("x-request-id", request_id),) if request_id else ())
    desk.risk.SetKillSwitch(
        risk_pb2.SetKillSwitchRequest(scope=scope, team=team, engaged=engaged, reason="test halt"),
        metadata=metadata,
        timeout=5,
    )


def paper_status(paper: PaperExchange, order_id: str) -> str:
    orders: list[dict[str, Any]] = paper.orders(cl_ord_id=order_id)["orders"]
    return str(orders[0]["status"]) if orders else "absent"


def btc_position(desk: Desk) -> Decimal:
    reply = desk.risk.GetExposure(
        risk_pb2.GetExposureRequest(assets=["BTC"]), metadata=desk.officer, timeout=5
    )
    return sum((Decimal(a.position) for a in reply.assets if a.asset == "BTC"), Decimal(0))


def journal_entries(desk: Desk, kind: str) -> list[dict[str, str]]:
    # The client decodes responses, which redis-py's types cannot express.
    entries = cast("list[tuple[str, dict[str, str]]]", desk.redis.xrange("execution:journal"))
    return [fields for _, fields in entries if fields["type"] == kind]


def test_engage_mid_flow_cancels_orders_in_scope_and_nothing_new_goes_out(
    desk: Desk, paper: PaperExchange
) -> None:
    below, above = price_near(paper, "BTC/USD", "0.97"), price_near(paper, "BTC/USD", "1.03")
    # A position to reduce, so a reduce-only sell can pass the switch.
    bought = desk.a.place(order_type=common_pb2.ORDER_TYPE_MARKET, limit_price="", volume="0.02")
    assert bought.order.status == common_pb2.ORDER_STATUS_OPEN
    wait_until(lambda: btc_position(desk) >= Decimal("0.02"), what="risk to see the fill")
    reducing_before = desk.a.place(
        side=common_pb2.SIDE_SELL,
        limit_price=above,
        reduce_only=True,
    )
    assert reducing_before.order.status == common_pb2.ORDER_STATUS_OPEN
    resting = [desk.a.place(limit_price=below) for _ in range(3)]
    resting.append(desk.b.place(limit_price=below))
    assert {r.order.status for r in resting} == {common_pb2.ORDER_STATUS_OPEN}

    # Orders keep coming from another thread while the switch is engaged.
    placed_after: list[tuple[str, int]] = []
    in_flight: list[str] = []
    engaged_at = [float("inf")]
    stop = threading.Event()

    def keep_placing() -> None:
        while not stop.is_set():
            order_id = str(uuid.uuid4())
            started = time.monotonic()
            in_flight.append(order_id)
            reply = desk.a.place(client_order_id=order_id, limit_price=below)
            if started > engaged_at[0]:
                placed_after.append((order_id, reply.order.status))

    placer = threading.Thread(target=keep_placing)
    placer.start()
    try:
        wait_until(lambda: len(in_flight) >= 3, what="orders in flight")
        set_switch(desk, True, request_id="halt-request-1")
        engaged_at[0] = time.monotonic()
        wait_until(lambda: len(placed_after) >= 3, what="orders placed after the engage")
    finally:
        stop.set()
        placer.join()

    try:
        reducing_after = desk.a.place(
            side=common_pb2.SIDE_SELL,
            limit_price=above,
            reduce_only=True,
        )
        in_scope = [r.order.client_order_id for r in resting] + in_flight
        reached = [i for i in in_scope if paper_status(paper, i) != "absent"]
        wait_until(
            lambda: all(paper_status(paper, i) == "canceled" for i in reached),
            what="the orders in scope to be cancelled at the exchange",
        )
        wait_until(
            lambda: all(
                desk.a.get(i).status == common_pb2.ORDER_STATUS_CANCELED
                for i in reached
                if i != resting[-1].order.client_order_id
            ),
            what="execution to record the cancels",
        )
        cancels = journal_entries(desk, "KILL_SWITCH_CANCEL")
    finally:
        set_switch(desk, False)

    assert placed_after
    for order_id, status in placed_after:
        assert status == common_pb2.ORDER_STATUS_REJECTED
        assert paper_status(paper, order_id) == "absent"
    assert reducing_after.order.status == common_pb2.ORDER_STATUS_OPEN
    assert paper_status(paper, reducing_after.order.client_order_id) == "open"
    assert paper_status(paper, reducing_before.order.client_order_id) == "open"
    assert desk.b.get(resting[-1].order.client_order_id).status == (
        common_pb2.ORDER_STATUS_CANCELED
    )
    # One sweep across both replicas: one cancel per order, under the officer's request id.
    assert sorted(c["client_order_id"] for c in cancels) == sorted(reached)
    assert {c["caller"] for c in cancels} == {"kill-switch:officer-1"}
    assert {c["request_id"] for c in cancels} == {"halt-request-1"}
    # The CANCELED events follow; the sweep's reconciliation or a replica's background pass,
    # whichever looks first, records each one.
    canceled = {c["client_order_id"] for c in journal_entries(desk, "ORDER_EVENT_TYPE_CANCELED")}
    assert set(reached) <= canceled


def test_team_switch_cancels_only_that_teams_orders(desk: Desk, paper: PaperExchange) -> None:
    below = price_near(paper, "BTC/USD", "0.97")
    mine = desk.a.place(limit_price=below)
    theirs = desk.b.place(limit_price=below)

    set_switch(desk, True, team="desk-b")
    try:
        wait_until(
            lambda: paper_status(paper, theirs.order.client_order_id) == "canceled",
            what="desk-b's order to be cancelled",
        )
        refused = desk.b.place(limit_price=below)
        allowed = desk.a.place(limit_price=below)
    finally:
        set_switch(desk, False, team="desk-b")

    assert paper_status(paper, mine.order.client_order_id) == "open"
    assert refused.order.status == common_pb2.ORDER_STATUS_REJECTED
    assert [v.code for v in refused.order.violations] == ["KILL_SWITCH"]
    assert paper_status(paper, refused.order.client_order_id) == "absent"
    assert allowed.order.status == common_pb2.ORDER_STATUS_OPEN
