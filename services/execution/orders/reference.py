"""Reference prices for risk's price collar: the pair's last trade from Kraken's Ticker, fetched
at most once per ``max_age`` seconds per pair however many orders ask.

A collar of a few percent does not need a fresher price than that, and one Ticker call saved
per order is a round trip off the order path and load off Kraken's public API. Concurrent orders
on a pair whose price is stale share one Ticker call.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from services.execution.kraken.client import KrakenSpotClient

DEFAULT_MAX_AGE = 1.0


class ReferencePrices:
    def __init__(self, kraken: KrakenSpotClient, max_age: float = DEFAULT_MAX_AGE) -> None:
        self._kraken = kraken
        self._max_age = max_age
        self._known: dict[str, tuple[Decimal | None, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def last_trade(self, kraken_pair: str) -> Decimal | None:
        """The last trade price of the pair (Kraken's id), at most ``max_age`` s old; None when
        Kraken reports none. Kraken errors go to the caller."""
        known = self._fresh(kraken_pair)
        if known is not None:
            return known[0]
        lock = self._locks.setdefault(kraken_pair, asyncio.Lock())
        async with lock:
            known = self._fresh(kraken_pair)
            if known is not None:
                return known[0]
            price = await self._fetch(kraken_pair)
            self._known[kraken_pair] = (price, time.monotonic())
            return price

    def _fresh(self, kraken_pair: str) -> tuple[Decimal | None, float] | None:
        known = self._known.get(kraken_pair)
        if known is not None and time.monotonic() - known[1] < self._max_age:
            return known
        return None

    async def _fetch(self, kraken_pair: str) -> Decimal | None:
        ticker: dict[str, Any] = await self._kraken.ticker([kraken_pair])
        for record in ticker.values():
            last = record.get("c")
            if last:
                price: Decimal = last[0]
                return price
        return None
