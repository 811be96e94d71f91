"""Which pairs this replica feeds: keeps its leases alive and takes pairs nobody owns.

Every ``ttl / 3`` it renews what it holds and tries to take each unowned pair, so when an owner
dies its pairs move within one TTL plus one round. A lease counts as held only until the TTL
measured from before the last successful renewal: a replica cut off from Redis gives its pairs
up on its own once another may have taken them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import redis.exceptions

from services.signal.market.lease import PairLeases
from services.signal.market.metrics import MarketMetrics

log = logging.getLogger(__name__)

PairCallback = Callable[[str], None]


class FeedOwnership:
    """Holds the leases of some of ``pairs``; calls back when one is gained or lost."""

    def __init__(
        self,
        leases: PairLeases,
        pairs: Sequence[str],
        metrics: MarketMetrics,
        *,
        on_acquired: PairCallback,
        on_lost: PairCallback,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self._pairs = tuple(pairs)
        self._metrics = metrics
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._clock = clock
        self._ttl = leases.ttl_ms / 1000
        self._held_until: dict[str, float] = {}

    @property
    def interval(self) -> float:
        return self._ttl / 3

    @property
    def owned(self) -> frozenset[str]:
        return frozenset(self._held_until)

    async def round(self) -> None:
        """One pass over the pairs: renew what is held, try to take the rest."""
        for pair in self._pairs:
            started = self._clock()
            try:
                if pair in self._held_until:
                    await self._renew(pair, started)
                elif await self._leases.acquire(pair):
                    self._held_until[pair] = started + self._ttl
                    self._changed("acquired")
                    log.info(
                        "feed lease acquired", extra={"pair": pair, "owner": self._leases.owner_id}
                    )
                    self._on_acquired(pair)
            except (redis.exceptions.RedisError, OSError) as exc:
                log.warning(
                    "feed lease round failed",
                    extra={"pair": pair, "error": f"{type(exc).__name__}: {exc}"},
                )
                if pair in self._held_until and self._clock() >= self._held_until[pair]:
                    self._lose(pair, "expired while redis was unreachable")

    async def _renew(self, pair: str, started: float) -> None:
        if await self._leases.renew(pair):
            self._held_until[pair] = started + self._ttl
        else:
            self._lose(pair, "taken over or expired")

    def _lose(self, pair: str, reason: str) -> None:
        del self._held_until[pair]
        self._changed("lost")
        log.warning("feed lease lost", extra={"pair": pair, "reason": reason})
        self._on_lost(pair)

    async def release_all(self) -> None:
        """Give every held pair back so another replica takes it at once."""
        for pair in list(self._held_until):
            del self._held_until[pair]
            try:
                await self._leases.release(pair)
            except (redis.exceptions.RedisError, OSError) as exc:
                log.warning(
                    "feed lease not released; it will expire",
                    extra={"pair": pair, "error": f"{type(exc).__name__}: {exc}"},
                )
            else:
                log.info("feed lease released", extra={"pair": pair})
            self._changed("released")

    def forget_all(self) -> None:
        """Drop every held pair without telling Redis: the leases lapse after their TTL."""
        self._held_until.clear()
        self._metrics.owned_pairs.set(0)

    def _changed(self, event: str) -> None:
        self._metrics.lease_events.labels(event).inc()
        self._metrics.owned_pairs.set(len(self._held_until))
