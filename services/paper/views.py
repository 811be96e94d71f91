"""Kraken's JSON shapes for the paper account's orders and trades (kraken.md §4.2)."""

from __future__ import annotations

from decimal import Decimal

from services.paper.order_entry import describe
from services.paper.orders import Order, Trade
from services.paper.wire import JsonValue, fixed


def order_view(order: Order, *, with_trades: bool) -> dict[str, JsonValue]:
    """One order as OpenOrders, ClosedOrders and QueryOrders show it."""
    request = order.request
    pair = request.pair
    fee_flag = "fcib" if request.fee_in_base else "fciq"
    view: dict[str, JsonValue] = {
        "refid": None,
        "userref": request.userref if request.userref is not None else 0,
    }
    if request.cl_ord_id is not None:
        view["cl_ord_id"] = request.cl_ord_id
    view |= {
        "status": order.status,
        "opentm": order.opentm,
        "starttm": 0,
        "expiretm": request.expiretm or 0,
        "descr": {
            "pair": pair.altname,
            "type": request.side,
            "ordertype": request.ordertype,
            "price": fixed(request.price or Decimal(0), pair.pair_decimals),
            "price2": fixed(request.price2 or Decimal(0), pair.pair_decimals),
            "leverage": "none",
            "order": describe(request),
            "close": "",
        },
        "vol": fixed(request.volume, pair.lot_decimals),
        "vol_exec": fixed(order.vol_exec, pair.lot_decimals),
        "cost": fixed(order.cost, pair.cost_decimals),
        "fee": fixed(order.fee, pair.cost_decimals),
        "price": fixed(order.average_price, pair.cost_decimals),
        "stopprice": fixed(
            request.price if order.triggered and request.price else Decimal(0), pair.cost_decimals
        ),
        "limitprice": fixed(order.limit_price or Decimal(0), pair.cost_decimals),
        "misc": "stopped" if order.triggered else "",
        "oflags": ",".join(sorted((request.oflags - {"fcib", "fciq"}) | {fee_flag})),
        "timeinforce": request.timeinforce,
    }
    if order.closetm is not None:
        view["closetm"] = order.closetm
        view["reason"] = order.reason
    if with_trades and order.trades:
        view["trades"] = [trade.txid for trade in order.trades]
    return view


def trade_view(trade: Trade) -> dict[str, JsonValue]:
    """One fill as TradesHistory shows it."""
    pair = trade.pair
    return {
        "ordertxid": trade.ordertxid,
        "postxid": trade.postxid,
        "pair": pair.id,
        "time": trade.time,
        "type": trade.side,
        "ordertype": trade.ordertype,
        "price": fixed(trade.price, pair.cost_decimals),
        "cost": fixed(trade.cost, pair.cost_decimals),
        "fee": fixed(trade.fee, pair.cost_decimals),
        "vol": fixed(trade.volume, pair.lot_decimals),
        "margin": fixed(Decimal(0), pair.cost_decimals),
        "leverage": "0",
        "misc": "",
        "trade_id": trade.trade_id,
        "maker": trade.maker,
    }
