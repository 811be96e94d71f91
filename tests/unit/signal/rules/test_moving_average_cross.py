"""Moving-average crossovers, computed by hand for SMA and EMA."""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.inputs import ClosedCandle
from services.signal.rules.model import EMA, SMA, MovingAverageCross
from services.signal.rules.moving_average_cross import MovingAverageCrossEvaluator
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

HOUR = 60 * 60_000


def candle(index: int, close: str) -> ClosedCandle:
    price = Decimal(close)
    return ClosedCandle("BTC/USD", 60, index * HOUR, price, price, price)


def firings(
    average: signal_pb2.MovingAverageType.ValueType, closes: list[str]
) -> list[tuple[int, common_pb2.Side.ValueType, str]]:
    spec = MovingAverageCross(average, 2, 3, signal_pb2.CANDLE_INTERVAL_1H)
    evaluator = MovingAverageCrossEvaluator(spec)
    found = []
    for index, close in enumerate(closes):
        firing = evaluator.on_candle(candle(index, close))
        if firing is not None:
            found.append((index, firing.side, firing.reason))
    return found


def test_sma_crossing_up_then_down() -> None:
    # fast SMA(2) / slow SMA(3) from candle 2: 1.5/2, 1.5/1.67, 2.5/2 (up), 3.5/3, 3.5/3.33,
    # 2.5/3 (down), 1.5/2.
    closes = ["3", "2", "1", "2", "3", "4", "3", "2", "1"]

    assert firings(SMA, closes) == [
        (4, common_pb2.SIDE_BUY, "SMA(2) crossed above SMA(3) on 1h"),
        (7, common_pb2.SIDE_SELL, "SMA(2) crossed below SMA(3) on 1h"),
    ]


def test_the_first_known_side_is_not_a_crossing() -> None:
    assert firings(SMA, ["1", "2", "3", "4", "5"]) == []


def test_touching_and_turning_back_does_not_fire() -> None:
    # fast/slow: 5.5/7 (below), 6/6 (equal), 4.5/4.67 (below), 3.5/4.67 (below)
    assert firings(SMA, ["10", "6", "5", "7", "2", "5"]) == []


def test_touching_then_crossing_fires_once() -> None:
    # fast/slow: 5.5/7 (below), 6/6 (equal), 7.5/6.67 (above)
    assert firings(SMA, ["10", "6", "5", "7", "8"]) == [
        (4, common_pb2.SIDE_BUY, "SMA(2) crossed above SMA(3) on 1h")
    ]


def test_ema_crossing_by_hand() -> None:
    # EMA(2), alpha 2/3: seed 3, 3, then 3 + 2/3 * (1 - 3) = 5/3, then 5/3 + 2/3 * (4 - 5/3) = 29/9
    # EMA(3), alpha 1/2: seed 3, then 3 + 1/2 * (1 - 3) = 2, then 2 + 1/2 * (4 - 2) = 3
    # candle 3: 5/3 < 2 (below); candle 4: 29/9 > 3 (above): BUY
    assert firings(EMA, ["3", "3", "3", "1", "4"]) == [
        (4, common_pb2.SIDE_BUY, "EMA(2) crossed above EMA(3) on 1h")
    ]


def test_firing_is_keyed_by_the_candle_open_and_timed_at_its_close() -> None:
    spec = MovingAverageCross(SMA, 2, 3, signal_pb2.CANDLE_INTERVAL_1H)
    evaluator = MovingAverageCrossEvaluator(spec)
    results = [evaluator.on_candle(candle(i, c)) for i, c in enumerate(["3", "2", "1", "2", "3"])]

    firing = results[-1]
    assert firing is not None
    assert firing.event_ms == 4 * HOUR
    assert firing.time_ms == 5 * HOUR
    assert firing.price == Decimal(3)
