"""A rule's evaluator: deterministic signal keys, cooldown, and candles seen twice."""

from __future__ import annotations

from decimal import Decimal

from services.signal.rules.evaluator import RuleEvaluator, warmup_candles
from services.signal.rules.inputs import ClosedCandle, PriceTick
from services.signal.rules.model import ABOVE, SMA, MovingAverageCross, PriceCross, Rule, RuleKind
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

HOUR = 3_600_000
CROSS = MovingAverageCross(SMA, 2, 3, signal_pb2.CANDLE_INTERVAL_1H)
# SMA(2)/SMA(3) cross above on candle 4 and below on candle 7.
CLOSES = ["3", "2", "1", "2", "3", "4", "3", "2", "1"]


def rule(kind: RuleKind, cooldown_ms: int = 0) -> Rule:
    return Rule("r-1", "test", "BTC/USD", kind, cooldown_ms, "desk-a", "desk-a", 0)


def candles(closes: list[str], pair: str = "BTC/USD") -> list[ClosedCandle]:
    return [
        ClosedCandle(pair, 60, i * HOUR, Decimal(c), Decimal(c), Decimal(c))
        for i, c in enumerate(closes)
    ]


def test_signal_key_is_the_rule_and_the_candle_open_time() -> None:
    evaluator = RuleEvaluator(rule(CROSS))

    signals = [s for c in candles(CLOSES) if (s := evaluator.on_candle(c)) is not None]

    assert [s.external_id for s in signals] == [f"r-1:{4 * HOUR}", f"r-1:{7 * HOUR}"]
    first = signals[0]
    assert (first.source, first.rule_id, first.pair) == ("rule", "r-1", "BTC/USD")
    assert first.side == common_pb2.SIDE_BUY
    assert first.strength == 1
    assert first.time_ms == 5 * HOUR
    assert first.price == Decimal(3)


def test_two_evaluators_of_one_rule_give_identical_signals() -> None:
    first, second = RuleEvaluator(rule(CROSS)), RuleEvaluator(rule(CROSS))

    assert [first.on_candle(c) for c in candles(CLOSES)] == [
        second.on_candle(c) for c in candles(CLOSES)
    ]


def test_cooldown_suppresses_a_firing_too_soon_after_the_last() -> None:
    evaluator = RuleEvaluator(rule(CROSS, cooldown_ms=4 * HOUR))

    signals = [s for c in candles(CLOSES) if (s := evaluator.on_candle(c)) is not None]

    # The SELL on candle 7 closes 3 h after the BUY: within the 4 h cooldown.
    assert [s.side for s in signals] == [common_pb2.SIDE_BUY]


def test_a_candle_seen_again_is_ignored() -> None:
    evaluator = RuleEvaluator(rule(CROSS))
    series = candles(CLOSES)
    for candle in series[:5]:
        evaluator.on_candle(candle)

    assert evaluator.on_candle(series[4]) is None
    assert evaluator.on_candle(series[3]) is None
    # The replays did not disturb the averages: the SELL still comes on candle 7.
    later = [evaluator.on_candle(c) for c in series[5:]]
    assert [s.side if s else None for s in later] == [None, None, common_pb2.SIDE_SELL, None]


def test_other_pairs_and_intervals_are_ignored() -> None:
    evaluator = RuleEvaluator(rule(CROSS))

    assert all(evaluator.on_candle(c) is None for c in candles(CLOSES, pair="ETH/USD"))
    odd = ClosedCandle("BTC/USD", 5, 0, Decimal(1), Decimal(1), Decimal(1))
    assert evaluator.on_candle(odd) is None


def test_price_rule_reads_ticks_not_candles() -> None:
    evaluator = RuleEvaluator(rule(PriceCross(Decimal(100), ABOVE)))

    assert all(evaluator.on_candle(c) is None for c in candles(["99", "101"]))
    assert evaluator.on_tick(PriceTick("BTC/USD", 1, Decimal(99))) is None
    signal = evaluator.on_tick(PriceTick("BTC/USD", 2, Decimal(101)))
    assert signal is not None
    assert signal.external_id == "r-1:2"


def test_warmup_is_enough_to_fire_and_bounded_by_kraken_history() -> None:
    assert warmup_candles(rule(PriceCross(Decimal(1), ABOVE))) == 0
    assert warmup_candles(rule(CROSS)) >= CROSS.slow_period + 1
    big = MovingAverageCross(SMA, 2, 500, signal_pb2.CANDLE_INTERVAL_1H)
    assert warmup_candles(rule(big)) == 720
