"""RSI bounds on closed candles: SELL when the RSI rises above ``upper``, BUY when it falls below
``lower``.

Wilder's RSI: the first average gain and loss are the simple means of the first ``period``
changes, then each is smoothed as (previous * (period - 1) + current) / period. The rule fires
when the RSI enters a zone beyond a bound, not while it stays there.
"""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.inputs import ClosedCandle, Firing
from services.signal.rules.model import RsiBounds, interval_label
from trading.common.v1 import common_pb2

_HUNDRED = Decimal(100)
_FIFTY = Decimal(50)
_SHOWN = Decimal("0.01")


def relative_strength_index(average_gain: Decimal, average_loss: Decimal) -> Decimal:
    if average_loss == 0:
        return _HUNDRED if average_gain > 0 else _FIFTY
    return _HUNDRED - _HUNDRED / (1 + average_gain / average_loss)


class RsiEvaluator:
    def __init__(self, spec: RsiBounds) -> None:
        self._spec = spec
        self._previous_close: Decimal | None = None
        self._seen = 0
        # Sums of the first changes, then Wilder's averages.
        self._gain = Decimal(0)
        self._loss = Decimal(0)
        self._zone = 0  # -1 below lower, 0 between the bounds or not known yet, +1 above upper

    def on_candle(self, candle: ClosedCandle) -> Firing | None:
        previous, self._previous_close = self._previous_close, candle.close
        if previous is None:
            return None
        change = candle.close - previous
        gain, loss = max(change, Decimal(0)), max(-change, Decimal(0))
        period = self._spec.period
        self._seen += 1
        if self._seen < period:
            self._gain += gain
            self._loss += loss
            return None
        if self._seen == period:
            self._gain = (self._gain + gain) / period
            self._loss = (self._loss + loss) / period
        else:
            self._gain = (self._gain * (period - 1) + gain) / period
            self._loss = (self._loss * (period - 1) + loss) / period
        rsi = relative_strength_index(self._gain, self._loss)
        zone = 1 if rsi > self._spec.upper else -1 if rsi < self._spec.lower else 0
        previous_zone, self._zone = self._zone, zone
        if zone == 0 or zone == previous_zone or self._seen == period:
            return None
        if zone > 0:
            bound, word = self._spec.upper, "rose above"
        else:
            bound, word = self._spec.lower, "fell below"
        return Firing(
            side=common_pb2.SIDE_SELL if zone > 0 else common_pb2.SIDE_BUY,
            reason=(
                f"RSI({period}) {rsi.quantize(_SHOWN)} {word} {bound}"
                f" on {interval_label(self._spec.interval)}"
            ),
            price=candle.close,
            event_ms=candle.open_ms,
            time_ms=candle.close_ms,
        )
