"""Two MarketData replicas on one Redis: each pair fed by exactly one, the pairs shared out
evenly, failover within the lease TTL when the owner dies or stops, and ticks served by the
replica that does not own the feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import cast

import pytest
import redis

from services.signal.market import MarketData, TickerUpdate
from services.signal.market.keys import lease
from tests.integration.signal.market.conftest import PAIRS, eventually, market_settings
from tests.support.paper_exchange import PaperExchange
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

StartMarket = Callable[..., Awaitable[MarketData]]
LEASE_TTL = 1.0


@pytest.fixture(scope="module")
def moving_paper() -> Iterator[PaperExchange]:
    """An exchange whose price path steps ten times a second, so tickers keep coming."""
    with PaperExchange(tick_interval=0.1) as exchange:
        yield exchange


def lease_owners(redis_url: str) -> dict[str, str | None]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return {pair: client.get(lease(pair)) for pair in PAIRS}  # type: ignore[misc]
    finally:
        client.close()


async def _replicas(
    paper: PaperExchange, start_market: StartMarket
) -> tuple[MarketData, MarketData]:
    settings = market_settings(paper, lease_ttl=LEASE_TTL)
    first = await start_market(settings, "replica-a")
    second = await start_market(settings, "replica-b")
    return first, second


async def test_each_pair_is_fed_by_exactly_one_replica(
    moving_paper: PaperExchange, start_market: StartMarket, redis_url: str
) -> None:
    first, second = await _replicas(moving_paper, start_market)
    await asyncio.sleep(3 * LEASE_TTL)  # several lease rounds

    assert first.owned_pairs() | second.owned_pairs() == frozenset(PAIRS)
    assert not first.owned_pairs() & second.owned_pairs()
    owners = lease_owners(redis_url)
    assert {pair: owners[pair] for pair in first.owned_pairs()} == dict.fromkeys(
        first.owned_pairs(), "replica-a"
    )
    assert moving_paper.stats()["websocket"]["subscriptions"]["book"] == len(PAIRS)


async def test_the_pairs_are_shared_out_evenly(
    moving_paper: PaperExchange, start_market: StartMarket, redis_url: str
) -> None:
    # The first replica starts alone and takes every pair; the second makes it hand half over.
    first, second = await _replicas(moving_paper, start_market)
    half = len(PAIRS) // 2

    async def second_holds_half() -> bool:
        return len(second.owned_pairs()) == half

    await eventually(second_holds_half, within=4 * LEASE_TTL, what="the second replica's share")

    assert len(first.owned_pairs()) == half
    assert first.owned_pairs() | second.owned_pairs() == frozenset(PAIRS)
    owners = lease_owners(redis_url)
    held = [owners[pair] for pair in PAIRS]
    assert None not in held
    assert sorted(cast("list[str]", held)) == ["replica-a"] * half + ["replica-b"] * half


async def test_the_replica_that_does_not_feed_serves_ticks(
    moving_paper: PaperExchange, start_market: StartMarket
) -> None:
    first, second = await _replicas(moving_paper, start_market)
    assert first.owned_pairs() == frozenset(PAIRS)
    assert second.owned_pairs() == frozenset()

    async def first_ticks() -> list[TickerUpdate]:
        updates = []
        async for update in second.ticker_updates(["BTC/USD"]):
            updates.append(update)
            if len(updates) == 3:
                return updates
        return updates

    async def has_ticker() -> bool:
        return await second.latest_ticker("BTC/USD") is not None

    await eventually(has_ticker, what="a ticker readable by the second replica")
    updates = await asyncio.wait_for(first_ticks(), 10)

    assert [update.snapshot for update in updates] == [True, False, False]
    assert all(update.ticker.pair == "BTC/USD" for update in updates)
    received = [update.ticker.received_ns for update in updates]
    assert received == sorted(received)
    assert received[0] < received[-1]


@pytest.mark.parametrize("release", [False, True], ids=["owner-dies", "owner-stops"])
async def test_another_replica_takes_over_within_the_lease_ttl(
    moving_paper: PaperExchange, start_market: StartMarket, redis_url: str, release: bool
) -> None:
    first, second = await _replicas(moving_paper, start_market)
    assert first.owned_pairs() == frozenset(PAIRS)

    await first.stop(release=release)
    stopped_ns = time.time_ns()

    async def taken_over() -> bool:
        return second.owned_pairs() == frozenset(PAIRS)

    took = await eventually(taken_over, within=5 * LEASE_TTL, what="the takeover")

    async def fresh_ticks() -> bool:
        latest = await second.latest_ticker("ETH/USD")
        return latest is not None and latest.received_ns > stopped_ns

    await eventually(fresh_ticks, what="ticks from the new owner")
    # The lease ttl, plus one renewal round of the survivor.
    assert took <= LEASE_TTL + LEASE_TTL / 3 + 0.5
    if release:
        assert took <= LEASE_TTL / 3 + 0.5
    assert lease_owners(redis_url) == dict.fromkeys(PAIRS, "replica-b")


async def a_failing_replica_then_a_healthy_one(
    paper: PaperExchange, start_market: StartMarket, failing: dict[str, str]
) -> tuple[MarketData, MarketData, int]:
    """A replica with the ``failing`` settings alone for two TTLs (it keeps every pair: nobody
    could feed them better), then a healthy one; both, and when the second started (ns), once
    the second feeds every pair."""
    first = await start_market(market_settings(paper, lease_ttl=LEASE_TTL, **failing), "replica-a")
    await asyncio.sleep(2 * LEASE_TTL)
    assert first.owned_pairs() == frozenset(PAIRS)
    second = await start_market(market_settings(paper, lease_ttl=LEASE_TTL), "replica-b")
    started_ns = time.time_ns()

    async def second_feeds_all() -> bool:
        return second.owned_pairs() == frozenset(PAIRS)

    await eventually(second_feeds_all, within=4 * LEASE_TTL, what="the hand-over")
    return first, second, started_ns


async def assert_the_second_alone_feeds(
    first: MarketData, second: MarketData, redis_url: str, started_ns: int, *, within: float
) -> None:
    """The first replica holds no pair, the second holds every lease, and each pair has a
    ticker the second received after it started (within ``within`` s; 0: already)."""
    assert first.owned_pairs() == frozenset()
    assert lease_owners(redis_url) == dict.fromkeys(PAIRS, "replica-b")
    for pair in PAIRS:

        async def fresh(pair: str = pair) -> bool:
            latest = await second.latest_ticker(pair)
            return latest is not None and latest.received_ns > started_ns

        await eventually(fresh, within=within, what=f"a fresh {pair} ticker")


async def test_a_replica_whose_websocket_is_down_hands_its_pairs_over(
    moving_paper: PaperExchange, start_market: StartMarket, redis_url: str
) -> None:
    # The first replica's WebSocket address has nothing listening; its REST works.
    unreachable = f"ws://127.0.0.1:{free_port()}/v2"
    first, second, started_ns = await a_failing_replica_then_a_healthy_one(
        moving_paper, start_market, {"ws_url": unreachable}
    )
    await asyncio.sleep(LEASE_TTL)  # the first stays aside for three TTLs

    await assert_the_second_alone_feeds(first, second, redis_url, started_ns, within=0.0)

    # Alone again, the first replica comes back before its time aside is over.
    await second.stop()

    async def first_holds_all() -> bool:
        return first.owned_pairs() == frozenset(PAIRS)

    await eventually(first_holds_all, within=LEASE_TTL, what="the return of the first replica")


async def test_a_replica_whose_rest_calls_fail_hands_its_pairs_over(
    moving_paper: PaperExchange, start_market: StartMarket, redis_url: str
) -> None:
    # The first replica's WebSocket works but its REST address has nothing listening: it wins
    # the pairs and cannot subscribe them, since a pair's book needs its precision from
    # AssetPairs first. Its WebSocket is up, so only the pairs waiting for REST tell.
    unreachable = f"http://127.0.0.1:{free_port()}"
    first, second, started_ns = await a_failing_replica_then_a_healthy_one(
        moving_paper, start_market, {"rest_url": unreachable}
    )

    await assert_the_second_alone_feeds(first, second, redis_url, started_ns, within=4 * LEASE_TTL)
