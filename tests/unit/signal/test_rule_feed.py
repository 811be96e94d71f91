"""The feed owner's own ticks are evaluated once: their copies from the stream are known."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from services.signal.market.model import Ticker
from services.signal.rule_feed import OwnTicks


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
