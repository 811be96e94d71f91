"""Conversions to the trading.signal.v1 messages the servicer answers with."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.signal.market.model import Ticker, TickerUpdate
from services.signal.market.proto import INTERVAL_MINUTES, ticker_message, ticker_update_message
from trading.signal.v1 import signal_pb2

TICKER = Ticker(
    pair="BTC/USD",
    bid=Decimal("65000.1"),
    bid_qty=Decimal("1E-8"),
    ask=Decimal("65000.2"),
    ask_qty=Decimal("2.5"),
    last=Decimal("65000.0"),
    volume=Decimal("100"),
    vwap=None,
    low=Decimal("64000.0"),
    high=Decimal("66000.0"),
    change=Decimal("1.5"),
    change_pct=Decimal("0.01"),
    time=datetime(2026, 1, 5, 12, 0, 0, 250000, tzinfo=UTC),
    received_ns=1,
)


def test_ticker_message_carries_decimal_strings_and_the_exchange_time() -> None:
    message = ticker_message(TICKER)

    assert message.pair == "BTC/USD"
    assert message.bid == "65000.1"
    assert message.bid_qty == "0.00000001"
    assert message.last == "65000.0"
    assert message.vwap == ""
    assert message.change_pct == "0.01"
    assert message.time.seconds == 1767614400
    assert message.time.nanos == 250_000_000


def test_ticker_update_message_keeps_the_snapshot_flag() -> None:
    message = ticker_update_message(TickerUpdate(TICKER, snapshot=True))

    assert message.snapshot is True
    assert message.ticker.ask == "65000.2"


def test_every_candle_interval_but_unspecified_has_minutes() -> None:
    named = set(signal_pb2.CandleInterval.values()) - {signal_pb2.CANDLE_INTERVAL_UNSPECIFIED}

    assert set(INTERVAL_MINUTES) == named
    assert INTERVAL_MINUTES[signal_pb2.CANDLE_INTERVAL_1H] == 60
