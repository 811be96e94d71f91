"""Breakout on closed candles: a close above the highest high of the previous ``periods`` candles
(BUY) or below their lowest low (SELL).

Fires on the first candle of a breakout only: while each following candle keeps breaking out the
same way, the rule stays quiet until a candle closes back inside the range.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from services.signal.rules.inputs import ClosedCandle, Firing
from services.signal.rules.model import ABOVE, BELOW, Breakout, interval_label
from trading.common.v1 import common_pb2


class BreakoutEvaluator:
    def __init__(self, spec: Breakout) -> None:
        self._spec = spec
        self._highs: deque[Decimal] = deque(maxlen=spec.periods)
        self._lows: deque[Decimal] = deque(maxlen=spec.periods)
        self._breaking: common_pb2.Side.ValueType | None = None

    def on_candle(self, candle: ClosedCandle) -> Firing | None:
        firing = None
        breaking: common_pb2.Side.ValueType | None = None
        if len(self._highs) == self._spec.periods:
            high, low = max(self._highs), min(self._lows)
            if candle.close > high and self._spec.direction != BELOW:
                breaking = common_pb2.SIDE_BUY
                level, word = high, "high"
            elif candle.close < low and self._spec.direction != ABOVE:
                breaking = common_pb2.SIDE_SELL
                level, word = low, "low"
            if breaking is not None and breaking != self._breaking:
                firing = Firing(
                    side=breaking,
                    reason=(
                        f"closed at {candle.close}, beyond the {self._spec.periods}-candle {word}"
                        f" {level} on {interval_label(self._spec.interval)}"
                    ),
                    price=candle.close,
                    event_ms=candle.open_ms,
                    time_ms=candle.close_ms,
                )
        self._breaking = breaking
        self._highs.append(candle.high)
        self._lows.append(candle.low)
        return firing
