"""Trading before market-data chores, inside one signal replica.

A tick that trades starts its order's path in this process: the rule's evaluation, the
signal's record, sizing, PlaceOrder. Decoding the WebSocket messages queued behind the ticker
(trades, candles, the book and its checksum) and publishing market data to Redis meanwhile
only delay that path: they take the same cores, the same Redis, and the same event loop the
record's reply waits on. So while a tick's trading is under way (from :meth:`TradingFirst.begin`
to :meth:`Turn.done`), the WebSocket reader and the market publisher wait their turn
(:meth:`TradingFirst.turn`).

They never wait longer than ``limit`` after the trading began, so a slow Redis or execution
delays market data by at most that much; nothing is dropped, only read and written later.
A ``limit`` of 0 turns the rule off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class Turn:
    """One piece of trading under way; :meth:`done` ends it, once, whoever calls it."""

    def __init__(self, owner: TradingFirst | None) -> None:
        self._owner = owner

    def done(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._end()


class TradingFirst:
    def __init__(self, limit: float) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0 seconds, not {limit}")
        self.limit = limit
        self._under_way = 0
        self._since = 0.0
        self._clear = asyncio.Event()
        self._clear.set()

    @property
    def under_way(self) -> int:
        """Pieces of trading begun and not done."""
        return self._under_way

    def begin(self) -> Turn:
        """Trading starts: market-data work waits until the returned turn is done."""
        if self.limit == 0:
            return Turn(None)
        if self._under_way == 0:
            self._since = time.monotonic()
            self._clear.clear()
        self._under_way += 1
        return Turn(self)

    def _end(self) -> None:
        self._under_way -= 1
        if self._under_way == 0:
            self._clear.set()

    async def turn(self) -> None:
        """Return once no trading is under way, or ``limit`` after the trading under way began."""
        if self._under_way == 0:
            return
        remaining = self._since + self.limit - time.monotonic()
        if remaining <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await self._clear.wait()
