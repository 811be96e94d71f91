"""The rule engine: every rule's evaluator, fed by the market-data layer, recording signals.

The market layer calls `on_candle` for each closed candle and `on_tick` for each ticker update
of the pairs in `candle_series()` and `ticker_pairs()`; `refresh()` (run every few seconds by
`start()`) follows rule changes in Redis. A new evaluator first reads its rule's history, so it
can fire on the next candle; the newest candle of that history is evaluated like a live one,
because a replica that failed may not have recorded its firing (the signal key dedupes one that
it did). Every replica may evaluate every rule: rule signal keys make the stream hold one signal
per event whichever replica records it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

from services.signal.rules.evaluator import RuleEvaluator, warmup_candles
from services.signal.rules.inputs import ClosedCandle, PriceTick
from services.signal.rules.model import Rule
from services.signal.signals.errors import STORE_FAILURES
from services.signal.signals.model import SignalRecord

log = logging.getLogger(__name__)


class RuleSource(Protocol):
    async def version(self) -> int: ...

    async def all(self) -> list[Rule]: ...


class SignalSink(Protocol):
    async def record(self, signal: SignalRecord) -> tuple[SignalRecord, bool]: ...


class CandleHistory(Protocol):
    async def closed_candles(
        self, pair: str, interval_minutes: int, count: int
    ) -> Sequence[ClosedCandle]:
        """Up to ``count`` most recent closed candles, oldest first."""
        ...


class RuleEngine:
    def __init__(
        self,
        rules: RuleSource,
        sink: SignalSink,
        history: CandleHistory,
        *,
        refresh_interval: float,
    ) -> None:
        self._rules = rules
        self._sink = sink
        self._history = history
        self._refresh_interval = refresh_interval
        self._version = -1
        self._evaluators: dict[str, RuleEvaluator] = {}
        self._by_series: dict[tuple[str, int], list[RuleEvaluator]] = {}
        self._by_pair: dict[str, list[RuleEvaluator]] = {}
        self._task: asyncio.Task[None] | None = None

    def candle_series(self) -> set[tuple[str, int]]:
        """(pair, interval in minutes) of every candle rule."""
        return set(self._by_series)

    def ticker_pairs(self) -> set[str]:
        """Pairs of every last-price rule."""
        return set(self._by_pair)

    async def on_candle(self, candle: ClosedCandle) -> list[SignalRecord]:
        """Evaluate a closed candle; the signals recorded (or found recorded) for it."""
        found = (e.on_candle(candle) for e in self._by_series.get(_series(candle), ()))
        return await self._record([s for s in found if s is not None])

    async def on_tick(self, tick: PriceTick) -> list[SignalRecord]:
        found = (e.on_tick(tick) for e in self._by_pair.get(tick.pair, ()))
        return await self._record([s for s in found if s is not None])

    async def refresh(self) -> None:
        """Load rule changes from Redis: new rules get a warmed-up evaluator, deleted ones go."""
        version = await self._rules.version()
        if version == self._version:
            return
        rules = {rule.id: rule for rule in await self._rules.all()}
        evaluators = {i: e for i, e in self._evaluators.items() if i in rules}
        for rule_id, rule in rules.items():
            if rule_id not in evaluators:
                evaluators[rule_id] = await self._warmed_up(rule)
        self._evaluators = evaluators
        self._index()
        self._version = version
        log.info("rules loaded", extra={"rules": len(evaluators), "version": version})

    async def start(self) -> None:
        self._task = asyncio.create_task(self._refresh_forever(), name="rule-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the loop must outlive any one failure
                log.warning("rules not refreshed", extra={"error": f"{type(exc).__name__}: {exc}"})
            await asyncio.sleep(self._refresh_interval)

    async def _warmed_up(self, rule: Rule) -> RuleEvaluator:
        evaluator = RuleEvaluator(rule)
        count = warmup_candles(rule)
        if evaluator.interval_minutes is None or count == 0:
            return evaluator
        try:
            history = list(
                await self._history.closed_candles(rule.pair, evaluator.interval_minutes, count)
            )
        except Exception as exc:  # a cold evaluator still learns from live candles
            log.warning(
                "rule history unavailable; warming up on live candles",
                extra={"rule_id": rule.id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return evaluator
        for candle in history[:-1]:
            evaluator.on_candle(candle)
        if history:
            newest = history[-1]
            signal = evaluator.on_candle(newest)
            if signal is not None and newest.close_ms >= rule.create_ms:
                await self._record([signal])
        return evaluator

    def _index(self) -> None:
        by_series: dict[tuple[str, int], list[RuleEvaluator]] = defaultdict(list)
        by_pair: dict[str, list[RuleEvaluator]] = defaultdict(list)
        for evaluator in self._evaluators.values():
            if evaluator.interval_minutes is None:
                by_pair[evaluator.rule.pair].append(evaluator)
            else:
                by_series[(evaluator.rule.pair, evaluator.interval_minutes)].append(evaluator)
        self._by_series, self._by_pair = dict(by_series), dict(by_pair)

    async def _record(self, signals: list[SignalRecord]) -> list[SignalRecord]:
        recorded = []
        for signal in signals:
            try:
                stored, _duplicate = await self._sink.record(signal)
            except STORE_FAILURES as exc:
                log.warning(
                    "rule signal not recorded",
                    extra={
                        "rule_id": signal.rule_id,
                        "external_id": signal.external_id,
                        "error": f"{type(exc).__name__}: {exc}",
                    },
                )
                continue
            recorded.append(stored)
        return recorded


def _series(candle: ClosedCandle) -> tuple[str, int]:
    return candle.pair, candle.interval_minutes
