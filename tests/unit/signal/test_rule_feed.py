"""The feed owner's own ticks are evaluated once: their copies from the stream are known."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import pytest

from services.signal.market.market_data import MarketData
from services.signal.market.model import Ticker
from services.signal.rule_feed import OWN_QUEUE_MAX, OwnTicks, RuleFeed
from services.signal.rules.engine import RuleEngine


def ticker(received_ns: int, pair: str = "BTC/USD") -> Ticker:
    one = Decimal(1)
    return Ticker(
        pair, one, one, one, one, one, one, None, one, one, None, None,
        datetime.fromtimestamp(received_ns / 1e9, UTC), received_ns,
    )  # fmt: skip


def test_the_stream_copy_of_an_own_tick_is_known_once() -> None:
    own = OwnTicks()
    own.add(ticker(10))

    assert own.returned(ticker(10)) is True
    assert own.returned(ticker(10)) is False


def test_ticks_of_another_owner_or_pair_are_not_own() -> None:
    own = OwnTicks()
    own.add(ticker(10))

    assert own.returned(ticker(10, pair="ETH/USD")) is False
    assert own.returned(ticker(11)) is False


def test_own_ticks_whose_copy_never_came_are_forgotten_by_a_later_copy() -> None:
    own = OwnTicks()
    for stamp in (10, 20, 30):
        own.add(ticker(stamp))

    assert own.returned(ticker(20)) is True  # 10 was never published
    assert own.returned(ticker(10)) is False
    assert own.returned(ticker(30)) is True


def test_own_tickers_waiting_for_evaluation_are_bounded_oldest_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing evaluates (as when every evaluation waits out a Redis timeout): the WebSocket
    # reader keeps handing tickers over.
    feed = RuleFeed(cast(MarketData, None), cast(RuleEngine, None), ["BTC/USD"], [1])
    caplog.set_level(logging.WARNING)

    for stamp in range(1, OWN_QUEUE_MAX + 6):
        feed._on_own_ticker(ticker(stamp))

    waiting = [feed._own_queue.get_nowait() for _ in range(feed._own_queue.qsize())]
    assert len(waiting) == OWN_QUEUE_MAX
    assert [t.received_ns for t in waiting[:2]] == [6, 7]
    assert waiting[-1].received_ns == OWN_QUEUE_MAX + 5
    assert feed.dropped_own_ticks == 5
    assert [r.message for r in caplog.records] == [
        "rule evaluation is behind: oldest own tickers dropped"
    ]
