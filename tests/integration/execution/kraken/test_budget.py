"""The leaky buckets against a real redis-server: never over the max, decay, retry_after, full."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from redis.asyncio import Redis

from services.execution.kraken.budget import (
    BucketLimits,
    LeakyBucket,
    RestBudget,
    TradingBudget,
    rest_key,
    safety_headroom,
    trading_key,
)
from services.execution.kraken.config import KrakenTier
from services.execution.kraken.errors import (
    BudgetExhaustedError,
    RetryClass,
    StateUnavailableError,
)
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

KEY_ID = "ab12cd34"
PAIR = "XXBTZUSD"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_concurrent_takers_across_connections_never_exceed_the_max(redis_url: str) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(5)]
    budgets = [RestBudget(c, KrakenTier.STARTER, max_wait=0, headroom=0) for c in clients]

    async def attempt(budget: RestBudget) -> bool:
        try:
            await budget.take(KEY_ID)
        except BudgetExhaustedError:
            return False
        return True

    try:
        results = await asyncio.gather(*(attempt(budgets[i % 5]) for i in range(60)))
        level = await budgets[0].level(KEY_ID)
    finally:
        for client in clients:
            await client.aclose()

    # Starter: max 15, decay 0.33/s; one more unit would need 3 s of decay.
    assert sum(results) == 15
    assert 14.9 < level <= 15


@pytest.mark.parametrize(
    ("tier", "usable"),
    [(KrakenTier.STARTER, 14), (KrakenTier.INTERMEDIATE, 19), (KrakenTier.PRO, 19)],
)
async def test_rest_budget_keeps_a_headroom_below_krakens_maximum(
    redis: Redis, tier: KrakenTier, usable: int
) -> None:
    budget = RestBudget(redis, tier, max_wait=0)

    for _ in range(usable):
        await budget.take(KEY_ID)
    with pytest.raises(BudgetExhaustedError):
        await budget.take(KEY_ID)


@pytest.mark.parametrize(
    ("tier", "headroom"),
    [(KrakenTier.STARTER, 1.0), (KrakenTier.INTERMEDIATE, 2.34), (KrakenTier.PRO, 3.75)],
)
async def test_trading_headroom_is_a_second_of_decay_at_least_one_unit(
    redis: Redis, tier: KrakenTier, headroom: float
) -> None:
    budget = TradingBudget(redis, tier, account_id=KEY_ID, max_wait=0)
    capacity = budget.bucket.limits.capacity

    await budget.take(PAIR, capacity - headroom)
    with pytest.raises(BudgetExhaustedError):
        await budget.take(PAIR, 0.5)

    assert safety_headroom(budget.bucket.limits) == headroom


async def test_history_calls_cost_two(redis: Redis) -> None:
    budget = RestBudget(redis, KrakenTier.STARTER, max_wait=0, headroom=0)

    for _ in range(7):
        await budget.take(KEY_ID, 2)

    with pytest.raises(BudgetExhaustedError):
        await budget.take(KEY_ID, 2)
    await budget.take(KEY_ID, 1)


async def test_decay_frees_room_over_time(redis: Redis) -> None:
    budget = TradingBudget(redis, KrakenTier.PRO, account_id=KEY_ID, max_wait=0, headroom=0)
    await budget.take(PAIR, 180)

    with pytest.raises(BudgetExhaustedError):
        await budget.take(PAIR, 1)
    await asyncio.sleep(0.3)  # Pro decays 3.75/s: 1.125 units
    await budget.take(PAIR, 1)

    assert 179 < await budget.level(PAIR) <= 180


async def test_retry_after_is_the_time_until_the_cost_fits(redis: Redis) -> None:
    budget = TradingBudget(redis, KrakenTier.PRO, account_id=KEY_ID, max_wait=0, headroom=0)
    await budget.take(PAIR, 180)

    with pytest.raises(BudgetExhaustedError) as caught:
        await budget.take(PAIR, 3.75)

    error = caught.value
    assert error.retry_after is not None
    assert 0.9 < error.retry_after <= 1.0
    assert error.grpc_status is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.retry_class is RetryClass.SAFE_TO_RETRY
    assert error.bucket == "trading"


async def test_a_bounded_wait_succeeds_when_room_comes_in_time(redis: Redis) -> None:
    budget = TradingBudget(redis, KrakenTier.PRO, account_id=KEY_ID, max_wait=1.0, headroom=0)
    await budget.take(PAIR, 180)
    began = time.monotonic()

    await budget.take(PAIR, 1)

    assert 0.2 < time.monotonic() - began < 0.6


async def test_mark_full_blocks_until_decay(redis: Redis) -> None:
    budget = RestBudget(redis, KrakenTier.PRO, max_wait=0, headroom=0)
    await budget.take(KEY_ID)

    await budget.mark_full(KEY_ID)

    with pytest.raises(BudgetExhaustedError) as caught:
        await budget.take(KEY_ID)
    assert caught.value.retry_after == pytest.approx(1.0, abs=0.05)


async def test_buckets_are_separate_per_pair_and_per_key(redis: Redis) -> None:
    trading = TradingBudget(redis, KrakenTier.STARTER, account_id=KEY_ID, max_wait=0, headroom=0)
    rest = RestBudget(redis, KrakenTier.STARTER, max_wait=0, headroom=0)
    await trading.take(PAIR, 60)
    await rest.take(KEY_ID, 15)

    await trading.take("XETHZUSD", 60)
    await rest.take("other-key", 15)

    assert await redis.exists(trading_key(KEY_ID, PAIR), rest_key(KEY_ID)) == 2


async def test_no_drift_after_many_fractional_decays(redis: Redis) -> None:
    bucket = LeakyBucket(redis, name="test", limits=BucketLimits(15, 0.33), max_wait=0)
    await bucket.take("k", 15)
    began = time.monotonic()

    for _ in range(200):
        await bucket.level("k")
    level = await bucket.level("k")

    elapsed = time.monotonic() - began
    # 200 partial decays must add up to one decay over the whole elapsed time.
    assert 15 - 0.33 * (elapsed + 0.05) <= level <= 15 - 0.33 * (elapsed - 0.05)


async def test_a_cost_above_capacity_is_a_programming_error(redis: Redis) -> None:
    budget = RestBudget(redis, KrakenTier.STARTER)

    with pytest.raises(ValueError, match="exceeds"):
        await budget.take(KEY_ID, 16)


async def test_redis_down_is_a_typed_unavailable_error() -> None:
    server = RedisServer()
    server.start()
    client = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=1)
    budget = RestBudget(client, KrakenTier.STARTER)
    await budget.take(KEY_ID)
    server.stop()
    try:
        with pytest.raises(StateUnavailableError) as caught:
            await budget.take(KEY_ID)
        assert caught.value.grpc_status is grpc.StatusCode.UNAVAILABLE
    finally:
        await client.aclose()
        server.close()
