"""Feeds the rule engine from market data, and gives bindings the last price.

Every replica runs one: it follows the Redis ticker and candle streams of the configured pairs
(the feed owner writes them, see ``market/``) and hands each tick and closed candle to the rule
engine. Replicas evaluate the same events and derive the same signal ids from them, so a signal
is recorded once whichever replica gets there first, and a replica's death loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from decimal import Decimal

from services.signal.market.market_data import MarketData
from services.signal.market.model import Candle, Ticker
from services.signal.market.tasks import cancel_and_wait, spawn
from services.signal.rules.engine import RuleEngine
from services.signal.rules.inputs import ClosedCandle, PriceTick

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0


def closed_candle(candle: Candle) -> ClosedCandle:
    return ClosedCandle(
        pair=candle.pair,
        interval_minutes=candle.interval_minutes,
        open_ms=int(candle.open_time.timestamp() * 1000),
        high=candle.high,
        low=candle.low,
        close=candle.close,
    )


def price_tick(ticker: Ticker) -> PriceTick:
    return PriceTick(
        pair=ticker.pair, time_ms=int(ticker.time.timestamp() * 1000), last=ticker.last
    )


class MarketHistory:
    """The rule engine's warm-up candles, from the market layer's Redis history."""

    def __init__(self, market: MarketData) -> None:
        self._market = market

    async def closed_candles(
        self, pair: str, interval_minutes: int, count: int
    ) -> Sequence[ClosedCandle]:
        candles = await self._market.history(pair, interval_minutes, count)
        return [closed_candle(c) for c in candles if c.closed]


class MarketPrices:
    """Bindings size orders of signals without a price from the pair's last trade."""

    def __init__(self, market: MarketData) -> None:
        self._market = market

    async def last_price(self, pair: str) -> Decimal | None:
        ticker = await self._market.latest_ticker(pair)
        return None if ticker is None else ticker.last


class RuleFeed:
    def __init__(
        self,
        market: MarketData,
        engine: RuleEngine,
        pairs: Sequence[str],
        intervals: Sequence[int],
    ) -> None:
        self._market = market
        self._engine = engine
        self._pairs = list(pairs)
        self._intervals = list(intervals)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [spawn(self._ticks(), "rule-feed-ticks")] + [
            spawn(self._candles(pair, minutes), f"rule-feed-candles-{pair}-{minutes}")
            for pair in self._pairs
            for minutes in self._intervals
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _ticks(self) -> None:
        while True:
            try:
                async for update in self._market.ticker_updates(self._pairs):
                    await self._engine.on_tick(price_tick(update.ticker))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed must outlive Redis blips
                log.warning("rule feed (ticks) interrupted", extra={"error": repr(exc)})
                await asyncio.sleep(_RETRY_SECONDS)

    async def _candles(self, pair: str, minutes: int) -> None:
        after = "$"
        while True:
            try:
                async for candle in self._market.candles(pair, minutes, after):
                    after = str(int(candle.open_time.timestamp() * 1000))
                    if candle.closed:
                        await self._engine.on_candle(closed_candle(candle))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the feed must outlive Redis blips
                log.warning(
                    "rule feed (candles) interrupted",
                    extra={"pair": pair, "interval": minutes, "error": repr(exc)},
                )
                await asyncio.sleep(_RETRY_SECONDS)
