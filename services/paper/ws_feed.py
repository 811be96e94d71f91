"""Kraken's public WebSocket v2 at ``/v2``: ``ticker``, ``trade``, ``book`` with checksums and
``ohlc``, heartbeats, ``ping``, and subscribe/unsubscribe acks (kraken.md §5.2-§5.4).

Each connection has one writer task fed by a queue, so messages leave in the order they were
made; book updates are diffs against what that connection was last sent. A ``ticker`` message
is stamped on the exchange's :class:`~services.paper.timeline.Timeline` as it is handed to the
socket.

Faults a test injects (``POST /_paper/ws/faults``, see :class:`WsFaultSpec`):

- ``drop``: every open connection is cut now, without a close frame.
- ``corrupt_checksum``: the next ``count`` book updates of ``symbol`` (of any pair when unset)
  carry a wrong checksum; the levels themselves are right.
- ``stall``: the connections open now send nothing, not even heartbeats, for ``seconds``;
  what they should have sent follows afterwards. Later connections are not affected.
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
from enum import StrEnum
from typing import Any, TypeAlias

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field

from services.common.book_checksum import book_checksum
from services.paper.catalog import Pair, pair_by_v2
from services.paper.market import Market, PairMarket, PublicTrade, trade_stats
from services.paper.timeline import Timeline
from services.paper.wire import JsonValue, dumps

log = logging.getLogger(__name__)

BOOK_DEPTHS = frozenset({10, 25, 100, 500, 1000})
TRADE_SNAPSHOT = 50
HEARTBEAT_SECONDS = 1.0
OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})
OHLC_SNAPSHOT = 12  # candles in an ohlc snapshot, newest last
CHANNELS = frozenset({"ticker", "trade", "book", "ohlc", "heartbeat"})
_NANOS = 1_000_000_000

Levels = dict[Decimal, Decimal]
_Outgoing: TypeAlias = "tuple[str, str | None]"  # the text, and its symbol when it is a ticker
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


def _candles(
    state: PairMarket, interval: int, starts: set[int] | None = None, limit: int = OHLC_SNAPSHOT
) -> list[JsonValue]:
    """The candles of ``interval`` minutes opened at ``starts`` (else the newest ``limit``),
    oldest first, from the tape read newest first."""
    width = interval * 60
    prints: dict[int, list[PublicTrade]] = {}
    for trade in reversed(state.trades):
        start = trade.time_ns // _NANOS // width * width
        if start not in prints:
            done = len(prints) >= limit if starts is None else start < min(starts)
            if done:
                break
        if starts is None or start in starts:
            prints.setdefault(start, []).append(trade)
    pair = state.pair
    entries: list[JsonValue] = []
    for start in sorted(prints):
        trades = prints[start][::-1]
        volume, vwap, count, low, high = trade_stats(trades)
        entries.append(
            {
                "symbol": pair.v2,
                "open": round(trades[0].price, pair.pair_decimals),
                "high": round(high, pair.pair_decimals),
                "low": round(low, pair.pair_decimals),
                "close": round(trades[-1].price, pair.pair_decimals),
                "trades": count,
                "volume": round(volume, pair.lot_decimals),
                "vwap": round(vwap, pair.pair_decimals),
                "interval_begin": _timestamp(start * _NANOS),
                "interval": interval,
                "timestamp": _timestamp(),
            }
        )
    return entries


class WsFaultKind(StrEnum):
    DROP = "drop"
    CORRUPT_CHECKSUM = "corrupt_checksum"
    STALL = "stall"


class WsFaultSpec(BaseModel):
    """One WebSocket fault as ``POST /_paper/ws/faults`` takes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: WsFaultKind
    count: int = Field(default=1, ge=1, le=10_000)
    symbol: str | None = None
    seconds: Decimal = Field(default=Decimal(0), ge=0, le=120)


@dataclass
class _BookSubscription:
    depth: int
    asks: Levels = field(default_factory=dict)
    bids: Levels = field(default_factory=dict)


@dataclass(eq=False)
class Session:
    """One client connection and what it subscribed to, keyed by ``(channel, pair id)``."""

    ws: web.WebSocketResponse
    outbox: asyncio.Queue[_Outgoing] = field(default_factory=asyncio.Queue)
    books: dict[str, _BookSubscription] = field(default_factory=dict)
    tickers: set[str] = field(default_factory=set)
    trades: dict[str, int] = field(default_factory=dict)  # pair id -> last trade id sent
    ohlc: dict[tuple[str, int], int] = field(default_factory=dict)  # (pair id, interval) -> same
    heartbeat: bool = False
    idle_since: float = 0.0
    stalled_until: float = 0.0
    transport: asyncio.Transport | None = None

    def send(self, message: JsonValue, *, ticker_of: str | None = None) -> None:
        """Queue ``message``; ``ticker_of`` (a v2 symbol) marks a ticker, timed when it leaves."""
        self.outbox.put_nowait((dumps(message), ticker_of))

    @property
    def subscribed(self) -> bool:
        return bool(self.books or self.tickers or self.trades or self.ohlc or self.heartbeat)


class Feed:
    """All WebSocket sessions; the exchange calls :meth:`publish` after the market moves."""

    def __init__(self, market: Market, timeline: Timeline) -> None:
        self._market = market
        self._timeline = timeline
        self._sessions: set[Session] = set()
        self._connection_ids = itertools.count(1)
        self._corrupt: dict[str | None, int] = {}  # pair id (None: any) -> book updates left
        self._fault_counts: dict[str, int] = {kind.value: 0 for kind in WsFaultKind}

    # -- market side --------------------------------------------------------------------------

    def publish(self, pair_ids: list[str]) -> None:
        """Send each session the changes of these pairs since what it last got."""
        for session in list(self._sessions):
            for pair_id in pair_ids:
                self._push(session, self._market.pairs[pair_id])

    def _push(self, session: Session, state: PairMarket) -> None:
        pair_id = state.pair.id
        if pair_id in session.tickers:
            session.send(self._ticker(state, "update"), ticker_of=state.pair.v2)
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
        for (ohlc_pair, interval), last_id in session.ohlc.items():
            if ohlc_pair != pair_id:
                continue
            fresh = [t for t in state.trades if t.trade_id > last_id]
            if fresh:
                session.ohlc[ohlc_pair, interval] = fresh[-1].trade_id
                width = interval * 60
                starts = {t.time_ns // _NANOS // width * width for t in fresh}
                session.send(
                    {
                        "channel": "ohlc",
                        "type": "update",
                        "timestamp": _timestamp(),
                        "data": _candles(state, interval, starts),
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
                                "checksum": self._update_checksum(state),
                                "timestamp": _timestamp(),
                            }
                        ],
                    }
                )

    def _update_checksum(self, state: PairMarket) -> int:
        checksum = _checksum(state)
        for target in (state.pair.id, None):
            if self._corrupt.get(target, 0) > 0:
                self._corrupt[target] -= 1
                self._fault_counts[WsFaultKind.CORRUPT_CHECKSUM] += 1
                return (checksum + 1) & 0xFFFFFFFF
        return checksum

    # -- faults and stats ---------------------------------------------------------------------

    def inject(self, spec: WsFaultSpec) -> dict[str, JsonValue]:
        """Apply a fault now (``drop``, ``stall``) or arm it (``corrupt_checksum``)."""
        if spec.kind is WsFaultKind.DROP:
            dropped = 0
            for session in list(self._sessions):
                if session.transport is not None:
                    session.transport.abort()
                    dropped += 1
            self._fault_counts[spec.kind] += dropped
            return {"kind": spec.kind.value, "connections": dropped}
        if spec.kind is WsFaultKind.STALL:
            until = asyncio.get_running_loop().time() + float(spec.seconds)
            for session in self._sessions:
                session.stalled_until = until
            self._fault_counts[spec.kind] += len(self._sessions)
            return {"kind": spec.kind.value, "connections": len(self._sessions)}
        pair_id = None
        if spec.symbol is not None:
            pair = pair_by_v2(spec.symbol)
            if pair is None:
                raise ValueError(f"unknown symbol {spec.symbol}")
            pair_id = pair.id
        self._corrupt[pair_id] = self._corrupt.get(pair_id, 0) + spec.count
        return {"kind": spec.kind.value, "symbol": spec.symbol, "count": spec.count}

    def clear_faults(self) -> None:
        """Disarm pending checksum corruptions and end stalls."""
        self._corrupt.clear()
        for session in self._sessions:
            session.stalled_until = 0.0

    def stats(self) -> dict[str, JsonValue]:
        """Connections, subscriptions per channel, and faults applied per kind."""
        sessions = list(self._sessions)
        return {
            "connections": len(sessions),
            "subscriptions": {
                "book": sum(len(s.books) for s in sessions),
                "ticker": sum(len(s.tickers) for s in sessions),
                "trade": sum(len(s.trades) for s in sessions),
                "ohlc": sum(len(s.ohlc) for s in sessions),
            },
            "faults": dict(self._fault_counts),
        }

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
        session = Session(ws, transport=request.transport)
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
            await _sit_out_stall(session, loop)
            try:
                text, ticker_of = await asyncio.wait_for(session.outbox.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                if session.subscribed and loop.time() - session.idle_since >= HEARTBEAT_SECONDS:
                    text, ticker_of = dumps({"channel": "heartbeat"}), None
                else:
                    continue
            await _sit_out_stall(session, loop)
            if ticker_of is not None:
                # Stamped as it is handed to the socket: a reader can never have it earlier.
                self._timeline.ticker_sent(ticker_of)
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
                    is_ticker = result.get("channel") == "ticker"
                    session.send(snapshot, ticker_of=str(result["symbol"]) if is_ticker else None)
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
        interval = params.get("interval", 1)
        if channel == "ohlc" and interval not in OHLC_INTERVALS:
            return [({"channel": channel}, "Invalid interval", None)]
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
            if channel == "ohlc":
                result["interval"] = interval
            key = (pair.id, interval) if channel == "ohlc" else pair.id
            if method == "unsubscribe":
                found = self._unsubscribe(session, channel, key)
                acks.append((result, None if found else "Subscription Not Found", None))
                continue
            result["snapshot"] = snapshot
            if self._is_subscribed(session, channel, key):
                acks.append((result, "Already subscribed", None))
                continue
            state = self._market.pairs[pair.id]
            message = self._subscribe(session, channel, state, depth, interval)
            acks.append((result, None, message if snapshot else None))
        return acks

    @staticmethod
    def _held(session: Session, channel: str) -> set[Any] | dict[Any, Any]:
        """The subscriptions of ``channel``, keyed by pair id (by (pair id, interval): ohlc)."""
        held: dict[str, set[Any] | dict[Any, Any]] = {
            "book": session.books,
            "ticker": session.tickers,
            "trade": session.trades,
            "ohlc": session.ohlc,
        }
        return held[channel]

    def _is_subscribed(self, session: Session, channel: str, key: object) -> bool:
        return key in self._held(session, channel)

    def _unsubscribe(self, session: Session, channel: str, key: object) -> bool:
        held = self._held(session, channel)
        if key not in held:
            return False
        if isinstance(held, set):
            held.discard(key)
        else:
            del held[key]
        return True

    def _subscribe(
        self, session: Session, channel: str, state: PairMarket, depth: int, interval: int
    ) -> JsonValue:
        """Register the subscription and return its snapshot message."""
        pair = state.pair
        if channel == "ohlc":
            session.ohlc[pair.id, interval] = state.trades[-1].trade_id if state.trades else 0
            return {
                "channel": "ohlc",
                "type": "snapshot",
                "timestamp": _timestamp(),
                "data": _candles(state, interval),
            }
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


async def _sit_out_stall(session: Session, loop: asyncio.AbstractEventLoop) -> None:
    """Wait while a ``stall`` fault holds this connection silent."""
    remaining = session.stalled_until - loop.time()
    if remaining > 0:
        await asyncio.sleep(remaining)
