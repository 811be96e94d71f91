"""A paper exchange per module, MarketData instances on the session's redis-server, and waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from services.signal.market import MarketData, MarketSettings
from services.signal.market.model import BookView
from tests.support.paper_exchange import PaperExchange

PAIRS = ("BTC/USD", "ETH/USD")


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    """An exchange whose price moves only when a test sets it."""
    with PaperExchange(tick_interval=3600) as exchange:
        yield exchange


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "paper" in request.fixturenames:
        request.getfixturevalue("paper").clear_faults()


def market_settings(paper: PaperExchange, **overrides: Any) -> MarketSettings:
    """Short timeouts so failures and failovers happen within a test."""
    values: dict[str, Any] = {
        "ws_url": paper.ws_url,
        "rest_url": paper.url,
        "pairs": PAIRS,
        "backfill_count": 30,
        "rest_min_interval": 0.0,
        "stale_seconds": 2.5,  # the paper exchange's heartbeats come about once a second
        "backoff_base": 0.05,
        "backoff_cap": 0.5,
        "lease_ttl": 1.0,
    }
    return MarketSettings(**(values | overrides))


@pytest.fixture
async def start_market(
    redis_url: str,
) -> AsyncIterator[Callable[..., Awaitable[MarketData]]]:
    """Start MarketData instances; whatever a test did not stop is stopped after it."""
    running: list[MarketData] = []

    async def start(settings: MarketSettings, owner_id: str) -> MarketData:
        market = MarketData(settings, redis_url, owner_id=owner_id)
        await market.start()
        running.append(market)
        return market

    yield start
    for market in running:
        await market.stop()


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 10.0, what: str = "condition"
) -> float:
    """Poll ``check`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} not met within {within} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def exchange_book(paper: PaperExchange, pair: str) -> tuple[list[Any], list[Any]]:
    """The exchange's top ten bids and asks, from REST ``Depth``."""
    (levels,) = paper.public("Depth", pair=pair, count=10)["result"].values()
    bids = [(Decimal(price), Decimal(qty)) for price, qty, _ in levels["bids"]]
    asks = [(Decimal(price), Decimal(qty)) for price, qty, _ in levels["asks"]]
    return bids, asks


def same_book(view: BookView | None, book: tuple[list[Any], list[Any]]) -> bool:
    return view is not None and (list(view.bids), list(view.asks)) == book
