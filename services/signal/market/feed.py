"""Routes decoded WebSocket v2 messages of the pairs this replica owns into market events.

``ticker`` and ``trade`` become :class:`Ticker` and :class:`Trade` events, ``ohlc`` closed
:class:`Candle` events, and ``book`` keeps an :class:`OrderBook` per pair whose checksum is
verified on every message. A mismatch resets that book and asks for a resubscription, at once
the first time and then with growing delays while the fresh snapshots keep failing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from prometheus_client import Counter

from services.signal.market.book import OrderBook
from services.signal.market.candles import CandleTracker
from services.signal.market.errors import MalformedMessage
from services.signal.market.metrics import MarketMetrics
from services.signal.market.model import Candle, PairInfo, Ticker, Trade
from services.signal.market.wire import candle_from_wire, ticker_from_wire, trade_from_wire

log = logging.getLogger(__name__)


class MarketSink(Protocol):
    """Where the events go (the Redis publisher); each call returns at once."""

    def ticker(self, ticker: Ticker) -> None: ...

    def trades(self, trades: list[Trade]) -> None: ...

    def candles(self, candles: list[Candle]) -> None: ...

    def book_changed(self, book: OrderBook) -> None: ...


BookResync = Callable[[str, float], None]
"""Resubscribe the book of a pair after this many seconds."""


class MarketFeed:
    """The per-pair state built from the WebSocket: books, candle trackers, last trade ids."""

    def __init__(
        self,
        sink: MarketSink,
        resync: BookResync,
        metrics: MarketMetrics,
        *,
        book_depth: int,
        candle_grace: float,
        resync_base: float,
        resync_cap: float,
    ) -> None:
        self._sink = sink
        self._resync = resync
        self._metrics = metrics
        self._depth = book_depth
        self._grace = candle_grace
        self._resync_base = resync_base
        self._resync_cap = resync_cap
        self._books: dict[str, OrderBook] = {}
        self._failures: dict[str, int] = {}
        self._candles: dict[tuple[str, int], CandleTracker] = {}
        self._last_trade: dict[str, int] = {}
        self._counters: dict[str, Counter] = {}
        self._routes: Mapping[str, Callable[[Mapping[str, Any], int], None]] = {
            "book": self._on_book,
            "ticker": self._on_ticker,
            "trade": self._on_trade,
            "ohlc": self._on_ohlc,
        }

    # -- pairs --------------------------------------------------------------------------------

    def add_pair(self, info: PairInfo, intervals: tuple[int, ...]) -> None:
        self._books[info.symbol] = OrderBook(info, self._depth)
        self._failures[info.symbol] = 0
        for minutes in intervals:
            self._candles[info.symbol, minutes] = CandleTracker(info.symbol, minutes, self._grace)

    def remove_pair(self, symbol: str) -> None:
        self._books.pop(symbol, None)
        self._failures.pop(symbol, None)
        self._last_trade.pop(symbol, None)
        for key in [key for key in self._candles if key[0] == symbol]:
            del self._candles[key]

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    # -- messages -----------------------------------------------------------------------------

    def on_message(self, channel: str, message: Mapping[str, Any], received_ns: int) -> None:
        """One decoded channel message; malformed ones are counted, logged and dropped."""
        counter = self._counters.get(channel)
        if counter is None:
            counter = self._counters[channel] = self._metrics.messages.labels(channel)
        counter.inc()
        route = self._routes.get(channel)
        if route is None:
            return
        try:
            route(message, received_ns)
        except (MalformedMessage, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            self._metrics.malformed.inc()
            log.warning(
                "malformed market message dropped",
                extra={"channel": channel, "error": f"{type(exc).__name__}: {exc}"},
            )

    def _on_book(self, message: Mapping[str, Any], received_ns: int) -> None:
        snapshot = message.get("type") == "snapshot"
        for entry in message["data"]:
            book = self._books.get(entry["symbol"])
            if book is None or not book.apply(
                entry.get("bids", ()), entry.get("asks", ()), snapshot=snapshot
            ):
                continue
            if book.verify(int(entry["checksum"]), received_ns):
                self._failures[book.pair] = 0
                self._sink.book_changed(book)
            else:
                self._mismatch(book)

    def _mismatch(self, book: OrderBook) -> None:
        failures = self._failures[book.pair] = self._failures.get(book.pair, 0) + 1
        delay = (
            0.0 if failures == 1 else min(self._resync_cap, self._resync_base * 2 ** (failures - 2))
        )
        self._metrics.checksum_mismatches.labels(book.pair).inc()
        log.warning(
            "book checksum mismatch: resubscribing",
            extra={"pair": book.pair, "consecutive": failures, "delay_s": delay},
        )
        self._resync(book.pair, delay)

    def _on_ticker(self, message: Mapping[str, Any], received_ns: int) -> None:
        for entry in message["data"]:
            if entry["symbol"] in self._books:
                self._sink.ticker(ticker_from_wire(entry, received_ns))

    def _on_trade(self, message: Mapping[str, Any], received_ns: int) -> None:
        fresh: list[Trade] = []
        for entry in message["data"]:
            symbol = entry["symbol"]
            if symbol not in self._books:
                continue
            trade = trade_from_wire(entry, received_ns)
            # A resubscription's snapshot repeats prints already published.
            if trade.trade_id > self._last_trade.get(symbol, 0):
                self._last_trade[symbol] = trade.trade_id
                fresh.append(trade)
        if fresh:
            self._sink.trades(fresh)

    def _on_ohlc(self, message: Mapping[str, Any], received_ns: int) -> None:
        closed: list[Candle] = []
        for entry in message["data"]:
            tracker = self._candles.get((entry["symbol"], entry["interval"]))
            if tracker is not None:
                closed += tracker.update(candle_from_wire(entry))
        if closed:
            self._sink.candles(closed)

    def close_due_candles(self, now: datetime) -> None:
        """Close forming candles whose interval and grace have passed with no later entry."""
        closed = [candle for tracker in self._candles.values() for candle in tracker.due(now)]
        if closed:
            self._sink.candles(closed)
