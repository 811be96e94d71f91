"""Which pairs this replica feeds: keeps its leases alive and takes pairs nobody owns.

Every ``ttl / 3`` it marks itself present, renews what it holds and tries to take unowned pairs,
so when an owner dies its pairs move within one TTL plus one round. The pairs are shared out:
a replica takes pairs only up to its share, ``ceil(pairs / replicas present)``, and gives back
at once what it holds beyond it (when another replica has started), which the others take on
their next round. While others are present and a replica holds less than its share, its rounds
come four times as often, so a pair handed over goes without a feed for up to ``ttl / 12`` plus
its WebSocket subscription. When the replicas cannot be counted (Redis failing) the share is
every pair, as with one replica.

A lease counts as held only until the TTL measured from before the last successful renewal: a
replica cut off from Redis gives its pairs up on its own once another may have taken them.

A replica whose WebSocket feed has been down for a TTL while another replica is present steps
aside: it leaves the presence set and gives all its pairs back, so the others take them on
their next round, and it takes none for a while (three TTLs, doubling with each step aside in a
row up to thirty; back to three once it has fed its pairs again). It comes back at once when no
other replica is present. A replica alone keeps its pairs whatever its feed does: nobody could
feed them better.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence

import redis.exceptions

from services.signal.market.lease import PairLeases
from services.signal.market.metrics import MarketMetrics

log = logging.getLogger(__name__)

PairCallback = Callable[[str], None]
_ASIDE_TTLS = 3  # first time away after stepping aside, in lease TTLs; doubles each time in a row
_ASIDE_MAX_TTLS = 30


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
        feed_down_for: Callable[[], float] = lambda: 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = leases
        self._pairs = tuple(pairs)
        self._metrics = metrics
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._feed_down_for = feed_down_for
        self._clock = clock
        self._ttl = leases.ttl_ms / 1000
        self._held_until: dict[str, float] = {}
        self._share = len(self._pairs)
        self._aside_until = 0.0
        self._asides_in_a_row = 0

    @property
    def interval(self) -> float:
        """Seconds until the next round: a third of the TTL, a quarter of that while other
        replicas are present and this one holds less than its share (a pair may be handed over)
        and is not standing aside.
        """
        if self._clock() < self._aside_until:
            return self._ttl / 3
        if self._share < len(self._pairs) and len(self._held_until) < self._share:
            return self._ttl / 12
        return self._ttl / 3

    @property
    def owned(self) -> frozenset[str]:
        return frozenset(self._held_until)

    async def round(self) -> None:
        """One pass over the pairs: renew what is held, take the rest up to the share, and give
        back what is held beyond it; or step aside while the feed is down and others can feed."""
        if self._clock() < self._aside_until and await self._others_present():
            return
        self._aside_until = 0.0
        present = await self._count_present()
        self._share = (
            len(self._pairs) if present is None else math.ceil(len(self._pairs) / max(present, 1))
        )
        if self._held_until:
            down = self._feed_down_for()
            if down >= self._ttl and present is not None and present > 1:
                await self._step_aside(down)
                return
            if down == 0.0:
                self._asides_in_a_row = 0
        for pair in self._pairs:
            started = self._clock()
            try:
                if pair in self._held_until:
                    await self._renew(pair, started)
                elif len(self._held_until) < self._share and await self._leases.acquire(pair):
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

        await self._hand_over_excess()

    async def _count_present(self) -> int | None:
        """Mark this replica present; how many are, or None when Redis failed (the lease calls
        that follow fail and say so, and the share is every pair)."""
        try:
            return await self._leases.present()
        except (redis.exceptions.RedisError, OSError):
            return None

    async def _others_present(self) -> bool:
        """Whether another replica is present (without marking this one); True when unknown."""
        try:
            return await self._leases.others_present()
        except (redis.exceptions.RedisError, OSError):
            return True

    async def _step_aside(self, down: float) -> None:
        """The feed is down and another replica can feed: give every pair back and stay out."""
        self._asides_in_a_row += 1
        away = self._ttl * min(_ASIDE_TTLS * 2 ** (self._asides_in_a_row - 1), _ASIDE_MAX_TTLS)
        self._aside_until = self._clock() + away
        pairs = sorted(self._held_until)
        log.warning(
            "market feed down: pairs handed to the other replicas",
            extra={"pairs": pairs, "down_s": round(down, 1), "away_s": round(away, 1)},
        )
        await self._leave()
        for pair in pairs:
            del self._held_until[pair]
            await self._give_back(pair, "feed lease not handed over; it will expire")
            self._changed("released")
            self._on_lost(pair)

    async def _hand_over_excess(self) -> None:
        """Give back the pairs held beyond the share, last configured first."""
        excess = len(self._held_until) - self._share
        for pair in [p for p in reversed(self._pairs) if p in self._held_until][: max(excess, 0)]:
            if not await self._give_back(pair, "feed lease not handed over; kept"):
                continue
            del self._held_until[pair]
            self._changed("released")
            log.info("feed lease handed over", extra={"pair": pair, "share": self._share})
            self._on_lost(pair)

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
        """Give every held pair back, and leave, so another replica takes them at once."""
        await self._leave()
        for pair in list(self._held_until):
            del self._held_until[pair]
            if await self._give_back(pair, "feed lease not released; it will expire"):
                log.info("feed lease released", extra={"pair": pair})
            self._changed("released")

    async def _leave(self) -> None:
        try:
            await self._leases.leave()
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning(
                "replica presence not removed; it will lapse",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )

    async def _give_back(self, pair: str, failure: str) -> bool:
        """Release ``pair``'s lease in Redis; False, logged as ``failure``, when Redis failed."""
        try:
            await self._leases.release(pair)
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning(failure, extra={"pair": pair, "error": f"{type(exc).__name__}: {exc}"})
            return False
        return True

    def forget_all(self) -> None:
        """Drop every held pair without telling Redis: the leases lapse after their TTL."""
        self._held_until.clear()
        self._metrics.owned_pairs.set(0)

    def _changed(self, event: str) -> None:
        self._metrics.lease_events.labels(event).inc()
        self._metrics.owned_pairs.set(len(self._held_until))
