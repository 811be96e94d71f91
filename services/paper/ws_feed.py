"""Kraken's public WebSocket v2 at ``/v2``: ``ticker``, ``trade`` and ``book`` with checksums,
heartbeats, ``ping``, and subscribe/unsubscribe acks (kraken.md §5.2-§5.4).

Each connection has one writer task fed by a queue, so messages leave in the order they were
made; book updates are diffs against what that connection was last sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeAlias

from aiohttp import WSMsgType, web

from services.paper.book_checksum import book_checksum
from services.paper.catalog import Pair, pair_by_v2
from services.paper.market import Market, PairMarket, PublicTrade
from services.paper.wire import JsonValue, dumps

log = logging.getLogger(__name__)

BOOK_DEPTHS = frozenset({10, 25, 100, 500, 1000})
TRADE_SNAPSHOT = 50
HEARTBEAT_SECONDS = 1.0
CHANNELS = frozenset({"ticker", "trade", "book", "heartbeat"})

Levels = dict[Decimal, Decimal]
_Ack: TypeAlias = "tuple[dict[str, JsonValue], str | None, JsonValue | None]"


def _timestamp(time_ns: int | None = None) -> str:
    moment = datetime.now(UTC) if time_ns is None else datetime.fromtimestamp(time_ns / 1e9, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _book_side(levels: Levels, pair: Pair, *, descending: bool) -> list[JsonValue]:
    return [
        {"price": round(price, pair.pair_decimals), "qty": round(qty, pair.lot_decimals)}
        for price, qty in sorted(levels.items(), reverse=descending)
    ]


def _view(state: PairMarket, depth: int) -> tuple[Levels, Levels]:
    return dict(state.sorted_asks()[:depth]), dict(state.sorted_bids()[:depth])


def _diff(old: Levels, new: Levels) -> Levels:
    changed = {price: qty for price, qty in new.items() if old.get(price) != qty}
    changed |= {price: Decimal(0) for price in old if price not in new}
    return changed


def _checksum(state: PairMarket) -> int:
    pair = state.pair
    return book_checksum(
        state.asks.items(), state.bids.items(), pair.pair_decimals, pair.lot_decimals
    )


def _trade_entry(trade: PublicTrade, pair: Pair) -> JsonValue:
    return {
        "symbol": pair.v2,
        "side": "buy" if trade.side == "b" else "sell",
        "price": round(trade.price, pair.pair_decimals),
        "qty": round(trade.volume, pair.lot_decimals),
        "ord_type": "market" if trade.kind == "m" else "limit",
        "trade_id": trade.trade_id,
        "timestamp": _timestamp(trade.time_ns),
    }


@dataclass
class _BookSubscription:
    depth: int
    asks: Levels = field(default_factory=dict)
    bids: Levels = field(default_factory=dict)


@dataclass(eq=False)
class Session:
    """One client connection and what it subscribed to, keyed by ``(channel, pair id)``."""

    ws: web.WebSocketResponse
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    books: dict[str, _BookSubscription] = field(default_factory=dict)
    tickers: set[str] = field(default_factory=set)
    trades: dict[str, int] = field(default_factory=dict)  # pair id -> last trade id sent
    heartbeat: bool = False
    idle_since: float = 0.0

    def send(self, message: JsonValue) -> None:
        self.outbox.put_nowait(dumps(message))

    @property
    def subscribed(self) -> bool:
        return bool(self.books or self.tickers or self.trades or self.heartbeat)


class Feed:
    """All WebSocket sessions; the exchange calls :meth:`publish` after the market moves."""

    def __init__(self, market: Market) -> None:
        self._market = market
        self._sessions: set[Session] = set()
        self._connection_ids = itertools.count(1)

    # -- market side --------------------------------------------------------------------------

    def publish(self, pair_ids: list[str]) -> None:
        """Send each session the changes of these pairs since what it last got."""
        for session in list(self._sessions):
            for pair_id in pair_ids:
                self._push(session, self._market.pairs[pair_id])

    def _push(self, session: Session, state: PairMarket) -> None:
        pair_id = state.pair.id
        if pair_id in session.tickers:
            session.send(self._ticker(state, "update"))
        if pair_id in session.trades:
            fresh = [t for t in state.trades if t.trade_id > session.trades[pair_id]]
            if fresh:
                session.trades[pair_id] = fresh[-1].trade_id
                session.send(
                    {
                        "channel": "trade",
                        "type": "update",
                        "data": [_trade_entry(t, state.pair) for t in fresh],
                    }
                )
        book = session.books.get(pair_id)
        if book is not None:
            asks, bids = _view(state, book.depth)
            ask_changes, bid_changes = _diff(book.asks, asks), _diff(book.bids, bids)
            book.asks, book.bids = asks, bids
            if ask_changes or bid_changes:
                session.send(
                    {
                        "channel": "book",
                        "type": "update",
                        "data": [
                            {
                                "symbol": state.pair.v2,
                                "bids": _book_side(bid_changes, state.pair, descending=True),
                                "asks": _book_side(ask_changes, state.pair, descending=False),
                                "checksum": _checksum(state),
                                "timestamp": _timestamp(),
                            }
                        ],
                    }
                )

    def _ticker(self, state: PairMarket, kind: str) -> JsonValue:
        pair = state.pair
        values = state.ticker(self._market.now_ns())
        qty_names = {"bid_qty", "ask_qty", "volume"}
        entry: dict[str, JsonValue] = {"symbol": pair.v2}
        for name, value in values.items():
            places = pair.lot_decimals if name in qty_names else pair.pair_decimals
            entry[name] = value if name == "change_pct" else round(value, places)
        return {"channel": "ticker", "type": kind, "data": [entry]}

    # -- client side --------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The ``/v2`` route: one connection from handshake to close."""
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        session = Session(ws)
        session.idle_since = asyncio.get_running_loop().time()
        self._sessions.add(session)
        session.send(
            {
                "channel": "status",
                "type": "update",
                "data": [
                    {
                        "api_version": "v2",
                        "connection_id": next(self._connection_ids),
                        "system": "online",
                        "version": "2.0.10",
                    }
                ],
            }
        )
        writer = asyncio.create_task(self._write(session))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_request(session, message.data)
        finally:
            self._sessions.discard(session)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, session: Session) -> None:
        loop = asyncio.get_running_loop()
        while not session.ws.closed:
            try:
                text = await asyncio.wait_for(session.outbox.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                if session.subscribed and loop.time() - session.idle_since >= HEARTBEAT_SECONDS:
                    text = dumps({"channel": "heartbeat"})
                else:
                    continue
            try:
                await session.ws.send_str(text)
            except ConnectionError:
                return
            session.idle_since = loop.time()

    def _on_request(self, session: Session, text: str) -> None:
        time_in = _timestamp()
        try:
            request: Any = json.loads(text, parse_float=Decimal)
            method = request["method"]
        except (ValueError, KeyError, TypeError):
            session.send(
                {
                    "error": "Malformed request",
                    "success": False,
                    "time_in": time_in,
                    "time_out": _timestamp(),
                }
            )
            return
        req_id = request.get("req_id")
        tail: dict[str, JsonValue] = {"time_in": time_in}
        if isinstance(req_id, int):
            tail["req_id"] = req_id
        if method == "ping":
            session.send({"method": "pong", **tail, "time_out": _timestamp()})
        elif method in ("subscribe", "unsubscribe"):
            params = request.get("params")
            if not isinstance(params, dict):
                params = {}
            for result, error, snapshot in self._subscription(session, method, params):
                ack: dict[str, JsonValue] = {"method": method, "success": error is None}
                if error is None:
                    ack["result"] = result
                else:
                    ack["error"] = error
                    ack |= {k: v for k, v in result.items() if k == "symbol"}
                session.send({**ack, **tail, "time_out": _timestamp()})
                if snapshot is not None:
                    session.send(snapshot)
        else:
            session.send(
                {
                    "error": "Method not found",
                    "method": str(method),
                    "success": False,
                    **tail,
                    "time_out": _timestamp(),
                }
            )

    def _subscription(self, session: Session, method: str, params: dict[str, Any]) -> list[_Ack]:
        """One ``(result, error, snapshot)`` per symbol; the ack goes first, then the snapshot."""
        channel = params.get("channel")
        if channel not in CHANNELS:
            return [({}, "Subscription name invalid", None)]
        if channel == "heartbeat":
            session.heartbeat = method == "subscribe"
            return [({"channel": "heartbeat"}, None, None)]
        symbols = params.get("symbol")
        if not isinstance(symbols, list) or not symbols:
            return [({"channel": channel}, "Symbol required", None)]
        depth = params.get("depth", 10)
        if channel == "book" and depth not in BOOK_DEPTHS:
            return [({"channel": channel}, "Invalid depth", None)]
        snapshot = params.get("snapshot", True) is not False
        acks: list[_Ack] = []
        for symbol in symbols:
            result: dict[str, JsonValue] = {"channel": channel, "symbol": str(symbol)}
            pair = pair_by_v2(str(symbol))
            if pair is None:
                acks.append((result, f"Currency pair not supported {symbol}", None))
                continue
            if channel == "book":
                result["depth"] = depth
            if method == "unsubscribe":
                found = self._unsubscribe(session, channel, pair.id)
                acks.append((result, None if found else "Subscription Not Found", None))
                continue
            result["snapshot"] = snapshot
            if self._is_subscribed(session, channel, pair.id):
                acks.append((result, "Already subscribed", None))
                continue
            message = self._subscribe(session, channel, self._market.pairs[pair.id], depth)
            acks.append((result, None, message if snapshot else None))
        return acks

    @staticmethod
    def _is_subscribed(session: Session, channel: str, pair_id: str) -> bool:
        held = {"book": session.books, "ticker": session.tickers, "trade": session.trades}
        return pair_id in held[channel]

    @staticmethod
    def _unsubscribe(session: Session, channel: str, pair_id: str) -> bool:
        if channel == "ticker":
            found = pair_id in session.tickers
            session.tickers.discard(pair_id)
            return found
        held: dict[str, Any] = session.books if channel == "book" else session.trades
        return held.pop(pair_id, None) is not None

    def _subscribe(
        self, session: Session, channel: str, state: PairMarket, depth: int
    ) -> JsonValue:
        """Register the subscription and return its snapshot message."""
        pair = state.pair
        if channel == "ticker":
            session.tickers.add(pair.id)
            return self._ticker(state, "snapshot")
        if channel == "trade":
            recent = list(state.trades)[-TRADE_SNAPSHOT:]
            session.trades[pair.id] = recent[-1].trade_id if recent else 0
            return {
                "channel": "trade",
                "type": "snapshot",
                "data": [_trade_entry(t, pair) for t in recent],
            }
        asks, bids = _view(state, depth)
        session.books[pair.id] = _BookSubscription(depth, asks, bids)
        return {
            "channel": "book",
            "type": "snapshot",
            "data": [
                {
                    "symbol": pair.v2,
                    "bids": _book_side(bids, pair, descending=True),
                    "asks": _book_side(asks, pair, descending=False),
                    "checksum": _checksum(state),
                }
            ],
        }
