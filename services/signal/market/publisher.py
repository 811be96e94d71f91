"""Writes the owner's market events to Redis, so every replica can serve them.

The feed hands events over without waiting; one task drains the queue and writes each batch
as one pipeline. Books are conflated: a batch writes each changed book once, as it is at that
moment. When Redis fails the batch is lost (counted and logged) rather than replayed late:
these are live prices. A full queue drops its oldest events.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from services.signal.market import codec, keys
from services.signal.market.book import OrderBook
from services.signal.market.metrics import MarketMetrics
from services.signal.market.model import Candle, Ticker, Trade
from services.signal.market.tasks import YieldTo, raise_if_cancelled

log = logging.getLogger(__name__)

QUEUE_LIMIT = 50_000
_RETRY_AFTER_FAILURE = 0.5
_STALE_ID = "equal or smaller than the target stream top item"

Event = Ticker | Trade | Candle


class MarketPublisher:
    """The feed's :class:`~services.signal.market.feed.MarketSink` onto Redis."""

    def __init__(
        self,
        client: aioredis.Redis,
        metrics: MarketMetrics,
        *,
        ticks_maxlen: int,
        trades_maxlen: int,
        candles_maxlen: int,
        yield_to: YieldTo | None = None,
    ) -> None:
        self._redis = client
        self._yield_to = yield_to
        self._metrics = metrics
        self._ticks_maxlen = ticks_maxlen
        self._trades_maxlen = trades_maxlen
        self._candles_maxlen = candles_maxlen
        self._events: deque[Event] = deque()
        self._books: dict[str, OrderBook] = {}
        self._wake = asyncio.Event()

    # -- MarketSink ---------------------------------------------------------------------------

    def ticker(self, ticker: Ticker) -> None:
        self._push(ticker)

    def trades(self, trades: list[Trade]) -> None:
        for trade in trades:
            self._push(trade)

    def candles(self, candles: list[Candle]) -> None:
        for candle in candles:
            self._push(candle)

    def book_changed(self, book: OrderBook) -> None:
        self._books[book.pair] = book
        self._wake.set()

    def _push(self, event: Event) -> None:
        if len(self._events) >= QUEUE_LIMIT:
            self._events.popleft()
            self._metrics.dropped_events.inc()
        self._events.append(event)
        self._wake.set()

    # -- writer -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Write batches until cancelled."""
        while True:
            await self._wake.wait()
            if self._yield_to is not None:
                # A tick that trades goes first: its record and order, then the market data.
                await self._yield_to()
            self._wake.clear()
            written = await self.flush()
            raise_if_cancelled()
            if not written:
                await asyncio.sleep(_RETRY_AFTER_FAILURE)

    async def flush(self) -> bool:
        """Write everything queued now as one pipeline; false when Redis failed."""
        events = list(self._events)
        self._events.clear()
        books = [book.view() for book in self._books.values() if book.synced]
        self._books.clear()
        if not events and not books:
            return True
        pipe = self._redis.pipeline(transaction=False)
        kinds: dict[str, int] = {}
        for event in events:
            kind = self._queue(pipe, event)
            kinds[kind] = kinds.get(kind, 0) + 1
        for view in books:
            pipe.set(keys.book(view.pair), codec.book_json(view))
        if books:
            kinds["book"] = len(books)
        try:
            results = await pipe.execute(raise_on_error=False)
        except (redis.exceptions.RedisError, OSError) as exc:
            self._metrics.publish_failures.inc()
            log.warning(
                "market events lost: redis failed",
                extra={"events": len(events) + len(books), "error": f"{type(exc).__name__}: {exc}"},
            )
            return False
        self._report_errors(results)
        for kind, count in kinds.items():
            self._metrics.published.labels(kind).inc(count)
        return True

    def _queue(self, pipe: Any, event: Event) -> str:
        if isinstance(event, Ticker):
            fields = codec.ticker_fields(event)
            pipe.hset(keys.ticker(event.pair), mapping=fields)
            pipe.xadd(keys.ticks(event.pair), fields, maxlen=self._ticks_maxlen, approximate=True)
            return "ticker"
        if isinstance(event, Trade):
            pipe.xadd(
                keys.trades(event.pair),
                codec.trade_fields(event),
                maxlen=self._trades_maxlen,
                approximate=True,
            )
            return "trade"
        pipe.xadd(
            keys.candles(event.pair, event.interval_minutes),
            codec.candle_fields(event),
            id=keys.candle_entry_id(event.open_time),
            maxlen=self._candles_maxlen,
            approximate=True,
        )
        return "candle"

    @staticmethod
    def _report_errors(results: list[Any]) -> None:
        for result in results:
            # A candle some owner already wrote is refused by its id: that is the dedupe.
            if isinstance(result, redis.exceptions.ResponseError) and _STALE_ID not in str(result):
                log.warning("redis refused a market event", extra={"error": str(result)})
