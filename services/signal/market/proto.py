"""Pure conversions from market values to the ``trading.signal.v1`` messages.

With them GetTicker is ``GetTickerResponse(ticker=ticker_message(await market.latest_ticker(p)))``
and StreamTickers maps ``ticker_update_message`` over ``market.ticker_updates(pairs)``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from services.signal.market.model import Ticker, TickerUpdate
from trading.signal.v1 import signal_pb2

INTERVAL_MINUTES: dict[signal_pb2.CandleInterval.ValueType, int] = {
    signal_pb2.CANDLE_INTERVAL_1M: 1,
    signal_pb2.CANDLE_INTERVAL_5M: 5,
    signal_pb2.CANDLE_INTERVAL_15M: 15,
    signal_pb2.CANDLE_INTERVAL_30M: 30,
    signal_pb2.CANDLE_INTERVAL_1H: 60,
    signal_pb2.CANDLE_INTERVAL_4H: 240,
    signal_pb2.CANDLE_INTERVAL_1D: 1440,
    signal_pb2.CANDLE_INTERVAL_1W: 10080,
    signal_pb2.CANDLE_INTERVAL_15D: 21600,
}
"""A rule's ``CandleInterval`` in minutes, as the candle streams are keyed."""


def _text(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def ticker_message(ticker: Ticker) -> signal_pb2.Ticker:
    """A ticker as the API carries it: decimal strings, never exponent notation."""
    return signal_pb2.Ticker(
        pair=ticker.pair,
        bid=_text(ticker.bid),
        bid_qty=_text(ticker.bid_qty),
        ask=_text(ticker.ask),
        ask_qty=_text(ticker.ask_qty),
        last=_text(ticker.last),
        volume=_text(ticker.volume),
        vwap=_text(ticker.vwap),
        low=_text(ticker.low),
        high=_text(ticker.high),
        change=_text(ticker.change),
        change_pct=_text(ticker.change_pct),
        time=_timestamp(ticker.time),
    )


def ticker_update_message(update: TickerUpdate) -> signal_pb2.TickerUpdate:
    return signal_pb2.TickerUpdate(ticker=ticker_message(update.ticker), snapshot=update.snapshot)
