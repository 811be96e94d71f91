"""Market-data work waits while a tick's trading is under way, and never longer than the limit."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.signal.trading_first import TradingFirst


async def waited(first: TradingFirst) -> float:
    """Seconds ``turn()`` took."""
    started = time.monotonic()
    await first.turn()
    return time.monotonic() - started


async def test_nothing_under_way_means_no_wait() -> None:
    first = TradingFirst(5.0)

    assert await waited(first) < 0.05


async def test_a_turn_holds_market_data_until_it_is_done() -> None:
    first = TradingFirst(5.0)
    turn = first.begin()
    waiting = asyncio.ensure_future(first.turn())
    await asyncio.sleep(0.05)
    assert not waiting.done()

    turn.done()

    await asyncio.wait_for(waiting, 1.0)
    assert first.under_way == 0


async def test_every_turn_must_be_done_and_done_twice_counts_once() -> None:
    first = TradingFirst(5.0)
    recording, trading = first.begin(), first.begin()
    recording.done()
    recording.done()
    waiting = asyncio.ensure_future(first.turn())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert first.under_way == 1

    trading.done()

    await asyncio.wait_for(waiting, 1.0)


async def test_no_wait_lasts_past_the_limit_from_when_trading_began() -> None:
    first = TradingFirst(1.0)
    first.begin()  # never done: execution hangs, say
    await asyncio.sleep(0.5)

    took = await waited(first)

    assert 0.3 < took < 0.9  # what was left of the 1 s, not 1 s more
    assert await waited(first) < 0.01  # past the limit: market data goes on


async def test_a_limit_of_zero_never_holds_anything() -> None:
    first = TradingFirst(0)
    first.begin()

    assert first.under_way == 0
    assert await waited(first) < 0.01


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="limit"):
        TradingFirst(-1)
