"""The market-data values the signal service works with: tickers, trades, candles, book views.

Every price and quantity is a ``Decimal`` made from the exact digits Kraken sent. Events carry
``received_ns``, the wall-clock time in nanoseconds at which the WebSocket message arrived, so
tick-to-trade latency can be measured downstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

OHLC_INTERVALS = frozenset({1, 5, 15, 30, 60, 240, 1440, 10080, 21600})
"""Candle intervals in minutes, as Kraken's REST ``OHLC`` accepts them (kraken.md §4.1)."""


@dataclass(frozen=True, slots=True)
class PairInfo:
    """A pair's wire precision, from ``AssetPairs``: the book checksum is formatted with it."""

    symbol: str
    price_decimals: int
    qty_decimals: int


@dataclass(frozen=True, slots=True)
class Ticker:
    """Latest market summary of a pair (WebSocket v2 ``ticker``; 24 h figures are rolling).

    ``time`` is the exchange's timestamp when the message carried one, else the receive time.
    """

    pair: str
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    last: Decimal
    volume: Decimal
    vwap: Decimal | None
    low: Decimal
    high: Decimal
    change: Decimal | None
    change_pct: Decimal | None
    time: datetime
    received_ns: int


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """One ticker of a stream: ``snapshot`` marks the latest known one sent first."""

    ticker: Ticker
    snapshot: bool


@dataclass(frozen=True, slots=True)
class Trade:
    """One print of the ``trade`` channel; ``side`` is the taker's, ``buy`` or ``sell``."""

    pair: str
    trade_id: int
    side: str
    price: Decimal
    qty: Decimal
    time: datetime
    received_ns: int


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLC candle; ``closed`` is false for the interval still forming."""

    pair: str
    interval_minutes: int
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    vwap: Decimal | None
    trades: int
    closed: bool


@dataclass(frozen=True, slots=True)
class BookView:
    """The verified top of a pair's book: bids best first, asks best first, as (price, qty)."""

    pair: str
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]
    checksum: int
    received_ns: int
