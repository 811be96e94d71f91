"""Incremental moving averages over Decimal closes: each value is added once, in O(1)."""

from __future__ import annotations

from collections import deque
from decimal import Decimal


class SimpleAverage:
    """The mean of the last ``period`` values; None until ``period`` values were added."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._window: deque[Decimal] = deque()
        self._total = Decimal(0)

    def add(self, value: Decimal) -> Decimal | None:
        self._window.append(value)
        self._total += value
        if len(self._window) > self._period:
            self._total -= self._window.popleft()
        if len(self._window) < self._period:
            return None
        return self._total / self._period


class ExponentialAverage:
    """EMA with alpha = 2 / (period + 1), seeded with the simple mean of the first ``period``
    values (the usual convention); None until then."""

    def __init__(self, period: int) -> None:
        self._alpha = Decimal(2) / Decimal(period + 1)
        self._seed = SimpleAverage(period)
        self._value: Decimal | None = None

    def add(self, value: Decimal) -> Decimal | None:
        if self._value is None:
            self._value = self._seed.add(value)
        else:
            self._value += self._alpha * (value - self._value)
        return self._value
