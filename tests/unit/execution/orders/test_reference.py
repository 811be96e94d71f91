"""Reference prices: fresh ones reused, aging ones refreshed off the order path, old ones fetched
there."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any, cast

import pytest

from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import ServiceUnavailableError
from services.execution.orders.reference import ReferencePrices

PAIR = "XXBTZUSD"


class FakeTicker:
    """Kraken's Ticker for one pair: the price it reports next, and how often it was asked."""

    def __init__(self, price: str) -> None:
        self.price = Decimal(price)
        self.calls = 0
        self.fail = False

    async def ticker(self, pairs: list[str]) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(0)
        if self.fail:
            raise ServiceUnavailableError("EService:Unavailable")
        return {pairs[0]: {"c": [self.price, Decimal("1")]}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def prices(kraken: FakeTicker, clock: Clock, refresh_delay: float = 0.0) -> ReferencePrices:
    return ReferencePrices(
        cast(KrakenSpotClient, kraken),
        fresh_age=1.0,
        max_age=10.0,
        clock=clock,
        refresh_delay=refresh_delay,
    )


def test_a_fresh_price_is_reused(clock: Clock) -> None:
    kraken = FakeTicker("50000")

    async def scenario() -> list[Decimal | None]:
        book = prices(kraken, clock)
        first = await book.last_trade(PAIR)
        clock.now += 0.5
        kraken.price = Decimal("51000")
        return [first, await book.last_trade(PAIR)]

    assert asyncio.run(scenario()) == [Decimal("50000"), Decimal("50000")]
    assert kraken.calls == 1


def test_an_aging_price_is_used_and_refreshed_in_the_background(clock: Clock) -> None:
    kraken = FakeTicker("50000")

    async def scenario() -> list[Decimal | None]:
        book = prices(kraken, clock)
        await book.last_trade(PAIR)
        clock.now += 5
        kraken.price = Decimal("51000")
        # Two orders on the aging price: both answered at once, one refresh between them.
        aging = [await book.last_trade(PAIR), await book.last_trade(PAIR)]
        await asyncio.sleep(0.01)
        return [*aging, await book.last_trade(PAIR)]

    assert asyncio.run(scenario()) == [Decimal("50000"), Decimal("50000"), Decimal("51000")]
    assert kraken.calls == 2


def test_the_refresh_waits_until_the_order_that_asked_for_it_has_gone(clock: Clock) -> None:
    kraken = FakeTicker("50000")

    async def scenario() -> list[int]:
        book = prices(kraken, clock, refresh_delay=0.05)
        await book.last_trade(PAIR)
        clock.now += 5
        await book.last_trade(PAIR)
        await asyncio.sleep(0.01)  # the order's own awaits: no Ticker call among them
        during = kraken.calls
        await asyncio.sleep(0.1)
        return [during, kraken.calls]

    assert asyncio.run(scenario()) == [1, 2]


def test_a_price_past_max_age_is_fetched_on_the_order_path(clock: Clock) -> None:
    kraken = FakeTicker("50000")

    async def scenario() -> Decimal | None:
        book = prices(kraken, clock)
        await book.last_trade(PAIR)
        clock.now += 10
        kraken.price = Decimal("52000")
        return await book.last_trade(PAIR)

    assert asyncio.run(scenario()) == Decimal("52000")


def test_a_failed_refresh_keeps_the_price_until_max_age_then_the_error_reaches_the_order(
    clock: Clock,
) -> None:
    kraken = FakeTicker("50000")

    async def scenario() -> Decimal | None:
        book = prices(kraken, clock)
        await book.last_trade(PAIR)
        kraken.fail = True
        clock.now += 5
        kept = await book.last_trade(PAIR)
        await asyncio.sleep(0.01)
        assert await book.last_trade(PAIR) == kept
        clock.now += 5
        with pytest.raises(ServiceUnavailableError):
            await book.last_trade(PAIR)
        return kept

    assert asyncio.run(scenario()) == Decimal("50000")
