"""The signal service's market data: one facade over the feed, the leases and Redis.

Each replica runs :class:`MarketData`. Pairs are shared out by Redis leases (:mod:`.ownership`):
the owner of a pair loads its precision and past candles over REST, subscribes its ``ticker``,
``trade``, ``book`` and ``ohlc`` channels on its one WebSocket, verifies the book, and
publishes the events to Redis (:mod:`.publisher`, keys in :mod:`.keys`). Every replica, owner
or not, answers reads from Redis (:mod:`.reader`), so a gRPC call or a rule may land anywhere.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from prometheus_client import CollectorRegistry

from services.common.redis_client import open_redis
from services.signal.market.backoff import Backoff
from services.signal.market.errors import KrakenPublicError
from services.signal.market.feed import MarketFeed
from services.signal.market.lease import PairLeases
from services.signal.market.metrics import MarketMetrics
from services.signal.market.model import BookView, Candle, Ticker, TickerUpdate, Trade
from services.signal.market.ownership import FeedOwnership
from services.signal.market.publisher import MarketPublisher
from services.signal.market.reader import BLOCK_MS, MarketReader
from services.signal.market.rest import KrakenPublicRest
from services.signal.market.settings import MarketSettings
from services.signal.market.tap import TickerListener, TickerTap
from services.signal.market.tasks import YieldTo, cancel_and_wait, raise_if_cancelled, spawn
from services.signal.market.ws_client import KrakenWebSocket, Subscription

log = logging.getLogger(__name__)

T = TypeVar("T")

CANDLE_CLOCK_SECONDS = 1.0
BACKFILL_ATTEMPTS = 3


def default_owner_id() -> str:
    """Host, process and a random suffix: unique per running instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class MarketData:
    """Market data for the signal service, from any replica.

    ``start()`` joins the lease rounds and starts feeding the pairs it wins; ``stop()`` ends
    the feed and, unless told not to, hands its pairs back at once. The read methods work on
    every replica whether it owns the pair or not. ``yield_to``, when given, is awaited after
    each ticker and before each write to Redis, so that trading caused by a tick goes first.
    """

    def __init__(
        self,
        settings: MarketSettings,
        redis_url: str,
        *,
        owner_id: str | None = None,
        registry: CollectorRegistry | None = None,
        redis_timeout: float = 2.0,
        yield_to: YieldTo | None = None,
    ) -> None:
        self.settings = settings
        self.owner_id = owner_id or default_owner_id()
        self.metrics = MarketMetrics(registry)
        self._redis = open_redis(redis_url, timeout=redis_timeout)
        self._blocking = open_redis(
            redis_url, timeout=BLOCK_MS / 1000 + redis_timeout, connect_timeout=redis_timeout
        )
        self._reader = MarketReader(self._redis, self._blocking)
        self._publisher = MarketPublisher(
            self._redis,
            self.metrics,
            ticks_maxlen=settings.ticks_maxlen,
            trades_maxlen=settings.trades_maxlen,
            candles_maxlen=settings.candles_maxlen,
            yield_to=yield_to,
        )
        self._rest = KrakenPublicRest(
            settings.rest_url,
            min_interval=settings.rest_min_interval,
            timeout=settings.rest_timeout,
        )
        self._tap = TickerTap(self._publisher)
        self._feed = MarketFeed(
            self._tap,
            self._resync_book,
            self.metrics,
            book_depth=settings.book_depth,
            candle_grace=settings.candle_close_grace,
            resync_base=settings.backoff_base,
            resync_cap=settings.backoff_cap,
        )
        self._ws = KrakenWebSocket(
            settings.ws_url,
            self._feed.on_message,
            self.metrics,
            stale_seconds=settings.stale_seconds,
            backoff=self._backoff(),
            yield_to=yield_to,
        )
        self._ownership = FeedOwnership(
            PairLeases(self._redis, self.owner_id, round(settings.lease_ttl * 1000)),
            settings.pairs,
            self.metrics,
            on_acquired=self._activate,
            on_lost=self._deactivate,
            feed_down_for=self._feed_down_for,
        )
        self._activations: dict[str, asyncio.Task[None]] = {}
        # Pairs won but not yet subscribed (AssetPairs has not answered), since when.
        self._unfed_since: dict[str, float] = {}
        self._lease_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    def _backoff(self) -> Backoff:
        s = self.settings
        return Backoff(s.backoff_base, s.backoff_cap, s.healthy_seconds)

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the unowned pairs now, then keep leases, feed and publisher running."""
        await self._ownership.round()
        self._lease_task = spawn(self._renew_forever(), "market-leases")
        self._tasks = [
            spawn(self._ws.run(), "market-websocket"),
            spawn(self._publisher.run(), "market-publisher"),
            spawn(self._close_candles_forever(), "market-candle-clock"),
        ]
        log.info(
            "market data started",
            extra={"owner": self.owner_id, "owned": sorted(self.owned_pairs())},
        )

    async def stop(self, *, release: bool = True) -> None:
        """Stop feeding; ``release`` hands the pairs back now, else their leases lapse.

        Only the first call does anything."""
        if self._stopped:
            return
        self._stopped = True
        if self._lease_task is not None:
            await cancel_and_wait([self._lease_task])
        activations = list(self._activations.values())
        for pair in self.owned_pairs():
            self._deactivate(pair)
        await cancel_and_wait([*activations, *self._tasks])
        self._tasks = []
        # Whatever the feed had queued goes out before another replica may take over.
        await self._publisher.flush()
        if release:
            await self._ownership.release_all()
        else:
            self._ownership.forget_all()
        await self._rest.aclose()
        await self._redis.aclose()
        await self._blocking.aclose()
        log.info("market data stopped", extra={"owner": self.owner_id, "released": release})

    # -- reads, on any replica ----------------------------------------------------------------

    def owned_pairs(self) -> frozenset[str]:
        """The pairs whose feed this replica runs now."""
        return self._ownership.owned

    def listen_to_own_tickers(self, listener: TickerListener) -> None:
        """Call ``listener`` with every ticker this replica's own WebSocket delivers (of the
        pairs it owns), before it is published; it must return at once."""
        self._tap.listen(listener)

    async def latest_ticker(self, pair: str) -> Ticker | None:
        """The newest ticker of ``pair`` any owner published, or ``None`` if there is none."""
        return await self._reader.latest_ticker(pair)

    def ticker_updates(self, pairs: Sequence[str]) -> AsyncIterator[TickerUpdate]:
        """The latest ticker of each pair (``snapshot``), then every update, until closed."""
        return self._reader.ticker_updates(pairs)

    def candles(
        self, pair: str, interval_minutes: int, after_id: str = "$"
    ) -> AsyncIterator[Candle]:
        """Closed candles after the stream entry ``after_id`` (``0``: all kept; ``$``: new)."""
        return self._reader.candles(pair, interval_minutes, after_id)

    def trades(self, pair: str, after_id: str = "$") -> AsyncIterator[Trade]:
        """Prints after the stream entry ``after_id`` (``0``: all kept; ``$``: new)."""
        return self._reader.trades(pair, after_id)

    async def history(self, pair: str, interval_minutes: int, count: int) -> list[Candle]:
        """The last ``count`` closed candles (backfilled and live), oldest first."""
        return await self._reader.history(pair, interval_minutes, count)

    async def book(self, pair: str) -> BookView | None:
        """The latest verified top of book of ``pair``, or ``None``."""
        return await self._reader.book(pair)

    # -- owning a pair ------------------------------------------------------------------------

    def _live_subscriptions(self, pair: str) -> list[Subscription]:
        return [
            Subscription("ticker", pair),
            Subscription("trade", pair),
            Subscription("book", pair, depth=self.settings.book_depth),
        ]

    def _ohlc_subscriptions(self, pair: str) -> list[Subscription]:
        return [
            Subscription("ohlc", pair, interval=minutes) for minutes in self.settings.ohlc_intervals
        ]

    def _activate(self, pair: str) -> None:
        self._unfed_since.setdefault(pair, time.monotonic())
        self._activations[pair] = spawn(self._bring_up(pair), f"market-{pair}")

    def _deactivate(self, pair: str) -> None:
        self._unfed_since.pop(pair, None)
        task = self._activations.pop(pair, None)
        if task is not None:
            task.cancel()
        self._ws.unsubscribe([*self._live_subscriptions(pair), *self._ohlc_subscriptions(pair)])
        self._feed.remove_pair(pair)

    async def _bring_up(self, pair: str) -> None:
        """Precision first (the checksum needs it), then live channels, then past candles and
        only then ``ohlc``: a candle closed live would make the stream refuse older ones."""
        info = await self._retry(
            f"AssetPairs {pair}", functools.partial(self._rest.pair_info, pair)
        )
        if info is None:
            return
        self._unfed_since.pop(pair, None)
        self._feed.add_pair(info, self.settings.ohlc_intervals)
        self._ws.subscribe(self._live_subscriptions(pair))
        count = self.settings.backfill_count
        for minutes in self.settings.ohlc_intervals if count else ():
            candles = await self._retry(
                f"OHLC {pair} {minutes}m",
                functools.partial(self._rest.ohlc, pair, minutes, count),
                attempts=BACKFILL_ATTEMPTS,
            )
            if candles:
                self._publisher.candles(candles)
            log.info(
                "candles backfilled",
                extra={"pair": pair, "interval": minutes, "count": len(candles or [])},
            )
        self._ws.subscribe(self._ohlc_subscriptions(pair))

    async def _retry(
        self, what: str, call: Callable[[], Awaitable[T]], attempts: int | None = None
    ) -> T | None:
        """``call`` until it succeeds, backing off; ``None`` after ``attempts`` failures."""
        backoff = self._backoff()
        failures = 0
        while True:
            try:
                return await call()
            except KrakenPublicError as exc:
                failures += 1
                delay = backoff.next_delay()
                log.warning(
                    "market rest call failed",
                    extra={"call": what, "error": str(exc), "failures": failures},
                )
                if attempts is not None and failures >= attempts:
                    return None
                await asyncio.sleep(delay)

    def _feed_down_for(self) -> float:
        """Seconds this replica has failed to feed what it owns: its WebSocket down, or a pair
        it won that it could not subscribe because AssetPairs keeps failing (the pair's
        precision is needed before its book). Ownership hands the pairs over past one TTL."""
        down = self._ws.down_for()
        if not self._unfed_since:
            return down
        return max(down, time.monotonic() - min(self._unfed_since.values()))

    def _resync_book(self, pair: str, delay: float) -> None:
        self._ws.resubscribe(Subscription("book", pair, depth=self.settings.book_depth), delay)

    async def _renew_forever(self) -> None:
        # start() ran the first round; the loop waits before each next one.
        while True:
            await asyncio.sleep(self._ownership.interval)
            await self._ownership.round()
            raise_if_cancelled()

    async def _close_candles_forever(self) -> None:
        while True:
            await asyncio.sleep(CANDLE_CLOCK_SECONDS)
            self._feed.close_due_candles(datetime.now(UTC))
