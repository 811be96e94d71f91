"""Kraken's private REST endpoints (``POST /0/private/<Name>``) for the one paper account."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal

from aiohttp import web

from services.paper import errors
from services.paper.catalog import ASSETS, PAIRS, Asset, find_asset, find_pair
from services.paper.errors import KrakenError, invalid_argument
from services.paper.order_entry import describe, parse_order
from services.paper.orders import Order
from services.paper.params import Params
from services.paper.rate_limits import cancel_cost, rest_cost
from services.paper.rest import EXCHANGE, respond
from services.paper.state import Exchange
from services.paper.timeline import now_ns
from services.paper.views import order_view, trade_view
from services.paper.wire import JsonValue, fixed

PAGE = 50
_MAX_DEAD_MANS_TIMEOUT = 86400
_RFC3339 = "%Y-%m-%dT%H:%M:%SZ"

Handler = Callable[[Exchange, Params], JsonValue]


def balance(exchange: Exchange, params: Params) -> JsonValue:
    ledger = exchange.ledger
    return {asset.id: fixed(ledger.balances[asset.id], asset.decimals) for asset in ASSETS}


def balance_ex(exchange: Exchange, params: Params) -> JsonValue:
    ledger = exchange.ledger
    return {
        asset.id: {
            "balance": fixed(ledger.balances[asset.id], asset.decimals),
            "credit": fixed(Decimal(0), asset.decimals),
            "credit_used": fixed(Decimal(0), asset.decimals),
            "hold_trade": fixed(ledger.holds[asset.id], asset.decimals),
        }
        for asset in ASSETS
    }


def _rate(exchange: Exchange, source: Asset, target: Asset, hops: int = 2) -> Decimal | None:
    """The price of one ``source`` in ``target`` at the last trades, through at most two pairs."""
    if source == target:
        return Decimal(1)
    if hops == 0:
        return None
    for pair in PAIRS:
        last = exchange.market.pairs[pair.id].last
        if pair.base == source:
            onward = _rate(exchange, pair.quote, target, hops - 1)
            if onward is not None:
                return last * onward
        if pair.quote == source:
            onward = _rate(exchange, pair.base, target, hops - 1)
            if onward is not None:
                return onward / last
    return None


def trade_balance(exchange: Exchange, params: Params) -> JsonValue:
    target = find_asset(params.text("asset") or "ZUSD")
    if target is None:
        raise invalid_argument("asset")
    equity = Decimal(0)
    for asset in ASSETS:
        rate = _rate(exchange, asset, target)
        if rate is not None:
            equity += exchange.ledger.balances[asset.id] * rate
    text = fixed(equity, target.decimals)
    zero = fixed(Decimal(0), target.decimals)
    return {
        "eb": text,
        "tb": text,
        "m": zero,
        "n": zero,
        "c": zero,
        "v": zero,
        "e": text,
        "mf": text,
        "uv": zero,
    }


def _filtered(orders: Iterable[Order], params: Params) -> list[Order]:
    userref = params.integer("userref")
    cl_ord_id = params.text("cl_ord_id")
    return [
        order
        for order in orders
        if (userref is None or order.request.userref == userref)
        and (cl_ord_id is None or order.request.cl_ord_id == cl_ord_id)
    ]


def open_orders(exchange: Exchange, params: Params) -> JsonValue:
    with_trades = params.flag("trades")
    orders = _filtered(exchange.engine.open_orders(), params)
    return {"open": {o.txid: order_view(o, with_trades=with_trades) for o in orders}}


def _time_bound(exchange: Exchange, params: Params, name: str) -> Decimal | None:
    """``start``/``end`` as a timestamp, or as a txid standing for that order's open time."""
    text = params.text(name)
    if text is None:
        return None
    order = exchange.engine.orders.get(text)
    if order is not None:
        return order.opentm
    bound = params.decimal(name)
    if bound is None:
        raise invalid_argument(name)
    return bound


def closed_orders(exchange: Exchange, params: Params) -> JsonValue:
    with_trades = params.flag("trades")
    start = _time_bound(exchange, params, "start")
    end = _time_bound(exchange, params, "end")
    closetime = params.text("closetime") or "both"
    if closetime not in ("open", "close", "both"):
        raise invalid_argument("closetime")
    offset = params.integer("ofs") or 0

    def when(order: Order) -> Decimal:
        return order.opentm if closetime == "open" else order.closetm or order.opentm

    orders = sorted(
        (
            order
            for order in _filtered(exchange.engine.orders.values(), params)
            if not order.is_open
            and (start is None or when(order) > start)
            and (end is None or when(order) <= end)
        ),
        key=when,
        reverse=True,
    )
    page = orders[offset : offset + PAGE]
    return {
        "closed": {o.txid: order_view(o, with_trades=with_trades) for o in page},
        "count": len(orders),
    }


def query_orders(exchange: Exchange, params: Params) -> JsonValue:
    with_trades = params.flag("trades")
    txids = params.names("txid")
    cl_ord_id = params.text("cl_ord_id")
    if not txids and cl_ord_id is None:
        raise invalid_argument("txid")
    engine = exchange.engine
    found: list[Order] = []
    for txid in txids[:PAGE]:
        order = engine.orders.get(txid)
        if order is None:
            raise KrakenError(errors.INVALID_ORDER)
        found.append(order)
    if cl_ord_id is not None and not txids:
        found = engine.with_cl_ord_id(cl_ord_id)
    found = _filtered(found, params)
    return {o.txid: order_view(o, with_trades=with_trades) for o in found}


def trades_history(exchange: Exchange, params: Params) -> JsonValue:
    trade_type = params.text("type") or "all"
    if trade_type not in (
        "all",
        "any position",
        "closed position",
        "closing position",
        "no position",
    ):
        raise invalid_argument("type")
    start = params.decimal("start")
    end = params.decimal("end")
    offset = params.integer("ofs") or 0
    trades = sorted(
        (
            trade
            for trade in exchange.engine.trades.values()
            if trade_type in ("all", "no position")
            and (start is None or trade.time > start)
            and (end is None or trade.time <= end)
        ),
        key=lambda trade: trade.time,
        reverse=True,
    )
    page = trades[offset : offset + PAGE]
    return {"trades": {trade.txid: trade_view(trade) for trade in page}, "count": len(trades)}


def add_order(exchange: Exchange, params: Params) -> JsonValue:
    pair = find_pair(params.required("pair"))
    # Kraken counts the fixed cost on receipt, even when the order then fails validation.
    if not exchange.trading_counter.take(pair.id, 1):
        raise KrakenError(errors.ORDER_RATE_LIMIT)
    engine = exchange.engine
    request = parse_order(params, pair, engine.now())
    descr: JsonValue = {"order": describe(request)}
    if params.flag("validate"):
        engine.check(request)
        return {"descr": descr}
    order = engine.place(request)
    return {"descr": descr, "txid": [order.txid]}


def _orders_to_cancel(exchange: Exchange, params: Params) -> list[Order]:
    engine = exchange.engine
    cl_ord_id = params.text("cl_ord_id")
    txid = params.text("txid")
    if cl_ord_id is not None:
        if txid is not None:
            raise invalid_argument("cl_ord_id")
        order = engine.open_by_cl_ord_id(cl_ord_id)
        return [order] if order is not None else []
    if txid is None:
        raise invalid_argument("txid")
    if txid.lstrip("-").isdigit():
        return [o for o in engine.open_orders() if o.request.userref == int(txid)]
    order = engine.orders.get(txid)
    return [order] if order is not None and order.is_open else []


def cancel_order(exchange: Exchange, params: Params) -> JsonValue:
    orders = _orders_to_cancel(exchange, params)
    if not orders:
        raise KrakenError(errors.INVALID_ORDER)
    now = exchange.engine.now()
    for order in orders:
        cost = cancel_cost(now - order.opentm)
        if not exchange.trading_counter.take(order.request.pair.id, cost):
            raise KrakenError(errors.ORDER_RATE_LIMIT)
        exchange.engine.cancel(order)
    return {"count": len(orders), "pending": False}


def cancel_all(exchange: Exchange, params: Params) -> JsonValue:
    return {"count": exchange.engine.cancel_all()}


def cancel_all_orders_after(exchange: Exchange, params: Params) -> JsonValue:
    timeout = params.integer("timeout")
    if timeout is None or not 0 <= timeout < _MAX_DEAD_MANS_TIMEOUT:
        raise invalid_argument("timeout")
    now = datetime.now(UTC).replace(microsecond=0)
    trigger = exchange.dead_mans_switch.arm(timeout)
    return {
        "currentTime": now.strftime(_RFC3339),
        "triggerTime": trigger.strftime(_RFC3339) if trigger is not None else "0",
    }


HANDLERS: dict[str, Handler] = {
    "Balance": balance,
    "BalanceEx": balance_ex,
    "TradeBalance": trade_balance,
    "OpenOrders": open_orders,
    "ClosedOrders": closed_orders,
    "QueryOrders": query_orders,
    "TradesHistory": trades_history,
    "AddOrder": add_order,
    "CancelOrder": cancel_order,
    "CancelAll": cancel_all,
    "CancelAllOrdersAfter": cancel_all_orders_after,
}


def _record_add_order(exchange: Exchange, params: Params, arrived_ns: int) -> None:
    """Put the AddOrder on the timeline under its v2 symbol (the raw ``pair`` if unknown)."""
    name = params.text("pair") or ""
    try:
        pair = find_pair(name).v2
    except KrakenError:
        pair = name
    exchange.timeline.add_order_received(pair, params.text("cl_ord_id"), arrived_ns)


async def private_call(request: web.Request) -> web.Response:
    """``POST /0/private/<Name>``: authenticate, count, run."""
    arrived_ns = now_ns()  # first: the AddOrder's arrival on the tick-to-trade timeline
    endpoint = request.match_info["endpoint"]
    exchange = request.app[EXCHANGE]

    async def call() -> JsonValue:
        handler = HANDLERS.get(endpoint)
        if handler is None:
            raise KrakenError(errors.UNKNOWN_METHOD)
        body = await request.read()
        params = Params.from_body(body, request.content_type)
        if endpoint == "AddOrder":
            # Before the signature and rate checks: arrival, not acceptance, is what is timed.
            _record_add_order(exchange, params, arrived_ns)
        api_key = request.headers.get("API-Key")
        exchange.auth.verify(
            request.raw_path, api_key, request.headers.get("API-Sign"), body, params
        )
        cost = rest_cost(endpoint)
        if cost and not exchange.rest_counter.take(api_key or "", cost):
            raise KrakenError(errors.REST_RATE_LIMIT)
        return handler(exchange, params)

    return await respond(request, endpoint, call)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/0/private/{endpoint}", private_call)
