"""Validated rules: one frozen spec per rule kind, and the rule with its id, pair and owner.

A `Rule` converts to the proto `Rule`, which is also its stored form (JSON in Redis); the
stored form is read back through the same checks as a request (rules/validation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypeAlias

from google.protobuf.timestamp_pb2 import Timestamp

from services.signal.signals.fields import plain
from trading.signal.v1 import signal_pb2

Interval: TypeAlias = signal_pb2.CandleInterval.ValueType
Direction: TypeAlias = signal_pb2.CrossDirection.ValueType
AverageType: TypeAlias = signal_pb2.MovingAverageType.ValueType

# Kraken's OHLC intervals: minutes, and how reasons name them.
INTERVALS: dict[Interval, tuple[int, str]] = {
    signal_pb2.CANDLE_INTERVAL_1M: (1, "1m"),
    signal_pb2.CANDLE_INTERVAL_5M: (5, "5m"),
    signal_pb2.CANDLE_INTERVAL_15M: (15, "15m"),
    signal_pb2.CANDLE_INTERVAL_30M: (30, "30m"),
    signal_pb2.CANDLE_INTERVAL_1H: (60, "1h"),
    signal_pb2.CANDLE_INTERVAL_4H: (240, "4h"),
    signal_pb2.CANDLE_INTERVAL_1D: (1440, "1d"),
    signal_pb2.CANDLE_INTERVAL_1W: (10080, "1w"),
    signal_pb2.CANDLE_INTERVAL_15D: (21600, "15d"),
}

ABOVE = signal_pb2.CROSS_DIRECTION_ABOVE
BELOW = signal_pb2.CROSS_DIRECTION_BELOW
BOTH = signal_pb2.CROSS_DIRECTION_UNSPECIFIED
SMA = signal_pb2.MOVING_AVERAGE_TYPE_SMA
EMA = signal_pb2.MOVING_AVERAGE_TYPE_EMA


@dataclass(frozen=True)
class PriceCross:
    threshold: Decimal
    direction: Direction  # ABOVE or BELOW


@dataclass(frozen=True)
class MovingAverageCross:
    average: AverageType
    fast_period: int
    slow_period: int
    interval: Interval


@dataclass(frozen=True)
class Breakout:
    periods: int
    interval: Interval
    direction: Direction  # ABOVE, BELOW or BOTH


@dataclass(frozen=True)
class RsiBounds:
    period: int
    interval: Interval
    lower: Decimal
    upper: Decimal


RuleKind = PriceCross | MovingAverageCross | Breakout | RsiBounds


def interval_minutes(kind: RuleKind) -> int | None:
    """The candle interval a rule kind reads, in minutes; None for last-trade prices."""
    if isinstance(kind, PriceCross):
        return None
    return INTERVALS[kind.interval][0]


def interval_label(interval: Interval) -> str:
    return INTERVALS[interval][1]


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    pair: str
    kind: RuleKind
    cooldown_ms: int
    team: str
    created_by: str
    create_ms: int

    def to_proto(self) -> signal_pb2.Rule:
        created = Timestamp()
        created.FromMilliseconds(self.create_ms)
        rule = signal_pb2.Rule(
            id=self.id,
            name=self.name,
            pair=self.pair,
            team=self.team,
            created_by=self.created_by,
            create_time=created,
        )
        rule.cooldown.FromMilliseconds(self.cooldown_ms)
        kind = self.kind
        if isinstance(kind, PriceCross):
            rule.price_cross.threshold = plain(kind.threshold)
            rule.price_cross.direction = kind.direction
        elif isinstance(kind, MovingAverageCross):
            rule.moving_average_cross.type = kind.average
            rule.moving_average_cross.fast_period = kind.fast_period
            rule.moving_average_cross.slow_period = kind.slow_period
            rule.moving_average_cross.interval = kind.interval
        elif isinstance(kind, Breakout):
            rule.breakout.periods = kind.periods
            rule.breakout.interval = kind.interval
            rule.breakout.direction = kind.direction
        else:
            rule.rsi.period = kind.period
            rule.rsi.interval = kind.interval
            rule.rsi.lower = plain(kind.lower)
            rule.rsi.upper = plain(kind.upper)
        return rule
