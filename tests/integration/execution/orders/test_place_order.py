"""PlaceOrder end to end: execution → real risk → paper exchange, with Redis as the record."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest

from tests.integration.execution.orders.conftest import Trader, limit_order
from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys
from tests.support.services import RunningService
from tradectl.main import main as tradectl_main
from trading.common.v1 import common_pb2

pytestmark = pytest.mark.integration


def test_limit_order_reaches_the_exchange_with_its_cl_ord_id(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())

    reply = trader.place(client_order_id=order_id, pair="XBTUSD")

    assert reply.order.status == common_pb2.ORDER_STATUS_OPEN
    assert reply.order.pair == "BTC/USD"
    assert reply.order.txid
    assert reply.order.reservation_id
    at_exchange = paper.orders(cl_ord_id=order_id)
    assert at_exchange["count"] == 1
    assert at_exchange["orders"][0]["txid"] == reply.order.txid
    assert trader.get(order_id).txid == reply.order.txid


def test_repeated_place_order_sends_one_order(trader: Trader, paper: PaperExchange) -> None:
    order_id = str(uuid.uuid4())

    first = trader.place(client_order_id=order_id)
    second = trader.place(client_order_id=order_id.upper(), pair="XXBTZUSD", volume="0.0100")

    assert not first.replayed
    assert second.replayed
    assert second.order.txid == first.order.txid
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


def test_same_id_with_other_parameters_is_already_exists(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())
    trader.place(client_order_id=order_id)

    with pytest.raises(grpc.RpcError) as failed:
        trader.place(client_order_id=order_id, volume="0.02")

    assert failed.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"volume": "0"}, "volume"),
        ({"volume": "-1"}, "volume"),
        ({"volume": "NaN"}, "volume"),
        ({"volume": "1e-3"}, "volume"),
        ({"volume": "0.000000001"}, "volume"),
        ({"volume": "0.00001"}, "volume"),
        ({"pair": "DOGE/XYZ"}, "pair"),
        ({"limit_price": ""}, "limit_price"),
        ({"limit_price": "64000.05"}, "limit_price"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "order-1"}, "client_order_id"),
        ({"side": common_pb2.SIDE_UNSPECIFIED}, "side"),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field_and_nothing_is_sent(
    trader: Trader, paper: PaperExchange, fields: dict[str, object], field: str
) -> None:
    before = paper.orders()["count"]

    with pytest.raises(grpc.RpcError) as failed:
        trader.place(**fields)

    assert failed.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert (failed.value.details() or "").startswith(f"{field}:")
    assert paper.orders()["count"] == before


def test_order_refused_by_risk_is_rejected_with_violations(
    trader: Trader, paper: PaperExchange
) -> None:
    order_id = str(uuid.uuid4())

    reply = trader.place(client_order_id=order_id, volume="6")  # BTC/USD max_order_volume is 5

    assert reply.order.status == common_pb2.ORDER_STATUS_REJECTED
    assert reply.order.violations
    assert paper.orders(cl_ord_id=order_id)["count"] == 0


def test_dry_run_validates_without_placing(trader: Trader, paper: PaperExchange) -> None:
    order_id = str(uuid.uuid4())

    reply = trader.place(client_order_id=order_id, validate=True)

    assert reply.order.status == common_pb2.ORDER_STATUS_VALIDATED
    assert not reply.order.txid
    assert paper.orders(cl_ord_id=order_id)["count"] == 0


def test_tradectl_place_then_order(
    execution: RunningService,
    platform_keys: PlatformKeys,
    paper: PaperExchange,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TRADECTL_EXECUTION_TARGET", execution.target)
    order_id = str(uuid.uuid4())
    base = [
        "--json",
        "--key-file",
        str(platform_keys.keys.folder / "local.pem"),
        "--user",
        "desk-a",
    ]

    placed = tradectl_main(
        [*base, "place", "buy", "0.01", "BTC/USD", "--price", "64000", "--id", order_id]
    )
    shown = tradectl_main([*base, "order", order_id])

    assert placed == 0
    assert shown == 0
    output = capsys.readouterr().out
    assert output.count('"status": "OPEN"') == 2
    assert paper.orders(cl_ord_id=order_id)["count"] == 1


def test_a_placed_order_is_logged_by_its_events_with_the_request_id(
    trader: Trader, execution: RunningService
) -> None:
    request_id = f"log-{uuid.uuid4().hex}"
    request = limit_order()

    trader.stub.PlaceOrder(
        request,
        metadata=(*trader.metadata(), ("x-request-id", request_id)),
        timeout=15,
    )

    deadline = time.monotonic() + 5
    while True:
        lines = [
            json.loads(line)
            for line in execution.log().splitlines()
            if line.startswith("{") and request_id in line
        ]
        events = [line["event"] for line in lines if line["msg"] == "order event"]
        if len(events) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert events == ["ORDER_EVENT_TYPE_CREATED", "ORDER_EVENT_TYPE_OPENED"]
    assert all(
        line["client_order_id"] == request.client_order_id for line in lines if "event" in line
    )
    # The call's own success line adds nothing to its events: it is not at INFO.
    assert [line for line in lines if line["msg"] == "rpc"] == []
