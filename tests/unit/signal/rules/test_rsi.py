"""Wilder's RSI by hand; the rule fires when the RSI enters a zone beyond a bound."""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.inputs import ClosedCandle
from services.signal.rules.model import RsiBounds
from services.signal.rules.rsi import RsiEvaluator, relative_strength_index
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2


def firings(closes: list[int]) -> list[tuple[int, common_pb2.Side.ValueType, str]]:
    spec = RsiBounds(2, signal_pb2.CANDLE_INTERVAL_1D, Decimal(30), Decimal(70))
    evaluator = RsiEvaluator(spec)
    found = []
    for index, close in enumerate(closes):
        price = Decimal(close)
        firing = evaluator.on_candle(
            ClosedCandle("BTC/USD", 1440, index * 86_400_000, price, price, price)
        )
        if firing is not None:
            found.append((index, firing.side, firing.reason))
    return found


def test_rsi_of_averages() -> None:
    assert relative_strength_index(Decimal(1), Decimal(0)) == 100
    assert relative_strength_index(Decimal(0), Decimal(0)) == 50
    assert relative_strength_index(Decimal("0.5"), Decimal("0.5")) == 50


def test_falls_below_lower_then_rises_above_upper() -> None:
    # period 2. changes +1 +1 | +1 -1 -2 -1 +5
    # first averages after 2 changes: gain 1, loss 0: RSI 100 (already above 70: no crossing)
    # +1: gain 1, loss 0: 100        -1: gain .5, loss .5: 50
    # -2: gain .25, loss 1.25: 16.67 (BUY)   -1: gain .125, loss 1.125: 10 (still below: quiet)
    # +5: gain 2.5625, loss .5625: 100 - 100 / (1 + 41/9) = 82 (SELL)
    assert firings([10, 11, 12, 13, 12, 10, 9, 14]) == [
        (5, common_pb2.SIDE_BUY, "RSI(2) 16.67 fell below 30 on 1d"),
        (7, common_pb2.SIDE_SELL, "RSI(2) 82.00 rose above 70 on 1d"),
    ]


def test_first_rsi_beyond_a_bound_is_not_a_crossing() -> None:
    assert firings([10, 11, 12, 13, 14]) == []
