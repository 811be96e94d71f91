"""Closed candles from the forming-candle updates of the ``ohlc`` channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.signal.market.candles import CandleTracker
from services.signal.market.model import Candle

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _candle(minute: int, close: str) -> Candle:
    price = Decimal(close)
    return Candle(
        pair="BTC/USD",
        interval_minutes=1,
        open_time=T0 + timedelta(minutes=minute),
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal("1.5"),
        vwap=price,
        trades=3,
        closed=False,
    )


def test_updates_of_the_forming_candle_close_nothing() -> None:
    tracker = CandleTracker("BTC/USD", 1, grace_seconds=2)

    closed = tracker.update(_candle(0, "100")) + tracker.update(_candle(0, "101"))

    assert closed == []
    assert tracker.forming == _candle(0, "101")


def test_the_next_interval_closes_the_last_value_of_the_previous() -> None:
    tracker = CandleTracker("BTC/USD", 1, grace_seconds=2)
    tracker.update(_candle(0, "100"))
    tracker.update(_candle(0, "101"))

    closed = tracker.update(_candle(1, "102"))

    assert len(closed) == 1
    assert closed[0].closed is True
    assert closed[0].close == Decimal("101")
    assert closed[0].open_time == T0


def test_late_entries_for_closed_or_older_candles_are_dropped() -> None:
    tracker = CandleTracker("BTC/USD", 1, grace_seconds=2)
    tracker.update(_candle(0, "100"))
    tracker.update(_candle(2, "102"))

    late = tracker.update(_candle(0, "99")) + tracker.update(_candle(1, "98"))

    assert late == []
    assert tracker.forming == _candle(2, "102")


def test_a_quiet_interval_closes_by_the_clock_after_the_grace() -> None:
    tracker = CandleTracker("BTC/USD", 1, grace_seconds=2)
    tracker.update(_candle(0, "100"))

    early = tracker.due(T0 + timedelta(seconds=61))
    closed = tracker.due(T0 + timedelta(seconds=62))
    late_update = tracker.update(_candle(0, "105"))

    assert early == []
    assert [c.close for c in closed] == [Decimal("100")]
    assert closed[0].closed
    assert late_update == []
    assert tracker.due(T0 + timedelta(hours=1)) == []
