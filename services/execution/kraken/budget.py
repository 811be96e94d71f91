"""Kraken's two rate limiters mirrored as leaky buckets in Redis, shared by all replicas.

``RestBudget`` is the REST call counter per API key (kraken.md §3.1); ``TradingBudget`` is the
trading-engine counter per pair (§3.3). Both run one Lua script on Redis ``TIME``. Levels are kept
in integer nano-units and time in microseconds, so a decay of 0.33/s is exactly 330 nano-units per
microsecond and nothing drifts; every number stays below 2^53, where Lua's doubles are exact.

Kraken counts a call when it arrives, we count it when we send it, and calls sent first can
arrive last (a new connection, a busy server): with the same maximum, Kraken's counter could be a
little fuller than ours and refuse a call ours let through. So each bucket keeps a headroom below
Kraken's maximum: one unit or one second of decay, whichever is more (``safety_headroom``).

Redis keys (hashes with ``level`` and ``ts``, expiring once drained):
``kraken:budget:rest:{<key_id>}`` and ``kraken:budget:trading:{<account_id>}:<pair>``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.batched_script import BatchedScript
from services.execution.kraken.config import KrakenTier
from services.execution.kraken.errors import BudgetExhaustedError, StateUnavailableError

logger = logging.getLogger(__name__)

NANO = 10**9
"""Nano-units per counter unit."""

# KEYS: bucket. ARGV: capacity (nano), decay (nano per µs), cost (nano), 'take' | 'full'.
# Returns {granted 0|1, level after (nano, string), wait in µs until the cost would fit}.
LEAKY_BUCKET_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(state[1]) or 0
local elapsed = now - (tonumber(state[2]) or now)
if elapsed < 0 then elapsed = 0 end
if elapsed > 3600000000 then elapsed = 3600000000 end
level = level - elapsed * rate
if level < 0 then level = 0 end
local granted = 0
local wait = 0
if ARGV[4] == 'full' then
  if level < capacity then level = capacity end
  granted = 1
elseif level + cost <= capacity then
  level = level + cost
  granted = 1
else
  wait = math.ceil((level + cost - capacity) / rate)
end
redis.call('HSET', KEYS[1], 'level', string.format('%.0f', level), 'ts', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate / 1000) + 1000)
return {granted, string.format('%.0f', level), wait}
"""

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class BucketLimits:
    capacity: float
    decay_per_second: float


REST_LIMITS: dict[KrakenTier, BucketLimits] = {
    KrakenTier.STARTER: BucketLimits(15, 0.33),
    KrakenTier.INTERMEDIATE: BucketLimits(20, 0.5),
    KrakenTier.PRO: BucketLimits(20, 1.0),
}

TRADING_LIMITS: dict[KrakenTier, BucketLimits] = {
    KrakenTier.STARTER: BucketLimits(60, 1.0),
    KrakenTier.INTERMEDIATE: BucketLimits(125, 2.34),
    KrakenTier.PRO: BucketLimits(180, 3.75),
}


ARRIVAL_SLACK_SECONDS = 1.0
"""How much later than its neighbours a call may reach Kraken without being refused there."""


def safety_headroom(limits: BucketLimits) -> float:
    """The units a bucket keeps free below Kraken's maximum (see the module docstring)."""
    return max(1.0, limits.decay_per_second * ARRIVAL_SLACK_SECONDS)


class TradingAction(enum.Enum):
    ADD = "add"
    AMEND = "amend"
    EDIT = "edit"
    CANCEL = "cancel"


# kraken.md §3.3: fixed cost, then the decaying cost by seconds since the order was created or
# amended, for ages below 5, 10, 15, 45, 90 and 300 s (nothing from 300 s on).
_AGE_BANDS = (5.0, 10.0, 15.0, 45.0, 90.0, 300.0)
_TRADING_COSTS: dict[TradingAction, tuple[int, tuple[int, ...]]] = {
    TradingAction.ADD: (1, (0, 0, 0, 0, 0, 0)),
    TradingAction.AMEND: (1, (3, 2, 1, 0, 0, 0)),
    TradingAction.EDIT: (1, (6, 5, 4, 2, 1, 0)),
    TradingAction.CANCEL: (0, (8, 6, 5, 4, 2, 1)),
}


def trading_cost(
    action: TradingAction, order_age: float | None = None, *, orders: int = 1
) -> float:
    """What one transaction adds to the pair's trading counter.

    ``order_age`` is seconds since the order was created or last amended; unknown means the worst
    case (age 0). ``orders`` > 1 is a batch: Batch Add costs n/2, Batch Cancel n times a cancel.
    """
    if order_age is not None and order_age < 0:
        raise ValueError("order_age must not be negative")
    if orders < 1:
        raise ValueError("orders must be at least 1")
    if action is TradingAction.ADD:
        return orders / 2 if orders > 1 else 1.0
    fixed, decaying = _TRADING_COSTS[action]
    age = order_age if order_age is not None else 0.0
    extra = next((cost for band, cost in zip(_AGE_BANDS, decaying, strict=True) if age < band), 0)
    return float((fixed + extra) * orders)


class LeakyBucket:
    """One family of leaky buckets in Redis, keyed by the caller.

    ``headroom``: units kept free below ``limits.capacity``; a take fits within the rest.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        name: str,
        limits: BucketLimits,
        max_wait: float = 2.0,
        headroom: float = 0.0,
    ) -> None:
        if not 0 <= headroom < limits.capacity:
            raise ValueError("headroom must be at least 0 and below the capacity")
        self.name = name
        self.limits = limits
        self.max_wait = max_wait
        self._capacity = round((limits.capacity - headroom) * NANO)
        # Units per second, in nano-units per microsecond: the same number times 1000.
        self._rate = round(limits.decay_per_second * 1000)
        if self._rate <= 0:
            raise ValueError("decay_per_second must be positive")
        self._script = BatchedScript(redis, LEAKY_BUCKET_LUA)

    async def take(self, key: str, cost: float, *, max_wait: float | None = None) -> float:
        """Add ``cost`` to the bucket, waiting at most ``max_wait`` s for room; the level after.

        Raises ``BudgetExhaustedError`` (with ``retry_after``) when there is no room in time, and
        ``StateUnavailableError`` when Redis fails.
        """
        cost_nano = round(cost * NANO)
        if cost_nano < 0:
            raise ValueError("cost must not be negative")
        if cost_nano > self._capacity:
            raise ValueError(
                f"cost {cost} exceeds the {self.name} capacity {self._capacity / NANO:g}"
            )
        budget = self.max_wait if max_wait is None else max_wait
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        while True:
            granted, level, wait_us = await self._run(key, cost_nano, "take")
            if granted:
                return level
            retry_after = wait_us / 1_000_000
            remaining = deadline - loop.time()
            if retry_after > remaining:
                logger.info(
                    "rate budget exhausted",
                    extra={"bucket": self.name, "key": key, "retry_after": retry_after},
                )
                raise BudgetExhaustedError(
                    f"{self.name} budget exhausted for {key}; retry in {retry_after:.3f}s",
                    bucket=self.name,
                    retry_after=retry_after,
                )
            # A little jitter so waiters that woke together do not collide again.
            await asyncio.sleep(retry_after * (1 + 0.1 * random.random()))  # noqa: S311

    async def mark_full(self, key: str) -> None:
        """Set the bucket full: Kraken said we are over its limit, whatever we counted."""
        await self._run(key, 0, "full")
        logger.warning(
            "rate budget set full after a Kraken rate-limit error",
            extra={"bucket": self.name, "key": key},
        )

    async def level(self, key: str) -> float:
        """The current level, in counter units."""
        _, level, _ = await self._run(key, 0, "take")
        return level

    async def _run(self, key: str, cost_nano: int, mode: str) -> tuple[bool, float, int]:
        try:
            granted, level, wait_us = await self._script(
                keys=[key], args=[self._capacity, self._rate, cost_nano, mode]
            )
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError(f"{self.name} budget store unavailable") from exc
        return int(granted) == 1, int(level) / NANO, int(wait_us)


def rest_key(key_id: str) -> str:
    return f"kraken:budget:rest:{{{key_id}}}"


def trading_key(account_id: str, pair: str) -> str:
    return f"kraken:budget:trading:{{{account_id}}}:{pair}"


class RestBudget:
    """The REST call counter of each API key (AddOrder and CancelOrder do not count here).

    ``headroom`` None: ``safety_headroom`` of the tier's limits.
    """

    def __init__(
        self,
        redis: Redis,
        tier: KrakenTier,
        *,
        max_wait: float = 2.0,
        headroom: float | None = None,
    ) -> None:
        limits = REST_LIMITS[tier]
        self.bucket = LeakyBucket(
            redis,
            name="rest",
            limits=limits,
            max_wait=max_wait,
            headroom=safety_headroom(limits) if headroom is None else headroom,
        )

    async def take(self, key_id: str, cost: float = 1, *, max_wait: float | None = None) -> float:
        return await self.bucket.take(rest_key(key_id), cost, max_wait=max_wait)

    async def mark_full(self, key_id: str) -> None:
        await self.bucket.mark_full(rest_key(key_id))

    async def level(self, key_id: str) -> float:
        return await self.bucket.level(rest_key(key_id))


class TradingBudget:
    """The trading-engine counter of each pair, for one account.

    Pass pairs in one spelling (Kraken's pair id, e.g. ``XXBTZUSD``): ``XBTUSD`` would be a
    different bucket. ``headroom`` None: ``safety_headroom`` of the tier's limits.
    """

    def __init__(
        self,
        redis: Redis,
        tier: KrakenTier,
        *,
        account_id: str,
        max_wait: float = 2.0,
        headroom: float | None = None,
    ) -> None:
        limits = TRADING_LIMITS[tier]
        self.account_id = account_id
        self.bucket = LeakyBucket(
            redis,
            name="trading",
            limits=limits,
            max_wait=max_wait,
            headroom=safety_headroom(limits) if headroom is None else headroom,
        )

    async def take(self, pair: str, cost: float, *, max_wait: float | None = None) -> float:
        return await self.bucket.take(trading_key(self.account_id, pair), cost, max_wait=max_wait)

    async def mark_full(self, pair: str) -> None:
        await self.bucket.mark_full(trading_key(self.account_id, pair))

    async def level(self, pair: str) -> float:
        return await self.bucket.level(trading_key(self.account_id, pair))
