"""The feed against a real paper exchange and redis-server: tickers, a verified book that equals
the exchange's, candles backfilled, and recovery from dropped, silent and corrupted feeds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

import pytest

from services.signal.market import MarketData
from services.signal.market.model import Ticker
from services.signal.trading_first import TradingFirst, Turn
from tests.integration.signal.market.conftest import (
    PAIRS,
    eventually,
    exchange_book,
    market_settings,
    same_book,
)
from tests.support.paper_exchange import PaperExchange

pytestmark = pytest.mark.integration

StartMarket = Callable[..., Awaitable[MarketData]]


def metric(market: MarketData, name: str, **labels: str) -> float:
    return market.metrics.registry.get_sample_value(name, labels) or 0.0


def ws_faults(paper: PaperExchange, kind: str, **spec: object) -> dict[str, object]:
    response = paper.http.post("/_paper/ws/faults", json={"kind": kind, **spec})
    response.raise_for_status()
    applied: dict[str, object] = response.json()
    return applied


async def _synced(market: MarketData, paper: PaperExchange, pair: str = "BTC/USD") -> None:
    async def matches() -> bool:
        return same_book(await market.book(pair), exchange_book(paper, pair))

    await eventually(matches, what=f"{pair} book equal to the exchange's")


async def test_tickers_and_books_match_the_exchange(
    paper: PaperExchange, start_market: StartMarket
) -> None:
    market = await start_market(market_settings(paper), "solo")

    async def has_tickers() -> bool:
        return all([await market.latest_ticker(pair) is not None for pair in PAIRS])

    await eventually(has_tickers, what="a ticker per pair")
    for pair in PAIRS:
        await _synced(market, paper, pair)
    feed = paper.stats()["websocket"]

    assert market.owned_pairs() == frozenset(PAIRS)
    assert feed["connections"] == 1
    assert feed["subscriptions"] == {"book": 2, "ticker": 2, "trade": 2, "ohlc": 2}
    ticker = await market.latest_ticker("BTC/USD")
    assert ticker is not None
    assert ticker.bid < ticker.ask
    assert ticker.received_ns > 0

    paper.set_price("BTC/USD", "61234.5")

    async def moved() -> bool:
        latest = await market.latest_ticker("BTC/USD")
        return latest is not None and latest.last == Decimal("61234.5")

    await eventually(moved, what="the new last price")
    await _synced(market, paper)
    async with asyncio.timeout(5):
        async for trade in market.trades("BTC/USD", after_id="0"):
            if trade.price == Decimal("61234.5"):
                break

    assert trade.pair == "BTC/USD"
    assert metric(market, "signal_market_book_checksum_mismatches_total", pair="BTC/USD") == 0
    assert metric(market, "signal_market_ws_malformed_total") == 0
    for channel in ("ticker", "trade", "book", "ohlc"):
        assert metric(market, "signal_market_ws_messages_total", channel=channel) > 0
        assert metric(market, "signal_market_ws_refused_requests_total", channel=channel) == 0


async def test_market_data_waits_while_a_tick_trades(paper: PaperExchange, redis_url: str) -> None:
    """A turn begun for an own ticker (the rule feed does so for its evaluation) holds back the
    messages queued behind that ticker and every write to Redis; once it is done, they follow."""
    first = TradingFirst(30.0)
    turns: list[Turn] = []
    market = MarketData(
        market_settings(paper, pairs=("BTC/USD",)),
        redis_url,
        owner_id="trader",
        yield_to=first.turn,
    )

    def trade_on(ticker: Ticker) -> None:
        if ticker.last == Decimal("61500.5"):
            turns.append(first.begin())

    market.listen_to_own_tickers(trade_on)
    await market.start()
    try:
        await _synced(market, paper)
        trades, books = (
            metric(market, "signal_market_ws_messages_total", channel=channel)
            for channel in ("trade", "book")
        )

        paper.set_price("BTC/USD", "61500.5")

        async def trading() -> bool:
            return bool(turns)

        async def published() -> bool:
            latest = await market.latest_ticker("BTC/USD")
            return latest is not None and latest.last == Decimal("61500.5")

        await eventually(trading, what="the ticker of the move")
        await asyncio.sleep(0.5)
        assert not await published()
        assert metric(market, "signal_market_ws_messages_total", channel="trade") == trades
        assert metric(market, "signal_market_ws_messages_total", channel="book") == books

        turns[0].done()

        await eventually(published, what="the ticker in Redis")
        await _synced(market, paper)
        assert metric(market, "signal_market_ws_messages_total", channel="trade") > trades
    finally:
        await market.stop()


async def test_backfilled_candles_are_history_and_a_stream(
    paper: PaperExchange, start_market: StartMarket
) -> None:
    market = await start_market(market_settings(paper, backfill_count=30), "solo")
    (rows,) = [
        rows
        for name, rows in paper.public("OHLC", pair="BTC/USD", interval=1)["result"].items()
        if name != "last"
    ]

    async def backfilled() -> bool:
        return len(await market.history("BTC/USD", 1, 100)) >= 30

    await eventually(backfilled, what="30 candles of history")
    history = await market.history("BTC/USD", 1, 30)
    streamed = []
    async for candle in market.candles("BTC/USD", 1, after_id="0"):
        streamed.append(candle)
        if len(streamed) == 30:
            break

    committed = rows[:-1][-30:]
    assert streamed == history
    assert all(candle.closed for candle in history)
    assert [int(c.open_time.timestamp()) for c in history] == [row[0] for row in committed]
    assert [c.close for c in history] == [Decimal(row[4]) for row in committed]
    assert [c.volume for c in history] == [Decimal(row[6]) for row in committed]


async def test_corrupt_checksum_resubscribes_and_rebuilds_the_book(
    paper: PaperExchange, start_market: StartMarket
) -> None:
    market = await start_market(market_settings(paper), "solo")
    await _synced(market, paper)
    ws_faults(paper, "corrupt_checksum", symbol="BTC/USD", count=1)

    paper.set_price("BTC/USD", "62000.0")

    async def detected() -> bool:
        return metric(market, "signal_market_book_checksum_mismatches_total", pair="BTC/USD") >= 1

    await eventually(detected, what="the checksum mismatch")
    await _synced(market, paper)
    assert paper.stats()["websocket"]["faults"]["corrupt_checksum"] == 1
    assert metric(market, "signal_market_book_checksum_mismatches_total", pair="BTC/USD") == 1
    assert metric(market, "signal_market_book_checksum_mismatches_total", pair="ETH/USD") == 0
    paper.set_price("BTC/USD", "62100.0")
    await _synced(market, paper)


async def test_dropped_connection_reconnects_and_resyncs(
    paper: PaperExchange, start_market: StartMarket
) -> None:
    market = await start_market(market_settings(paper), "solo")
    await _synced(market, paper)

    applied = ws_faults(paper, "drop")

    async def reconnected() -> bool:
        return metric(market, "signal_market_ws_connects_total") >= 2

    await eventually(reconnected, what="a second connection")
    paper.set_price("BTC/USD", "63000.0")

    async def ticking() -> bool:
        latest = await market.latest_ticker("BTC/USD")
        return latest is not None and latest.last == Decimal("63000.0")

    await eventually(ticking, what="tickers after the reconnect")
    await _synced(market, paper)
    assert applied["connections"] == 1
    assert paper.stats()["websocket"]["connections"] == 1
    assert (
        metric(market, "signal_market_ws_disconnects_total", reason="closed")
        + metric(market, "signal_market_ws_disconnects_total", reason="error")
        == 1
    )


async def test_a_silent_connection_is_stale_and_replaced(
    paper: PaperExchange, start_market: StartMarket
) -> None:
    market = await start_market(market_settings(paper, stale_seconds=1.5), "solo")
    await _synced(market, paper)

    ws_faults(paper, "stall", seconds=5)

    async def replaced() -> bool:
        return metric(market, "signal_market_ws_connects_total") >= 2

    took = await eventually(replaced, what="a fresh connection after silence")
    paper.set_price("BTC/USD", "64000.0")
    await _synced(market, paper)
    assert metric(market, "signal_market_ws_disconnects_total", reason="stale") == 1
    assert took < 5
