"""Injected faults through the real process, as a client of Kraken would meet them."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.support.paper_exchange import PaperExchange


def test_accept_then_drop_executes_the_order_but_sends_no_response(paper: PaperExchange) -> None:
    paper.set_price("XBTUSD", "60000.0")
    paper.add_fault("drop_after_accept", count=1, endpoints=["AddOrder"])
    cl_ord_id = str(uuid.uuid4())

    with pytest.raises(httpx.RemoteProtocolError):
        paper.private(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": "50000.0",
                "cl_ord_id": cl_ord_id,
            },
        )

    assert paper.orders(cl_ord_id=cl_ord_id)["count"] == 1
    reconciled = paper.private("OpenOrders", {"cl_ord_id": cl_ord_id})["result"]["open"]
    assert [order["cl_ord_id"] for order in reconciled.values()] == [cl_ord_id]
    assert paper.stats()["faults"]["drop_after_accept"] == 1


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("service_unavailable", "EService:Unavailable"),
        ("service_busy", "EService:Busy"),
        ("rate_limit_storm", "EOrder:Rate limit exceeded"),
    ],
)
def test_service_faults_refuse_without_executing(
    paper: PaperExchange, kind: str, expected: str
) -> None:
    paper.add_fault(kind, count=2, endpoints=["AddOrder"])
    count = paper.orders()["count"]
    order = {
        "pair": "XBTUSD",
        "type": "buy",
        "ordertype": "limit",
        "volume": "0.01",
        "price": "50000.0",
    }

    errors = [paper.private("AddOrder", order)["error"] for _ in range(3)]

    assert errors == [[expected], [expected], []]
    assert paper.orders()["count"] == count + 1


def test_rate_limit_storm_on_a_rest_endpoint_uses_the_rest_error(paper: PaperExchange) -> None:
    paper.add_fault("rate_limit_storm", count=None, endpoints=["Balance"])

    assert paper.private("Balance")["error"] == ["EAPI:Rate limit exceeded"]
    assert paper.private("Balance")["error"] == ["EAPI:Rate limit exceeded"]
    paper.clear_faults()
    assert paper.private("Balance")["error"] == []


def test_http_5xx_fault(paper: PaperExchange) -> None:
    paper.add_fault("http_5xx", status=502, endpoints=["Ticker"])

    first = paper.http.get("/0/public/Ticker", params={"pair": "XBTUSD"})
    second = paper.http.get("/0/public/Ticker", params={"pair": "XBTUSD"})

    assert first.status_code == 502
    assert second.status_code == 200


def test_latency_fault_delays_the_answer(paper: PaperExchange) -> None:
    paper.add_fault("latency", seconds=0.5, endpoints=["Time"])

    started = time.monotonic()
    paper.public("Time")

    assert time.monotonic() - started >= 0.5


def test_custom_error_fault(paper: PaperExchange) -> None:
    paper.add_fault("error", error="EGeneral:Internal error", endpoints=["OpenOrders"])

    assert paper.private("OpenOrders")["error"] == ["EGeneral:Internal error"]


def test_a_bad_fault_is_refused(paper: PaperExchange) -> None:
    response = paper.http.post("/_paper/faults", json={"kind": "meteor"})

    assert response.status_code == 400


def test_faults_endpoint_is_absent_when_disabled() -> None:
    with PaperExchange(extra_env={"PAPER_FAULTS_ENABLED": "false"}) as paper:
        response = paper.http.post("/_paper/faults", json={"kind": "service_busy"})

    assert response.status_code in (404, 405)
