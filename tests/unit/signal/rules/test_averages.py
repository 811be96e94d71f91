"""Moving averages by hand: SMA is the window mean, EMA is seeded with the SMA."""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.averages import ExponentialAverage, SimpleAverage


def feed(average: SimpleAverage | ExponentialAverage, values: list[int]) -> list[Decimal | None]:
    return [average.add(Decimal(v)) for v in values]


def test_simple_average_is_the_mean_of_the_last_period_values() -> None:
    assert feed(SimpleAverage(3), [1, 2, 3, 4, 8]) == [None, None, 2, 3, 5]


def test_exponential_average_starts_from_the_simple_mean_then_weights_by_alpha() -> None:
    # period 3: alpha = 2 / 4 = 0.5; seed mean(1, 2, 3) = 2; then 2 + 0.5 * (4 - 2) = 3, ...
    assert feed(ExponentialAverage(3), [1, 2, 3, 4, 6]) == [None, None, 2, 3, Decimal("4.5")]
