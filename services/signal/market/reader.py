"""Reads the market events any owner published to Redis; works on every replica.

Streams are followed with ``XREAD BLOCK`` on a client of its own, whose socket timeout
outlasts the block, so a quiet pair is not mistaken for a dead Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.typing import KeyT, StreamIdT

from services.signal.market import codec, keys
from services.signal.market.model import BookView, Candle, Ticker, TickerUpdate, Trade
from services.signal.market.tasks import raise_if_cancelled

BLOCK_MS = 5_000
_BATCH = 500


class MarketReader:
    """Latest values by key, and stream followers that yield each event once, in order."""

    def __init__(self, client: aioredis.Redis, blocking: aioredis.Redis) -> None:
        self._redis = client
        self._blocking = blocking

    async def latest_ticker(self, pair: str) -> Ticker | None:
        fields: Any = await self._redis.hgetall(keys.ticker(pair))
        return codec.ticker_from_fields(fields) if fields else None

    async def book(self, pair: str) -> BookView | None:
        text: Any = await self._redis.get(keys.book(pair))
        return None if text is None else codec.book_from_json(text)

    async def history(self, pair: str, interval_minutes: int, count: int) -> list[Candle]:
        """The last ``count`` closed candles, oldest first."""
        entries: Any = await self._redis.xrevrange(
            keys.candles(pair, interval_minutes), count=count
        )
        return [codec.candle_from_fields(fields) for _, fields in reversed(entries)]

    async def ticker_updates(self, pairs: Sequence[str]) -> AsyncIterator[TickerUpdate]:
        """The latest ticker of each pair that has one (``snapshot``), then every new one.

        The snapshot is each stream's last entry and following starts right after it, so no
        update falls between the two.
        """
        after: dict[KeyT, StreamIdT] = {}
        for pair in dict.fromkeys(pairs):
            stream = keys.ticks(pair)
            last: Any = await self._redis.xrevrange(stream, count=1)
            if last:
                entry_id, fields = last[0]
                after[stream] = entry_id
                yield TickerUpdate(codec.ticker_from_fields(fields), snapshot=True)
            else:
                after[stream] = "0-0"
        async for fields in self._follow(after):
            yield TickerUpdate(codec.ticker_from_fields(fields), snapshot=False)

    async def candles(
        self, pair: str, interval_minutes: int, after_id: str = "$"
    ) -> AsyncIterator[Candle]:
        """Closed candles after the entry ``after_id`` (``0``: all retained; ``$``: new only)."""
        stream = keys.candles(pair, interval_minutes)
        async for fields in self._follow({stream: await self._resolve(stream, after_id)}):
            yield codec.candle_from_fields(fields)

    async def trades(self, pair: str, after_id: str = "$") -> AsyncIterator[Trade]:
        """Prints after the entry ``after_id`` (``0``: all retained; ``$``: new only)."""
        stream = keys.trades(pair)
        async for fields in self._follow({stream: await self._resolve(stream, after_id)}):
            yield codec.trade_from_fields(fields)

    async def _resolve(self, stream: str, after_id: str) -> str:
        # "$" is re-read by XREAD on every call; pin it once so nothing between calls is lost.
        if after_id != "$":
            return after_id
        last: Any = await self._redis.xrevrange(stream, count=1)
        return last[0][0] if last else "0-0"

    async def _follow(self, positions: dict[KeyT, StreamIdT]) -> AsyncIterator[dict[str, str]]:
        while True:
            replies: Any = await self._blocking.xread(positions, count=_BATCH, block=BLOCK_MS)
            raise_if_cancelled()
            for stream, entries in replies or ():
                for entry_id, fields in entries:
                    positions[stream] = entry_id
                    yield fields
