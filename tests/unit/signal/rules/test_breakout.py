"""Breakouts of the previous N candles' range fire on the first breaking candle only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from services.signal.rules.breakout import BreakoutEvaluator
from services.signal.rules.inputs import ClosedCandle
from services.signal.rules.model import ABOVE, BOTH, Breakout
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

# (high, low, close) per candle; the look-back is 3 candles.
RISING = [
    (10, 8, 9),
    (11, 9, 10),
    (12, 10, 11),
    (13, 11, "12.5"),  # 12.5 > max(10, 11, 12) = 12: BUY
    (14, 12, 14),  # 14 > max(11, 12, 13) = 13: still breaking out, quiet
    (13, 11, 12),  # inside max 14 / min 10
    (15, 14, 15),  # 15 > max(13, 14, 13) = 14: BUY again
]
FALLING = [
    (10, 8, 9),
    (10, 8, 9),
    (10, 8, 9),
    (9, 6, 7),  # 7 < min(8, 8, 8): SELL
]


def bar(index: int, high: object, low: object, close: object) -> ClosedCandle:
    prices = (Decimal(str(value)) for value in (high, low, close))
    return ClosedCandle("ETH/USD", 15, index * 900_000, *prices)


def firings(
    rows: Sequence[tuple[object, object, object]], direction: signal_pb2.CrossDirection.ValueType
) -> list[tuple[int, common_pb2.Side.ValueType]]:
    spec = Breakout(3, signal_pb2.CANDLE_INTERVAL_15M, direction)
    evaluator = BreakoutEvaluator(spec)
    found = []
    for index, (high, low, close) in enumerate(rows):
        firing = evaluator.on_candle(bar(index, high, low, close))
        if firing is not None:
            found.append((index, firing.side))
    return found


def test_breakout_above_fires_once_per_breakout() -> None:
    assert firings(RISING, BOTH) == [(3, common_pb2.SIDE_BUY), (6, common_pb2.SIDE_BUY)]


def test_breakout_below_the_lowest_low_sells() -> None:
    assert firings(FALLING, BOTH) == [(3, common_pb2.SIDE_SELL)]


def test_direction_above_ignores_breakdowns() -> None:
    assert firings(FALLING, ABOVE) == []


def test_nothing_fires_before_the_look_back_is_full() -> None:
    assert firings([(10, 8, 9), (20, 18, 19), (30, 28, 29)], BOTH) == []


def test_reason_names_the_level_broken() -> None:
    evaluator = BreakoutEvaluator(Breakout(3, signal_pb2.CANDLE_INTERVAL_15M, BOTH))
    last = None
    for index, (high, low, close) in enumerate(RISING[:4]):
        last = evaluator.on_candle(bar(index, high, low, close))
    assert last is not None
    assert last.reason == "closed at 12.5, beyond the 3-candle high 12 on 15m"
