"""MarketFeed: channel messages of owned pairs become events; a bad checksum asks for a resync."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.common.book_checksum import book_checksum
from services.signal.market.book import OrderBook
from services.signal.market.feed import MarketFeed
from services.signal.market.metrics import MarketMetrics
from services.signal.market.model import Candle, PairInfo, Ticker, Trade
from services.signal.market.wire import decode

BTC = PairInfo("BTC/USD", 1, 8)


class Recorder:
    def __init__(self) -> None:
        self.tickers: list[Ticker] = []
        self.trade_batches: list[list[Trade]] = []
        self.closed: list[Candle] = []
        self.books: list[OrderBook] = []
        self.resyncs: list[tuple[str, float]] = []

    def ticker(self, ticker: Ticker) -> None:
        self.tickers.append(ticker)

    def trades(self, trades: list[Trade]) -> None:
        self.trade_batches.append(trades)

    def candles(self, candles: list[Candle]) -> None:
        self.closed += candles

    def book_changed(self, book: OrderBook) -> None:
        self.books.append(book)

    def resync(self, pair: str, delay: float) -> None:
        self.resyncs.append((pair, delay))


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def feed(recorder: Recorder, registry: CollectorRegistry) -> MarketFeed:
    feed = MarketFeed(
        recorder,
        recorder.resync,
        MarketMetrics(registry),
        book_depth=10,
        candle_grace=2,
        resync_base=0.25,
        resync_cap=10,
    )
    feed.add_pair(BTC, (1,))
    return feed


def _send(feed: MarketFeed, text: str, received_ns: int = 1_700_000_000_000_000_000) -> None:
    message: dict[str, Any] = decode(text)
    feed.on_message(message["channel"], message, received_ns)


BIDS = [("100.0", "1.5"), ("99.9", "2")]
ASKS = [("100.1", "0.25"), ("100.2", "3")]


def _book_message(
    kind: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], checksum: int
) -> str:
    def side(levels: list[tuple[str, str]]) -> str:
        return ",".join(f'{{"price":{p},"qty":{q}}}' for p, q in levels)

    return (
        f'{{"channel":"book","type":"{kind}","data":[{{"symbol":"BTC/USD",'
        f'"bids":[{side(bids)}],"asks":[{side(asks)}],"checksum":{checksum}}}]}}'
    )


def _checksum(bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> int:
    def levels(rows: list[tuple[str, str]]) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(p), Decimal(q)) for p, q in rows]

    return book_checksum(levels(asks), levels(bids), 1, 8)


def test_ticker_of_an_owned_pair_becomes_an_event(feed: MarketFeed, recorder: Recorder) -> None:
    _send(
        feed,
        '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":65000.1,'
        '"bid_qty":0.5,"ask":65000.2,"ask_qty":1.25,"last":65000,"volume":12.5,"vwap":64990.5,'
        '"low":64000,"high":66000,"change":100.5,"change_pct":0.15}]}',
        received_ns=1_767_614_400_123_456_789,
    )
    _send(
        feed,
        '{"channel":"ticker","type":"update","data":[{"symbol":"ETH/USD","bid":1,"bid_qty":1,'
        '"ask":1,"ask_qty":1,"last":1,"volume":1,"low":1,"high":1}]}',
    )

    (ticker,) = recorder.tickers
    assert ticker.pair == "BTC/USD"
    assert ticker.bid == Decimal("65000.1")
    assert ticker.last == Decimal(65000)
    assert ticker.vwap == Decimal("64990.5")
    assert ticker.received_ns == 1_767_614_400_123_456_789
    assert ticker.time == datetime(2026, 1, 5, 12, 0, 0, 123456, tzinfo=UTC)  # no exchange time


def test_verified_book_messages_reach_the_sink(feed: MarketFeed, recorder: Recorder) -> None:
    _send(feed, _book_message("snapshot", BIDS, ASKS, _checksum(BIDS, ASKS)))
    bids = [("100.0", "0"), ("99.9", "2")]
    _send(feed, _book_message("update", [("100.0", "0")], [], _checksum(bids[1:], ASKS)))

    book = feed.book("BTC/USD")
    assert book is not None
    assert book.synced
    assert len(recorder.books) == 2
    assert book.view().bids == ((Decimal("99.9"), Decimal(2)),)
    assert recorder.resyncs == []


def test_a_wrong_checksum_resyncs_at_once_then_with_growing_delays(
    feed: MarketFeed, recorder: Recorder, registry: CollectorRegistry
) -> None:
    good = _checksum(BIDS, ASKS)
    _send(feed, _book_message("snapshot", BIDS, ASKS, good))
    _send(feed, _book_message("update", [("100.0", "1.6")], [], good))
    _send(feed, _book_message("update", [("100.0", "1.7")], [], good))  # ignored: unsynced
    _send(feed, _book_message("snapshot", BIDS, ASKS, good + 1))
    _send(feed, _book_message("snapshot", BIDS, ASKS, good + 1))
    _send(feed, _book_message("snapshot", BIDS, ASKS, good))

    assert recorder.resyncs == [("BTC/USD", 0.0), ("BTC/USD", 0.25), ("BTC/USD", 0.5)]
    mismatches = registry.get_sample_value(
        "signal_market_book_checksum_mismatches_total", {"pair": "BTC/USD"}
    )
    assert mismatches == 3
    book = feed.book("BTC/USD")
    assert book is not None
    assert book.synced
    _send(feed, _book_message("update", [("100.0", "1.6")], [], good + 7))
    assert recorder.resyncs[-1] == ("BTC/USD", 0.0)


def test_trades_repeated_by_a_snapshot_are_published_once(
    feed: MarketFeed, recorder: Recorder
) -> None:
    def trade(trade_id: int) -> str:
        return (
            f'{{"symbol":"BTC/USD","side":"buy","price":65000.1,"qty":0.01,"ord_type":"market",'
            f'"trade_id":{trade_id},"timestamp":"2026-01-05T12:00:00.123456Z"}}'
        )

    _send(feed, f'{{"channel":"trade","type":"snapshot","data":[{trade(1)},{trade(2)}]}}')
    _send(feed, f'{{"channel":"trade","type":"snapshot","data":[{trade(2)},{trade(3)}]}}')

    published = [[t.trade_id for t in batch] for batch in recorder.trade_batches]
    assert published == [[1, 2], [3]]
    assert recorder.trade_batches[0][0].price == Decimal("65000.1")


def test_ohlc_entries_of_a_new_interval_close_the_previous_candle(
    feed: MarketFeed, recorder: Recorder
) -> None:
    def entry(begin: str, close: str) -> str:
        return (
            f'{{"symbol":"BTC/USD","open":100.0,"high":101.0,"low":99.0,"close":{close},'
            f'"trades":4,"volume":2.5,"vwap":100.2,"interval_begin":"{begin}","interval":1}}'
        )

    _send(
        feed,
        '{"channel":"ohlc","type":"snapshot","data":['
        f"{entry('2026-01-05T12:00:00.000000000Z', '100.5')},"
        f"{entry('2026-01-05T12:01:00.000000000Z', '100.7')}]}}",
    )
    _send(
        feed,
        f'{{"channel":"ohlc","type":"update","data":[{entry("2026-01-05T12:02:00Z", "100.9")}]}}',
    )

    assert [(c.open_time.minute, c.close, c.closed) for c in recorder.closed] == [
        (0, Decimal("100.5"), True),
        (1, Decimal("100.7"), True),
    ]


def test_malformed_messages_are_counted_and_dropped(
    feed: MarketFeed, recorder: Recorder, registry: CollectorRegistry
) -> None:
    _send(feed, '{"channel":"ticker","type":"update","data":[{"symbol":"BTC/USD","bid":"x"}]}')
    _send(feed, '{"channel":"book","type":"update","data":[{"symbol":"BTC/USD"}]}')
    _send(feed, '{"channel":"book","type":"snapshot","data":[{"symbol":"BTC/USD","bids":[{}]}]}')

    assert recorder.tickers == []
    assert registry.get_sample_value("signal_market_ws_malformed_total") == 2


def test_removed_pairs_are_ignored(feed: MarketFeed, recorder: Recorder) -> None:
    feed.remove_pair("BTC/USD")

    _send(feed, _book_message("snapshot", BIDS, ASKS, _checksum(BIDS, ASKS)))

    assert feed.book("BTC/USD") is None
    assert recorder.books == []
