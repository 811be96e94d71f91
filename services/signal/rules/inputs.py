"""What rules are evaluated on: closed candles and last-trade prices, as plain values.

The market-data layer converts its own candles and tickers into these, so the evaluators do not
depend on where market data comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.common.v1 import common_pb2


@dataclass(frozen=True)
class ClosedCandle:
    """One closed OHLC candle of a pair; ``open_ms`` is its start, Unix milliseconds."""

    pair: str
    interval_minutes: int
    open_ms: int
    high: Decimal
    low: Decimal
    close: Decimal

    @property
    def close_ms(self) -> int:
        return self.open_ms + self.interval_minutes * 60_000


@dataclass(frozen=True)
class PriceTick:
    """The last trade price of a pair at exchange time ``time_ms`` (Unix milliseconds)."""

    pair: str
    time_ms: int
    last: Decimal


@dataclass(frozen=True)
class Firing:
    """A rule fired: the signal's side, why, the market price, and the event's time.

    ``event_ms`` identifies the event (a candle's open time, a tick's time): the same event always
    gives the same signal key, however often it is evaluated. ``time_ms`` is the signal's time.
    """

    side: common_pb2.Side.ValueType
    reason: str
    price: Decimal
    event_ms: int
    time_ms: int
