"""Price threshold: fires when the last trade price crosses the threshold in the rule's direction.

ABOVE fires on a move from below the threshold to at-or-above it (BUY); BELOW on a move from above
to at-or-below it (SELL). Staying on one side never fires again: only the crossing does.
"""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.inputs import Firing, PriceTick
from services.signal.rules.model import ABOVE, PriceCross
from trading.common.v1 import common_pb2


class PriceCrossEvaluator:
    def __init__(self, spec: PriceCross) -> None:
        self._spec = spec
        self._previous: Decimal | None = None

    def on_tick(self, tick: PriceTick) -> Firing | None:
        previous, self._previous = self._previous, tick.last
        if previous is None:
            return None
        threshold = self._spec.threshold
        if self._spec.direction == ABOVE:
            if previous < threshold <= tick.last:
                return _firing(common_pb2.SIDE_BUY, "above", tick, threshold)
        elif previous > threshold >= tick.last:
            return _firing(common_pb2.SIDE_SELL, "below", tick, threshold)
        return None


def _firing(side: common_pb2.Side.ValueType, word: str, tick: PriceTick, at: Decimal) -> Firing:
    return Firing(
        side=side,
        reason=f"last price {tick.last} crossed {word} {at}",
        price=tick.last,
        event_ms=tick.time_ms,
        time_ms=tick.time_ms,
    )
