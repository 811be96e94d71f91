"""The rule engine warms new rules up from history, records firings, and follows rule changes."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from services.signal.rules.engine import RuleEngine
from services.signal.rules.inputs import ClosedCandle
from services.signal.rules.model import SMA, MovingAverageCross, Rule
from services.signal.signals.model import SignalRecord
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

HOUR = 3_600_000
CLOSES = ["3", "2", "1", "2", "3", "4", "3", "2", "1"]  # SMA(2)/SMA(3): BUY on 4, SELL on 7
SERIES = [
    ClosedCandle("BTC/USD", 60, i * HOUR, Decimal(c), Decimal(c), Decimal(c))
    for i, c in enumerate(CLOSES)
]


def cross_rule(created_ms: int) -> Rule:
    kind = MovingAverageCross(SMA, 2, 3, signal_pb2.CANDLE_INTERVAL_1H)
    return Rule("r-1", "x", "BTC/USD", kind, 0, "desk-a", "desk-a", created_ms)


class Rules:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.changes = 1

    async def version(self) -> int:
        return self.changes

    async def all(self) -> list[Rule]:
        return list(self.rules)


class Sink:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def record(self, signal: SignalRecord) -> tuple[SignalRecord, bool]:
        duplicate = signal.external_id in self.keys
        self.keys.append(signal.external_id)
        return signal.recorded_as(f"{len(self.keys)}-0"), duplicate


class History:
    def __init__(self, candles: list[ClosedCandle]) -> None:
        self.candles = candles

    async def closed_candles(
        self, pair: str, interval_minutes: int, count: int
    ) -> Sequence[ClosedCandle]:
        return self.candles[-count:]


async def test_warmed_up_rule_fires_on_the_next_live_candle() -> None:
    sink = Sink()
    engine = RuleEngine(Rules([cross_rule(0)]), sink, History(SERIES[:7]), refresh_interval=1)
    await engine.refresh()
    sink.keys.clear()  # whatever the newest history candle gave

    recorded = await engine.on_candle(SERIES[7])

    assert [s.side for s in recorded] == [common_pb2.SIDE_SELL]
    assert sink.keys == [f"r-1:{7 * HOUR}"]
    assert engine.candle_series() == {("BTC/USD", 60)}


async def test_newest_history_candle_is_evaluated_like_a_live_one() -> None:
    sink = Sink()
    engine = RuleEngine(Rules([cross_rule(0)]), sink, History(SERIES[:5]), refresh_interval=1)

    await engine.refresh()

    # A replica that failed over may have missed recording candle 4's BUY: it is recorded now.
    assert sink.keys == [f"r-1:{4 * HOUR}"]


async def test_history_from_before_the_rule_existed_never_fires() -> None:
    sink = Sink()
    engine = RuleEngine(
        Rules([cross_rule(created_ms=100 * HOUR)]), sink, History(SERIES[:5]), refresh_interval=1
    )

    await engine.refresh()

    assert sink.keys == []


async def test_deleted_rules_stop_firing() -> None:
    rules, sink = Rules([cross_rule(0)]), Sink()
    engine = RuleEngine(rules, sink, History(SERIES[:7]), refresh_interval=1)
    await engine.refresh()
    rules.rules, rules.changes = [], 2

    await engine.refresh()

    assert await engine.on_candle(SERIES[7]) == []
    assert engine.candle_series() == set()
