"""The feed's sink: each ticker goes to in-process listeners first, then everything to Redis.

A listener (the rule feed of this replica) sees a ticker of a pair this replica owns as soon as
the WebSocket delivers it, without the round trip through the Redis stream; it is called inside
the WebSocket reader, so it must return at once.
"""

from __future__ import annotations

from collections.abc import Callable

from services.signal.market.book import OrderBook
from services.signal.market.feed import MarketSink
from services.signal.market.model import Candle, Ticker, Trade

TickerListener = Callable[[Ticker], None]


class TickerTap:
    """A :class:`MarketSink` in front of another (the publisher) that also tells listeners."""

    def __init__(self, sink: MarketSink) -> None:
        self._sink = sink
        self._listeners: list[TickerListener] = []

    def listen(self, listener: TickerListener) -> None:
        self._listeners.append(listener)

    def ticker(self, ticker: Ticker) -> None:
        for listener in self._listeners:
            listener(ticker)
        self._sink.ticker(ticker)

    def trades(self, trades: list[Trade]) -> None:
        self._sink.trades(trades)

    def candles(self, candles: list[Candle]) -> None:
        self._sink.candles(candles)

    def book_changed(self, book: OrderBook) -> None:
        self._sink.book_changed(book)
