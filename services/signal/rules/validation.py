"""Checks of CreateRuleRequest; the first broken field is named (``breakout.periods: …``).

`parse_kind` reads the ``kind`` oneof that CreateRuleRequest and the stored Rule share, so a
stored rule is read back through the same checks as the request that created it.
"""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.model import (
    ABOVE,
    BELOW,
    BOTH,
    EMA,
    INTERVALS,
    SMA,
    Breakout,
    Interval,
    MovingAverageCross,
    PriceCross,
    RsiBounds,
    Rule,
    RuleKind,
)
from services.signal.signals import fields
from services.signal.signals.errors import InvalidArgument
from trading.signal.v1 import signal_pb2

MAX_PERIOD = 500
DEFAULT_RSI_PERIOD = 14
_KINDS = "price_cross, moving_average_cross, breakout or rsi"


def parse_create(
    request: signal_pb2.CreateRuleRequest, *, rule_id: str, team: str, now_ms: int
) -> Rule:
    """The rule a valid request describes, owned by ``team``."""
    return Rule(
        id=rule_id,
        name=fields.name(request.name),
        pair=fields.pair(request.pair),
        kind=parse_kind(request),
        cooldown_ms=fields.cooldown_ms(request.cooldown, request.HasField("cooldown")),
        team=team,
        created_by=team,
        create_ms=now_ms,
    )


def parse_stored(rule: signal_pb2.Rule) -> Rule:
    """A rule as stored in Redis, checked again."""
    return Rule(
        id=rule.id,
        name=rule.name,
        pair=fields.pair(rule.pair),
        kind=parse_kind(rule),
        cooldown_ms=int(rule.cooldown.ToMilliseconds()),
        team=rule.team,
        created_by=rule.created_by,
        create_ms=int(rule.create_time.ToMilliseconds()),
    )


def parse_kind(message: signal_pb2.CreateRuleRequest | signal_pb2.Rule) -> RuleKind:
    which = message.WhichOneof("kind")
    if which == "price_cross":
        return _price_cross(message.price_cross)
    if which == "moving_average_cross":
        return _moving_average_cross(message.moving_average_cross)
    if which == "breakout":
        return _breakout(message.breakout)
    if which == "rsi":
        return _rsi(message.rsi)
    raise InvalidArgument("kind", f"is required: exactly one of {_KINDS}")


def _price_cross(rule: signal_pb2.PriceCrossRule) -> PriceCross:
    threshold = fields.positive_decimal(rule.threshold, "price_cross.threshold")
    if rule.direction not in (ABOVE, BELOW):
        raise InvalidArgument(
            "price_cross.direction", "is required: CROSS_DIRECTION_ABOVE or CROSS_DIRECTION_BELOW"
        )
    return PriceCross(threshold=threshold, direction=rule.direction)


def _moving_average_cross(rule: signal_pb2.MovingAverageCrossRule) -> MovingAverageCross:
    prefix = "moving_average_cross"
    if rule.type not in (SMA, EMA):
        raise InvalidArgument(
            f"{prefix}.type", "is required: MOVING_AVERAGE_TYPE_SMA or MOVING_AVERAGE_TYPE_EMA"
        )
    fast = _period(rule.fast_period, f"{prefix}.fast_period", minimum=1)
    slow = _period(rule.slow_period, f"{prefix}.slow_period", minimum=2)
    if fast >= slow:
        raise InvalidArgument(f"{prefix}.fast_period", f"must be < slow_period ({slow})")
    return MovingAverageCross(
        average=rule.type,
        fast_period=fast,
        slow_period=slow,
        interval=_interval(rule.interval, f"{prefix}.interval"),
    )


def _breakout(rule: signal_pb2.BreakoutRule) -> Breakout:
    if rule.direction not in (ABOVE, BELOW, BOTH):
        raise InvalidArgument("breakout.direction", f"unknown direction {rule.direction}")
    return Breakout(
        periods=_period(rule.periods, "breakout.periods", minimum=2),
        interval=_interval(rule.interval, "breakout.interval"),
        direction=rule.direction,
    )


def _rsi(rule: signal_pb2.RsiRule) -> RsiBounds:
    period = DEFAULT_RSI_PERIOD if rule.period == 0 else _period(rule.period, "rsi.period", 2)
    interval = _interval(rule.interval, "rsi.interval")
    lower = _percent(rule.lower, "rsi.lower")
    upper = _percent(rule.upper, "rsi.upper")
    if upper <= lower:
        raise InvalidArgument("rsi.upper", f"must be above lower ({lower})")
    return RsiBounds(period=period, interval=interval, lower=lower, upper=upper)


def _period(value: int, field: str, minimum: int) -> int:
    if not minimum <= value <= MAX_PERIOD:
        raise InvalidArgument(field, f"must be from {minimum} to {MAX_PERIOD}")
    return value


def _interval(value: Interval, field: str) -> Interval:
    if value not in INTERVALS:
        raise InvalidArgument(field, "is required: a CANDLE_INTERVAL_* value")
    return value


def _percent(text: str, field: str) -> Decimal:
    if not text:
        raise InvalidArgument(field, 'is required: a decimal in (0, 100), e.g. "30"')
    value = fields.decimal(text, field)
    if not 0 < value < 100:
        raise InvalidArgument(field, "must be in (0, 100)")
    return value
