"""CreateRuleRequest checks name the offending field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.signal.rules.model import EMA, MovingAverageCross, RsiBounds
from services.signal.rules.validation import parse_create, parse_stored
from services.signal.signals.errors import InvalidArgument
from trading.signal.v1 import signal_pb2

H1 = signal_pb2.CANDLE_INTERVAL_1H


def request(**kind: object) -> signal_pb2.CreateRuleRequest:
    fields: dict[str, object] = {"name": "momentum", "pair": "BTC/USD"}
    fields.update(kind)
    return signal_pb2.CreateRuleRequest(**fields)  # type: ignore[arg-type]


def error_of(message: signal_pb2.CreateRuleRequest) -> str:
    with pytest.raises(InvalidArgument) as failed:
        parse_create(message, rule_id="r", team="desk-a", now_ms=1)
    return str(failed.value)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (request(name=""), "name: is required"),
        (request(pair="BTCUSD"), "pair: 'BTCUSD' is not a pair in BASE/QUOTE form"),
        (request(), "kind: is required"),
        (
            request(
                price_cross=signal_pb2.PriceCrossRule(
                    threshold="-1", direction=signal_pb2.CROSS_DIRECTION_ABOVE
                )
            ),
            "price_cross.threshold: must be > 0",
        ),
        (
            request(
                price_cross=signal_pb2.PriceCrossRule(
                    threshold="1e5", direction=signal_pb2.CROSS_DIRECTION_ABOVE
                )
            ),
            "price_cross.threshold: '1e5' is not a decimal number",
        ),
        (
            request(price_cross=signal_pb2.PriceCrossRule(threshold="100")),
            "price_cross.direction: is required",
        ),
        (
            request(
                moving_average_cross=signal_pb2.MovingAverageCrossRule(
                    type=EMA, fast_period=26, slow_period=12, interval=H1
                )
            ),
            "moving_average_cross.fast_period: must be < slow_period (12)",
        ),
        (
            request(
                moving_average_cross=signal_pb2.MovingAverageCrossRule(
                    fast_period=12, slow_period=26, interval=H1
                )
            ),
            "moving_average_cross.type: is required",
        ),
        (
            request(
                moving_average_cross=signal_pb2.MovingAverageCrossRule(
                    type=EMA, fast_period=12, slow_period=501, interval=H1
                )
            ),
            "moving_average_cross.slow_period: must be from 2 to 500",
        ),
        (
            request(
                moving_average_cross=signal_pb2.MovingAverageCrossRule(
                    type=EMA, fast_period=12, slow_period=26
                )
            ),
            "moving_average_cross.interval: is required",
        ),
        (
            request(breakout=signal_pb2.BreakoutRule(periods=1, interval=H1)),
            "breakout.periods: must be from 2 to 500",
        ),
        (
            request(rsi=signal_pb2.RsiRule(interval=H1, lower="30")),
            "rsi.upper: is required",
        ),
        (
            request(rsi=signal_pb2.RsiRule(interval=H1, lower="70", upper="30")),
            "rsi.upper: must be above lower (70)",
        ),
        (
            request(rsi=signal_pb2.RsiRule(interval=H1, lower="0", upper="70")),
            "rsi.lower: must be in (0, 100)",
        ),
        (
            request(rsi=signal_pb2.RsiRule(period=1, interval=H1, lower="30", upper="70")),
            "rsi.period: must be from 2 to 500",
        ),
    ],
)
def test_bad_rule_names_the_field(message: signal_pb2.CreateRuleRequest, expected: str) -> None:
    assert error_of(message).startswith(expected)


def test_cooldown_longer_than_a_day_is_refused() -> None:
    message = request(breakout=signal_pb2.BreakoutRule(periods=20, interval=H1))
    message.cooldown.FromSeconds(86_401)
    assert error_of(message) == "cooldown: must be at most one day"


def test_rsi_period_defaults_to_14_and_the_pair_is_normalised() -> None:
    message = request(pair="xbt/usd", rsi=signal_pb2.RsiRule(interval=H1, lower="30", upper="70"))

    rule = parse_create(message, rule_id="r", team="desk-a", now_ms=5)

    assert rule.pair == "BTC/USD"
    assert rule.kind == RsiBounds(14, H1, Decimal(30), Decimal(70))


def test_a_rule_reads_back_from_its_proto_unchanged() -> None:
    message = request(
        moving_average_cross=signal_pb2.MovingAverageCrossRule(
            type=EMA, fast_period=12, slow_period=26, interval=H1
        )
    )
    message.cooldown.FromSeconds(90)
    rule = parse_create(message, rule_id="r-9", team="desk-a", now_ms=1_700_000_000_123)

    assert parse_stored(rule.to_proto()) == rule
    assert rule.kind == MovingAverageCross(EMA, 12, 26, H1)
    assert rule.cooldown_ms == 90_000
