"""Price threshold rules fire on the crossing only, from the right side, at-or-beyond it."""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.inputs import PriceTick
from services.signal.rules.model import ABOVE, BELOW, PriceCross
from services.signal.rules.price_cross import PriceCrossEvaluator
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2


def fired(
    direction: signal_pb2.CrossDirection.ValueType, prices: list[str]
) -> list[tuple[int, common_pb2.Side.ValueType]]:
    """(tick index, side) of every firing."""
    evaluator = PriceCrossEvaluator(PriceCross(Decimal(100), direction))
    found = []
    for index, price in enumerate(prices):
        firing = evaluator.on_tick(PriceTick("BTC/USD", 1000 + index, Decimal(price)))
        if firing is not None:
            found.append((index, firing.side))
    return found


def test_above_fires_once_when_the_price_reaches_the_threshold_from_below() -> None:
    assert fired(ABOVE, ["99", "100", "101", "102", "100"]) == [(1, common_pb2.SIDE_BUY)]


def test_above_fires_again_after_going_back_below() -> None:
    assert fired(ABOVE, ["99", "101", "99.99", "100.5"]) == [
        (1, common_pb2.SIDE_BUY),
        (3, common_pb2.SIDE_BUY),
    ]


def test_first_price_never_fires_even_beyond_the_threshold() -> None:
    assert fired(ABOVE, ["150", "160"]) == []


def test_starting_exactly_at_the_threshold_is_not_a_crossing() -> None:
    assert fired(ABOVE, ["100", "101"]) == []


def test_below_fires_on_reaching_the_threshold_from_above() -> None:
    assert fired(BELOW, ["101", "100", "99", "101", "98"]) == [
        (1, common_pb2.SIDE_SELL),
        (4, common_pb2.SIDE_SELL),
    ]


def test_below_ignores_upward_crossings() -> None:
    assert fired(BELOW, ["99", "101", "102"]) == []


def test_firing_carries_the_tick_time_price_and_reason() -> None:
    evaluator = PriceCrossEvaluator(PriceCross(Decimal(100), ABOVE))
    evaluator.on_tick(PriceTick("BTC/USD", 5, Decimal("99.5")))

    firing = evaluator.on_tick(PriceTick("BTC/USD", 7, Decimal("100.25")))

    assert firing is not None
    assert (firing.event_ms, firing.time_ms, firing.price) == (7, 7, Decimal("100.25"))
    assert firing.reason == "last price 100.25 crossed above 100"
