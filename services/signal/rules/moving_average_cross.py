"""Moving-average crossover on closed candles: BUY when the fast average crosses above the slow
one, SELL when it crosses below.

A crossing is a change of the side the fast average is on; candles where the two are equal
keep the previous side, so touching and turning back never fires.
"""

from __future__ import annotations

from services.signal.rules.averages import ExponentialAverage, SimpleAverage
from services.signal.rules.inputs import ClosedCandle, Firing
from services.signal.rules.model import SMA, MovingAverageCross, interval_label
from trading.common.v1 import common_pb2


class MovingAverageCrossEvaluator:
    def __init__(self, spec: MovingAverageCross) -> None:
        average = SimpleAverage if spec.average == SMA else ExponentialAverage
        self._spec = spec
        self._fast = average(spec.fast_period)
        self._slow = average(spec.slow_period)
        self._side = 0  # +1 fast above slow, -1 below, 0 not known yet
        self._name = "SMA" if spec.average == SMA else "EMA"

    def on_candle(self, candle: ClosedCandle) -> Firing | None:
        fast = self._fast.add(candle.close)
        slow = self._slow.add(candle.close)
        if fast is None or slow is None or fast == slow:
            return None
        side = 1 if fast > slow else -1
        previous, self._side = self._side, side
        if previous in (0, side):
            return None
        spec = self._spec
        word = "above" if side > 0 else "below"
        return Firing(
            side=common_pb2.SIDE_BUY if side > 0 else common_pb2.SIDE_SELL,
            reason=(
                f"{self._name}({spec.fast_period}) crossed {word} {self._name}({spec.slow_period})"
                f" on {interval_label(spec.interval)}"
            ),
            price=candle.close,
            event_ms=candle.open_ms,
            time_ms=candle.close_ms,
        )
