"""Kraken's rate counters: REST calls per key and trading per pair (kraken.md §3).

Both are leaky buckets: a level that decays linearly with time. A call is refused, and the
level left unchanged, when its cost would lift the level above the maximum.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from services.paper.config import Tier

Clock = Callable[[], int]
"""Monotonic nanoseconds; tests pass their own."""

_NANOS = Decimal(1_000_000_000)

# Calls that cost 2 on the REST counter; AddOrder and CancelOrder are on the trading counter.
HISTORY_CALLS = frozenset({"TradesHistory", "Ledgers", "QueryLedgers"})
TRADING_CALLS = frozenset({"AddOrder", "CancelOrder"})


@dataclass(frozen=True)
class BucketLimits:
    """The most a bucket holds and how much it drains per second."""

    maximum: Decimal
    decay_per_second: Decimal


REST_LIMITS = {
    Tier.STARTER: BucketLimits(Decimal(15), Decimal("0.33")),
    Tier.INTERMEDIATE: BucketLimits(Decimal(20), Decimal("0.5")),
    Tier.PRO: BucketLimits(Decimal(20), Decimal(1)),
}
TRADING_LIMITS = {
    Tier.STARTER: BucketLimits(Decimal(60), Decimal(1)),
    Tier.INTERMEDIATE: BucketLimits(Decimal(125), Decimal("2.34")),
    Tier.PRO: BucketLimits(Decimal(180), Decimal("3.75")),
}

# (age below which it applies in seconds, cost); at or past the last age a cancel is free.
_CANCEL_COSTS = ((5, 8), (10, 6), (15, 5), (45, 4), (90, 2), (300, 1))


def rest_cost(endpoint: str) -> int:
    """What a private call adds to the REST counter: 2 for history, 0 for trading, else 1."""
    if endpoint in TRADING_CALLS:
        return 0
    return 2 if endpoint in HISTORY_CALLS else 1


def cancel_cost(order_age_seconds: Decimal) -> int:
    """What cancelling an order of this age adds to the pair's trading counter."""
    return next((cost for below, cost in _CANCEL_COSTS if order_age_seconds < below), 0)


class LeakyCounters:
    """One leaky bucket per name (an API key or a pair) with shared limits."""

    def __init__(self, limits: BucketLimits, clock: Clock = time.monotonic_ns) -> None:
        self._limits = limits
        self._clock = clock
        self._levels: dict[str, tuple[Decimal, int]] = {}

    def level(self, name: str) -> Decimal:
        """The bucket's level now, after decay."""
        level, at = self._levels.get(name, (Decimal(0), self._clock()))
        elapsed = Decimal(self._clock() - at) / _NANOS
        return max(Decimal(0), level - elapsed * self._limits.decay_per_second)

    def take(self, name: str, cost: Decimal | int) -> bool:
        """Add ``cost`` if the bucket has room for it; ``False`` means the call is rate limited."""
        level = self.level(name)
        if level + cost > self._limits.maximum:
            self._levels[name] = (level, self._clock())
            return False
        self._levels[name] = (level + cost, self._clock())
        return True
