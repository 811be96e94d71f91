"""The feed's sink tells in-process listeners of a ticker before the publisher gets it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.signal.market.book import OrderBook
from services.signal.market.model import Candle, Ticker, Trade
from services.signal.market.tap import TickerTap


class Sink:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    def ticker(self, ticker: Ticker) -> None:
        self.seen.append(f"published {ticker.pair}")

    def trades(self, trades: list[Trade]) -> None:
        self.seen.append(f"trades {len(trades)}")

    def candles(self, candles: list[Candle]) -> None:
        self.seen.append(f"candles {len(candles)}")

    def book_changed(self, book: OrderBook) -> None:
        self.seen.append("book")


def test_listeners_hear_a_ticker_before_it_is_published_and_nothing_else() -> None:
    seen: list[str] = []
    tap = TickerTap(Sink(seen))
    tap.listen(lambda t: seen.append(f"heard {t.pair}"))
    one = Decimal(1)
    ticker = Ticker(
        "BTC/USD", one, one, one, one, one, one, None, one, one, None, None,
        datetime.now(UTC), 1,
    )  # fmt: skip

    tap.ticker(ticker)
    tap.trades([])
    tap.candles([])

    assert seen == ["heard BTC/USD", "published BTC/USD", "trades 0", "candles 0"]
