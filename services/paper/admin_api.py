"""The test hooks under ``/_paper/``; not part of Kraken's API.

- ``POST /_paper/faults`` with a :class:`~services.paper.faults.FaultSpec` as JSON, e.g.
  ``{"kind": "drop_after_accept", "count": 5, "endpoints": ["AddOrder"]}``; answers the fault
  with its ``id``. Kinds and their effect are listed in :mod:`services.paper.faults`.
  ``GET /_paper/faults`` lists the live faults; ``DELETE /_paper/faults`` clears them all,
  WebSocket ones (armed checksum corruptions, stalls) included.
  These three exist only while ``PAPER_FAULTS_ENABLED`` is true.
- ``POST /_paper/ws/faults`` with a :class:`~services.paper.ws_feed.WsFaultSpec`, e.g.
  ``{"kind": "corrupt_checksum", "symbol": "BTC/USD", "count": 2}``, ``{"kind": "drop"}`` or
  ``{"kind": "stall", "seconds": 3}``: faults of the WebSocket feed, listed in
  :mod:`services.paper.ws_feed`; answers what was done. Also only with ``PAPER_FAULTS_ENABLED``.
- ``GET /_paper/orders`` (optional ``?status=open|closed|canceled|expired`` and ``?cl_ord_id=``):
  ``{"count": N, "orders": [...]}`` in Kraken's order shape plus ``txid``, oldest first, so a
  test can count what was really executed.
- ``POST /_paper/price`` with ``{"pair": "XBTUSD", "price": "50000.0"}``: prints a trade at that
  price, re-centres the book on it and settles resting orders and triggers at once.
- ``GET /_paper/stats``: calls per endpoint, refusals per Kraken error string (with a summary of
  nonce, signature, key and rate-limit refusals) and faults injected per kind; under
  ``websocket``, open connections, subscriptions per channel and WebSocket faults applied.
- ``GET /_paper/timeline`` (optional ``?kind=ws_ticker_sent|add_order_received``, ``?pair=BTC/USD``
  and ``?after_ns=``): ``{"now_ns": N, "count": N, "events": [...]}``, each event
  ``{"kind", "pair", "t_ns"}`` plus ``cl_ord_id`` when the AddOrder had one, in the order
  recorded, the newest 10,000 kept (:mod:`services.paper.timeline`). ``ws_ticker_sent``: a
  ``ticker`` message was handed to a WebSocket connection, one event per connection;
  ``add_order_received``: a ``POST /0/private/AddOrder`` reached its handler (stamped on arrival,
  before any check; one an injected fault answers unread is not recorded). ``t_ns`` and
  ``now_ns`` are one monotonic clock of this process, so ``now_ns`` is a cursor for
  ``after_ns``, and the difference of two events is a latency (the tick-to-trade benchmark,
  ``bench/tick_bench.py``).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from aiohttp import web
from pydantic import ValidationError

from services.paper.catalog import find_pair
from services.paper.errors import KrakenError
from services.paper.faults import FaultSpec
from services.paper.rest import EXCHANGE
from services.paper.timeline import EventKind, now_ns
from services.paper.views import order_view
from services.paper.wire import JsonValue, json_response
from services.paper.ws_feed import WsFaultSpec


def _bad_request(message: str) -> web.Response:
    return json_response({"error": message}, status=400)


async def add_fault(request: web.Request) -> web.Response:
    try:
        spec = FaultSpec.model_validate_json(await request.read())
    except ValidationError as exc:
        return _bad_request(str(exc))
    fault = request.app[EXCHANGE].faults.add(spec)
    return json_response(fault.as_json(), status=201)


async def add_ws_fault(request: web.Request) -> web.Response:
    try:
        spec = WsFaultSpec.model_validate_json(await request.read())
        applied = request.app[EXCHANGE].feed.inject(spec)
    except ValueError as exc:
        return _bad_request(str(exc))
    return json_response(applied, status=201)


async def list_faults(request: web.Request) -> web.Response:
    faults: list[JsonValue] = [fault.as_json() for fault in request.app[EXCHANGE].faults.all()]
    return json_response({"faults": faults})


async def clear_faults(request: web.Request) -> web.Response:
    request.app[EXCHANGE].faults.clear()
    request.app[EXCHANGE].feed.clear_faults()
    return json_response({"faults": []})


async def list_orders(request: web.Request) -> web.Response:
    status = request.query.get("status")
    cl_ord_id = request.query.get("cl_ord_id")
    orders = [
        {"txid": order.txid, **order_view(order, with_trades=True)}
        for order in request.app[EXCHANGE].engine.orders.values()
        if (status is None or order.status == status)
        and (cl_ord_id is None or order.request.cl_ord_id == cl_ord_id)
    ]
    return json_response({"count": len(orders), "orders": orders})


async def set_price(request: web.Request) -> web.Response:
    exchange = request.app[EXCHANGE]
    try:
        body = json.loads(await request.read())
        pair = find_pair(str(body["pair"]))
        price = Decimal(str(body["price"]))
    except (ValueError, KeyError, TypeError, InvalidOperation, KrakenError) as exc:
        return _bad_request(f"expected {{'pair': ..., 'price': '...'}}: {exc}")
    if price <= 0 or price % pair.tick_size:
        return _bad_request(f"price must be a positive multiple of {pair.tick_size}")
    exchange.market.set_price(pair, price)
    exchange.engine.settle(pair.id)
    exchange.feed.publish([pair.id])
    state = exchange.market.pairs[pair.id]
    return json_response(
        {"pair": pair.id, "last": state.last, "bid": state.best_bid(), "ask": state.best_ask()}
    )


async def stats(request: web.Request) -> web.Response:
    exchange = request.app[EXCHANGE]
    return json_response({**exchange.stats.as_json(), "websocket": exchange.feed.stats()})


async def timeline(request: web.Request) -> web.Response:
    query = request.query
    try:
        after_ns = int(query["after_ns"]) if "after_ns" in query else None
        kind = EventKind(query["kind"]) if "kind" in query else None
    except ValueError as exc:
        kinds = ", ".join(k.value for k in EventKind)
        return _bad_request(f"after_ns must be an integer and kind one of {kinds}: {exc}")
    events: list[JsonValue] = [
        event.as_json()
        for event in request.app[EXCHANGE].timeline.events(
            after_ns=after_ns, kind=kind, pair=query.get("pair")
        )
    ]
    return json_response({"now_ns": now_ns(), "count": len(events), "events": events})


def add_routes(app: web.Application, *, faults_enabled: bool) -> None:
    if faults_enabled:
        app.router.add_post("/_paper/faults", add_fault)
        app.router.add_get("/_paper/faults", list_faults)
        app.router.add_delete("/_paper/faults", clear_faults)
        app.router.add_post("/_paper/ws/faults", add_ws_fault)
    app.router.add_get("/_paper/orders", list_orders)
    app.router.add_post("/_paper/price", set_price)
    app.router.add_get("/_paper/stats", stats)
    app.router.add_get("/_paper/timeline", timeline)
