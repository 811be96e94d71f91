"""Market events survive the trip through Redis fields unchanged, digits and times exact."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.signal.market import codec, keys
from services.signal.market.model import BookView, Candle, Ticker, Trade

MOMENT = datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)


def test_ticker_round_trip_keeps_exact_digits_and_absent_fields() -> None:
    ticker = Ticker(
        pair="BTC/USD",
        bid=Decimal("65000.10"),
        bid_qty=Decimal("0.00000001"),
        ask=Decimal("65000.2"),
        ask_qty=Decimal("1E-8"),
        last=Decimal("65000"),
        volume=Decimal("1234.56789012"),
        vwap=None,
        low=Decimal("64000.0"),
        high=Decimal("66000.0"),
        change=Decimal("-12.5"),
        change_pct=None,
        time=MOMENT,
        received_ns=1_767_614_400_123_456_789,
    )

    fields = codec.ticker_fields(ticker)

    assert fields["ask_qty"] == "0.00000001"
    assert fields["vwap"] == ""
    assert codec.ticker_from_fields(fields) == ticker


def test_trade_candle_and_book_round_trip() -> None:
    trade = Trade("ETH/USD", 17, "sell", Decimal("3200.01"), Decimal("0.5"), MOMENT, 99)
    candle = Candle(
        "ETH/USD",
        60,
        datetime(2026, 1, 5, 12, tzinfo=UTC),
        Decimal("1"),
        Decimal("2"),
        Decimal("0.5"),
        Decimal("1.5"),
        Decimal("10"),
        Decimal("1.25"),
        12,
        closed=True,
    )
    book = BookView(
        "ETH/USD",
        bids=((Decimal("3200.00"), Decimal("1.5")),),
        asks=((Decimal("3200.01"), Decimal("0.25")),),
        checksum=123,
        received_ns=5,
    )

    assert codec.trade_from_fields(codec.trade_fields(trade)) == trade
    assert codec.candle_from_fields(codec.candle_fields(candle)) == candle
    assert codec.book_from_json(codec.book_json(book)) == book


def test_candle_entry_id_is_its_open_time_in_milliseconds() -> None:
    assert keys.candle_entry_id(datetime(2026, 1, 5, 12, tzinfo=UTC)) == "1767614400000-0"
