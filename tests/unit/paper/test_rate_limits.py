"""The leaky counters: Kraken's tier limits, decay over time and the costs of calls."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.paper.config import Tier
from services.paper.rate_limits import (
    REST_LIMITS,
    TRADING_LIMITS,
    LeakyCounters,
    cancel_cost,
    rest_cost,
)


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * 1_000_000_000)


def test_rest_counter_refuses_past_the_maximum_then_decays() -> None:
    clock = FakeClock()
    counters = LeakyCounters(REST_LIMITS[Tier.STARTER], clock)

    assert all(counters.take("key", 1) for _ in range(15))
    assert not counters.take("key", 1)
    clock.advance(3.04)  # 0.33/s frees one call after a little over 3 s
    assert counters.take("key", 1)
    assert not counters.take("key", 1)


def test_decay_never_goes_below_zero() -> None:
    clock = FakeClock()
    counters = LeakyCounters(REST_LIMITS[Tier.PRO], clock)
    counters.take("key", 5)

    clock.advance(100)

    assert counters.level("key") == 0
    assert all(counters.take("key", 1) for _ in range(20))


def test_keys_are_counted_apart() -> None:
    counters = LeakyCounters(REST_LIMITS[Tier.INTERMEDIATE], FakeClock())
    for _ in range(20):
        counters.take("a", 1)

    assert counters.take("b", 1)
    assert not counters.take("a", 1)


@pytest.mark.parametrize(
    ("tier", "maximum", "decay"),
    [(Tier.STARTER, 60, "1"), (Tier.INTERMEDIATE, 125, "2.34"), (Tier.PRO, 180, "3.75")],
)
def test_trading_limits_per_tier(tier: Tier, maximum: int, decay: str) -> None:
    clock = FakeClock()
    counters = LeakyCounters(TRADING_LIMITS[tier], clock)
    assert counters.take("XXBTZUSD", maximum)
    assert not counters.take("XXBTZUSD", 1)

    clock.advance(10)

    assert counters.level("XXBTZUSD") == maximum - Decimal(decay) * 10


def test_call_costs() -> None:
    assert rest_cost("Balance") == 1
    assert rest_cost("TradesHistory") == 2
    assert rest_cost("AddOrder") == 0
    assert rest_cost("CancelOrder") == 0


@pytest.mark.parametrize(
    ("age", "cost"),
    [("0", 8), ("4.9", 8), ("5", 6), ("12", 5), ("30", 4), ("60", 2), ("200", 1), ("300", 0)],
)
def test_cancel_cost_falls_with_the_order_age(age: str, cost: int) -> None:
    assert cancel_cost(Decimal(age)) == cost
