"""One rule's evaluation: its kind's evaluator, its cooldown, and the signal a firing becomes.

A rule signal's external id is ``<rule id>:<event ms>`` (the candle's open time, or the tick's
time), so the same market event always yields the same dedupe key in the signal stream.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from services.signal.rules.breakout import BreakoutEvaluator
from services.signal.rules.inputs import ClosedCandle, Firing, PriceTick
from services.signal.rules.model import (
    Breakout,
    MovingAverageCross,
    PriceCross,
    Rule,
    interval_minutes,
)
from services.signal.rules.moving_average_cross import MovingAverageCrossEvaluator
from services.signal.rules.price_cross import PriceCrossEvaluator
from services.signal.rules.rsi import RsiEvaluator
from services.signal.signals.model import RULE_SOURCE, SignalRecord

# Rule signals carry full conviction: a rule either fired or it did not.
RULE_STRENGTH = Decimal(1)
# Kraken's OHLC endpoint returns at most 720 candles: the most history a rule can start from.
MAX_WARMUP = 720


class CandleRule(Protocol):
    def on_candle(self, candle: ClosedCandle) -> Firing | None: ...


def warmup_candles(rule: Rule) -> int:
    """Closed candles a new evaluator reads before live data, so it can fire on the next one.

    Exponential averages and Wilder's RSI depend on all past data; a longer history makes a
    new replica's values agree with those of one that has run for long.
    """
    kind = rule.kind
    if isinstance(kind, PriceCross):
        return 0
    if isinstance(kind, MovingAverageCross):
        return min(MAX_WARMUP, kind.slow_period * 4)
    if isinstance(kind, Breakout):
        return min(MAX_WARMUP, kind.periods + 1)
    return min(MAX_WARMUP, max(kind.period * 5, 100))


class RuleEvaluator:
    """Feeds one rule its pair's market data; answers the signal to record, if any."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.interval_minutes = interval_minutes(rule.kind)
        kind = rule.kind
        self._ticks = PriceCrossEvaluator(kind) if isinstance(kind, PriceCross) else None
        self._candles: CandleRule | None = None
        if isinstance(kind, MovingAverageCross):
            self._candles = MovingAverageCrossEvaluator(kind)
        elif isinstance(kind, Breakout):
            self._candles = BreakoutEvaluator(kind)
        elif not isinstance(kind, PriceCross):
            self._candles = RsiEvaluator(kind)
        self._last_event_ms = -1
        self._last_fired_ms: int | None = None

    def on_candle(self, candle: ClosedCandle) -> SignalRecord | None:
        if (
            self._candles is None
            or candle.pair != self.rule.pair
            or candle.interval_minutes != self.interval_minutes
            # Seen already: history and the live feed overlap by a candle or two.
            or candle.open_ms <= self._last_event_ms
        ):
            return None
        self._last_event_ms = candle.open_ms
        return self._signal(self._candles.on_candle(candle))

    def on_tick(self, tick: PriceTick) -> SignalRecord | None:
        if self._ticks is None or tick.pair != self.rule.pair or tick.time_ms < self._last_event_ms:
            return None
        self._last_event_ms = tick.time_ms
        return self._signal(self._ticks.on_tick(tick))

    def _signal(self, firing: Firing | None) -> SignalRecord | None:
        if firing is None:
            return None
        last = self._last_fired_ms
        if last is not None and firing.time_ms - last < self.rule.cooldown_ms:
            return None
        self._last_fired_ms = firing.time_ms
        return SignalRecord(
            pair=self.rule.pair,
            side=firing.side,
            strength=RULE_STRENGTH,
            reason=firing.reason,
            source=RULE_SOURCE,
            external_id=f"{self.rule.id}:{firing.event_ms}",
            time_ms=firing.time_ms,
            price=firing.price,
            rule_id=self.rule.id,
        )
