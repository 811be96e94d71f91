"""Reference prices for risk's price collar: the pair's last trade from Kraken's Ticker.

A price younger than ``fresh_age`` (1 s) is used as it is. An older one, up to ``max_age``
(10 s), is still used, and one background Ticker call refreshes it: fetching on the order path
cost a whole public round trip to Kraken (about 4 ms against the paper exchange, tens of ms
against Kraken) for every order that came more than a second after the previous one on its
pair, which was most of the tick-to-trade p99. A collar of a few percent is a fat-finger check,
and a price a few seconds old serves it. Only a price older than ``max_age``, or none, is
fetched on the order path; concurrent orders then share that one call.

The refresh starts ``refresh_delay`` (50 ms) after the order that found the price aging. That
order has gone out by then, so the Ticker call (its Python here and its answer at the exchange)
does not compete with it for the CPU.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import KrakenError

logger = logging.getLogger(__name__)

DEFAULT_FRESH_AGE = 1.0
DEFAULT_MAX_AGE = 10.0
DEFAULT_REFRESH_DELAY = 0.05


class ReferencePrices:
    def __init__(
        self,
        kraken: KrakenSpotClient,
        fresh_age: float = DEFAULT_FRESH_AGE,
        max_age: float = DEFAULT_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        refresh_delay: float = DEFAULT_REFRESH_DELAY,
    ) -> None:
        if not 0 < fresh_age <= max_age:
            raise ValueError("need 0 < fresh_age <= max_age")
        self._kraken = kraken
        self._fresh_age = fresh_age
        self._max_age = max_age
        self._clock = clock
        self._refresh_delay = refresh_delay
        self._known: dict[str, tuple[Decimal | None, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    async def last_trade(self, kraken_pair: str) -> Decimal | None:
        """The last trade price of the pair (Kraken's id), at most ``max_age`` s old; None when
        Kraken reports none. Kraken errors of a fetch on the order path go to the caller."""
        known = self._young(kraken_pair, self._max_age)
        if known is not None:
            if self._clock() - known[1] >= self._fresh_age:
                self._refresh_in_background(kraken_pair)
            return known[0]
        lock = self._locks.setdefault(kraken_pair, asyncio.Lock())
        async with lock:
            known = self._young(kraken_pair, self._max_age)
            if known is not None:
                return known[0]
            return await self._fetch_and_keep(kraken_pair)

    def _young(self, kraken_pair: str, age: float) -> tuple[Decimal | None, float] | None:
        known = self._known.get(kraken_pair)
        if known is not None and self._clock() - known[1] < age:
            return known
        return None

    def _refresh_in_background(self, kraken_pair: str) -> None:
        if kraken_pair in self._refreshing:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(kraken_pair))
        self._refreshing[kraken_pair] = task
        task.add_done_callback(lambda _: self._refreshing.pop(kraken_pair, None))

    async def _refresh(self, kraken_pair: str) -> None:
        await asyncio.sleep(self._refresh_delay)
        try:
            await self._fetch_and_keep(kraken_pair)
        except Exception as exc:  # a background task has no caller to raise to
            # The price kept is used until it is max_age old; then the order path fetches, and
            # the error reaches that order.
            logger.warning(
                "reference price refresh failed",
                extra={"pair": kraken_pair, "error": type(exc).__name__},
                exc_info=not isinstance(exc, KrakenError),
            )

    async def _fetch_and_keep(self, kraken_pair: str) -> Decimal | None:
        price = await self._fetch(kraken_pair)
        self._known[kraken_pair] = (price, self._clock())
        return price

    async def _fetch(self, kraken_pair: str) -> Decimal | None:
        ticker: dict[str, Any] = await self._kraken.ticker([kraken_pair])
        for record in ticker.values():
            last = record.get("c")
            if last:
                price: Decimal = last[0]
                return price
        return None
