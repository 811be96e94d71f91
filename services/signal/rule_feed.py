"""Feeds the rule engine from market data, and gives bindings the last price.

Every replica runs one: it follows the Redis ticker and candle streams of the configured pairs
(the feed owner writes them, see ``market/``) and hands each tick and closed candle to the rule
engine. Replicas evaluate the same events and derive the same signal ids from them, so a signal
is recorded once whichever replica gets there first, and a replica's death loses nothing.

The owner of a pair's feed does not wait for its own ticks to come back through Redis: it
evaluates each ticker as its WebSocket delivers it, and skips that ticker's copy in the stream
(known by its receive stamp), so each replica evaluates each tick once. Its evaluation and the
recording of what fires hold the market-data work back (trading_first.py): a signal recorded
here is then traded here at once, under a turn of its own (bindings/consumer.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from services.signal.market.market_data import MarketData
from services.signal.market.model import Candle, Ticker
from services.signal.market.tasks import cancel_and_wait, spawn
from services.signal.rules.engine import RuleEngine
from services.signal.rules.inputs import ClosedCandle, PriceTick
from services.signal.trading_first import TradingFirst

log = logging.getLogger(__name__)

_RETRY_SECONDS = 1.0
# Receive stamps of own ticks whose stream copy has not come back yet, per pair: a bound for
# when publishing fails and copies never come.
_OWN_TICKS_KEPT = 10_000
# Own tickers waiting for evaluation. Evaluation only falls this far behind when it keeps
# failing (Redis down: each try waits out its 1 s timeout, so the last of 1,000 waiting would be
# evaluated some 1,000 s late, far past SIGNAL_MAX_DELAY, and never traded). The oldest are then
# dropped. Price rules see the later tickers: a crossing that reversed within the dropped ones
# is missed, one that held is not.
OWN_QUEUE_MAX = 1_000


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


class OwnTicks:
    """The tickers this replica evaluated from its own WebSocket, until their stream copies
    come back; a copy is known by its pair and its receive stamp (``received_ns``)."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[int]] = {}

    def add(self, ticker: Ticker) -> None:
        pending = self._pending.get(ticker.pair)
        if pending is None:
            pending = self._pending[ticker.pair] = deque(maxlen=_OWN_TICKS_KEPT)
        pending.append(ticker.received_ns)

    def returned(self, ticker: Ticker) -> bool:
        """Whether ``ticker`` (read from the stream) is the copy of one evaluated already."""
        pending = self._pending.get(ticker.pair)
        # Copies come back in order: older stamps still pending were never published.
        while pending and pending[0] < ticker.received_ns:
            pending.popleft()
        if pending and pending[0] == ticker.received_ns:
            pending.popleft()
            return True
        return False


class RuleFeed:
    def __init__(
        self,
        market: MarketData,
        engine: RuleEngine,
        pairs: Sequence[str],
        intervals: Sequence[int],
        trading_first: TradingFirst | None = None,
    ) -> None:
        self._market = market
        self._first = trading_first or TradingFirst(0)
        self._engine = engine
        self._pairs = list(pairs)
        self._intervals = list(intervals)
        self._tasks: list[asyncio.Task[None]] = []
        self._own = OwnTicks()
        self._own_queue: asyncio.Queue[Ticker] = asyncio.Queue(maxsize=OWN_QUEUE_MAX)
        self.dropped_own_ticks = 0

    def start(self) -> None:
        self._market.listen_to_own_tickers(self._on_own_ticker)
        self._tasks = [
            spawn(self._ticks(), "rule-feed-ticks"),
            spawn(self._own_ticks(), "rule-feed-own-ticks"),
        ] + [
            spawn(self._candles(pair, minutes), f"rule-feed-candles-{pair}-{minutes}")
            for pair in self._pairs
            for minutes in self._intervals
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    def _on_own_ticker(self, ticker: Ticker) -> None:
        # Noted here, inside the WebSocket reader, so it is noted before any copy can be read.
        self._own.add(ticker)
        if self._own_queue.full():
            self._own_queue.get_nowait()
            self.dropped_own_ticks += 1
            if self.dropped_own_ticks % OWN_QUEUE_MAX == 1:
                log.warning(
                    "rule evaluation is behind: oldest own tickers dropped",
                    extra={"dropped": self.dropped_own_ticks, "waiting": OWN_QUEUE_MAX},
                )
        self._own_queue.put_nowait(ticker)

    async def _own_ticks(self) -> None:
        while True:
            ticker = await self._own_queue.get()
            turn = self._first.begin()
            try:
                await self._engine.on_tick(price_tick(ticker))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad tick must not end the feed
                log.warning("rule feed (own ticks) failed", extra={"error": repr(exc)})
            finally:
                turn.done()

    async def _ticks(self) -> None:
        while True:
            try:
                async for update in self._market.ticker_updates(self._pairs):
                    if not self._own.returned(update.ticker):
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
