"""Orders through the real process: fills, resting, triggers, cancels, and the ledger moving."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.support.paper_exchange import PaperExchange


def _balances(paper: PaperExchange) -> dict[str, Decimal]:
    return {asset: Decimal(value) for asset, value in paper.private("Balance")["result"].items()}


def _order(paper: PaperExchange, txid: str) -> dict[str, Any]:
    envelope = paper.private("QueryOrders", {"txid": txid, "trades": "true"})
    assert envelope["error"] == []
    order: dict[str, Any] = envelope["result"][txid]
    return order


def test_market_buy_fills_against_the_book_and_moves_balances(paper: PaperExchange) -> None:
    paper.set_price("XBTUSD", "60000.0")
    before = _balances(paper)

    placed = paper.private(
        "AddOrder",
        {"pair": "XBTUSD", "type": "buy", "ordertype": "market", "volume": "0.01"},
    )

    assert placed["error"] == []
    assert placed["result"]["descr"]["order"] == "buy 0.01000000 XBTUSD @ market"
    order = _order(paper, placed["result"]["txid"][0])
    assert order["status"] == "closed"
    assert order["vol_exec"] == "0.01000000"
    cost, fee = Decimal(order["cost"]), Decimal(order["fee"])
    assert Decimal("599") < cost < Decimal("602")
    assert fee == (cost * Decimal("0.0026")).quantize(Decimal("0.00001"))
    after = _balances(paper)
    assert after["XXBT"] - before["XXBT"] == Decimal("0.01")
    assert before["ZUSD"] - after["ZUSD"] == (cost + fee).quantize(Decimal("0.0001"))
    trades = paper.private("TradesHistory")["result"]["trades"]
    assert {trade["ordertxid"] for trade in trades.values()} >= {placed["result"]["txid"][0]}


def test_limit_order_rests_then_fills_when_the_price_crosses(paper: PaperExchange) -> None:
    paper.set_price("ETHUSD", "3200.00")
    cl_ord_id = str(uuid.uuid4())
    placed = paper.private(
        "AddOrder",
        {
            "pair": "ETHUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "1.5",
            "price": "3000.00",
            "cl_ord_id": cl_ord_id,
        },
        json_body=True,
    )
    txid = placed["result"]["txid"][0]
    resting = paper.private("OpenOrders", {"cl_ord_id": cl_ord_id})["result"]["open"]
    hold = Decimal(paper.private("BalanceEx")["result"]["ZUSD"]["hold_trade"])

    paper.set_price("ETHUSD", "2990.00")

    assert list(resting) == [txid]
    assert resting[txid]["descr"]["order"] == "buy 1.50000000 ETHUSD @ limit 3000.00"
    assert hold >= Decimal("4500")
    filled = _order(paper, txid)
    assert filled["status"] == "closed"
    assert filled["cost"] == "4500.00000"
    assert filled["fee"] == "7.20000"  # maker 0.16 %
    assert paper.private("BalanceEx")["result"]["ZUSD"]["hold_trade"] == "0.0000"


def test_stop_loss_triggers_on_the_last_price(paper: PaperExchange) -> None:
    paper.set_price("SOLUSD", "150.00")
    placed = paper.private(
        "AddOrder",
        {
            "pair": "SOLUSD",
            "type": "sell",
            "ordertype": "stop-loss",
            "volume": "2",
            "price": "140.00",
        },
    )
    txid = placed["result"]["txid"][0]
    assert _order(paper, txid)["status"] == "open"

    paper.set_price("SOLUSD", "139.50")

    order = _order(paper, txid)
    assert order["status"] == "closed"
    assert order["vol_exec"] == "2.00000000"
    assert order["descr"]["order"] == "sell 2.00000000 SOLUSD @ stop loss 140.00"


def test_take_profit_limit_rests_at_its_limit_after_the_trigger(paper: PaperExchange) -> None:
    paper.set_price("XBTEUR", "60000.0")
    placed = paper.private(
        "AddOrder",
        {
            "pair": "XBTEUR",
            "type": "sell",
            "ordertype": "take-profit-limit",
            "volume": "0.1",
            "price": "61000.0",
            "price2": "62000.0",
        },
    )
    txid = placed["result"]["txid"][0]

    paper.set_price("XBTEUR", "61000.0")

    order = _order(paper, txid)
    assert order["status"] == "open"
    assert order["misc"] == "stopped"
    assert order["limitprice"] == "62000.00000"
    paper.set_price("XBTEUR", "62100.0")
    assert _order(paper, txid)["status"] == "closed"


def test_validate_checks_without_placing(paper: PaperExchange) -> None:
    count = paper.orders()["count"]

    envelope = paper.private(
        "AddOrder",
        {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "1.25",
            "price": "37500",
            "validate": "true",
        },
    )

    assert envelope == {
        "error": [],
        "result": {"descr": {"order": "buy 1.25000000 XBTUSD @ limit 37500.0"}},
    }
    assert paper.orders()["count"] == count


def test_cancel_by_cl_ord_id_releases_the_hold(paper: PaperExchange) -> None:
    paper.set_price("XBTUSD", "60000.0")
    cl_ord_id = uuid.uuid4().hex
    paper.private(
        "AddOrder",
        {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.5",
            "price": "50000.0",
            "cl_ord_id": cl_ord_id,
        },
    )

    cancelled = paper.private("CancelOrder", {"cl_ord_id": cl_ord_id})
    again = paper.private("CancelOrder", {"cl_ord_id": cl_ord_id})

    assert cancelled["result"]["count"] == 1
    assert again["error"] == ["EOrder:Invalid order"]
    closed = paper.private("ClosedOrders", {"cl_ord_id": cl_ord_id})["result"]
    (order,) = closed["closed"].values()
    assert order["status"] == "canceled"
    assert order["reason"] == "User requested"
    assert paper.private("BalanceEx")["result"]["ZUSD"]["hold_trade"] == "0.0000"


def test_cancel_all_and_the_dead_mans_switch(paper: PaperExchange) -> None:
    paper.set_price("XBTUSD", "60000.0")
    for price in ("40000.0", "41000.0"):
        paper.private(
            "AddOrder",
            {
                "pair": "XBTUSD",
                "type": "buy",
                "ordertype": "limit",
                "volume": "0.01",
                "price": price,
            },
        )

    armed = paper.private("CancelAllOrdersAfter", {"timeout": "60"})["result"]
    disarmed = paper.private("CancelAllOrdersAfter", {"timeout": "0"})["result"]
    cancelled = paper.private("CancelAll")

    assert armed["triggerTime"] > armed["currentTime"]
    assert disarmed["triggerTime"] == "0"
    assert cancelled["result"]["count"] >= 2
    assert paper.private("OpenOrders")["result"]["open"] == {}


def test_order_rules_answer_with_krakens_errors(paper: PaperExchange) -> None:
    def add(**fields: str) -> list[str]:
        base = {
            "pair": "XBTUSD",
            "type": "buy",
            "ordertype": "limit",
            "volume": "0.01",
            "price": "50000.0",
        }
        errors: list[str] = paper.private("AddOrder", {**base, **fields})["error"]
        return errors

    assert add(volume="0.00001") == ["EOrder:Order minimum not met"]
    assert add(price="50000.05") == ["EOrder:Tick size check failed"]
    assert add(volume="0.0001", price="1000.0") == ["EOrder:Cost minimum not met"]
    assert add(volume="100") == ["EOrder:Insufficient funds"]
    assert add(pair="DOGEUSD") == ["EQuery:Unknown asset pair"]
    assert add(ordertype="iceberg") == ["EGeneral:Invalid arguments:ordertype"]
    assert add(price="70000.0", oflags="post") == ["EOrder:Post only order"]
