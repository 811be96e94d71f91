"""NonceKeeper against a real redis-server: unique, increasing across processes; strict leases."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from services.execution.kraken.config import NonceMode
from services.execution.kraken.errors import NonceLeaseTimeoutError, StateUnavailableError
from services.execution.kraken.nonce import NonceKeeper, lease_key, nonce_key
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PROCESSES = 8
NONCES_PER_PROCESS = 5_000
KEY_ID = "ab12cd34"


async def _take_nonces(redis_url: str, count: int) -> list[int]:
    redis = Redis.from_url(redis_url)
    keeper = NonceKeeper(redis)
    try:
        return [await keeper.next_nonce(KEY_ID) for _ in range(count)]
    finally:
        await redis.aclose()


def _nonce_worker(
    redis_url: str, count: int, start: multiprocessing.synchronize.Event
) -> list[int]:
    start.wait()
    return asyncio.run(_take_nonces(redis_url, count))


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_eight_processes_get_unique_strictly_increasing_nonces(redis_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(PROCESSES) as pool:
            pending = [
                pool.apply_async(_nonce_worker, (redis_url, NONCES_PER_PROCESS, start))
                for _ in range(PROCESSES)
            ]
            time.sleep(0.5)  # let the spawned interpreters import before the clock starts
            began = time.perf_counter()
            start.set()
            results = [p.get(timeout=60) for p in pending]
            elapsed = time.perf_counter() - began

    everything = [n for result in results for n in result]
    print(  # the measured figure; shown with -s
        f"\n{len(everything)} nonces from {PROCESSES} processes in {elapsed:.2f}s "
        f"= {len(everything) / elapsed:,.0f}/s"
    )
    assert len(everything) == PROCESSES * NONCES_PER_PROCESS
    assert len(set(everything)) == len(everything)
    for result in results:
        assert all(a < b for a, b in itertools.pairwise(result))
    # Nanoseconds since the epoch: 19 digits until 2286.
    assert all(len(str(n)) == 19 for n in everything)


async def test_nonce_is_redis_time_in_nanoseconds(redis: Redis) -> None:
    keeper = NonceKeeper(redis)
    seconds, micros = await redis.time()

    nonce = await keeper.next_nonce(KEY_ID)

    assert abs(nonce - (seconds * 10**9 + micros * 1000)) < 5 * 10**9


async def test_counter_ahead_of_the_clock_advances_by_one(redis: Redis) -> None:
    keeper = NonceKeeper(redis)
    ahead = 9_000_000_000_000_000_000  # beyond any clock reading, still within u64
    await redis.set(nonce_key(KEY_ID), str(ahead))

    first = await keeper.next_nonce(KEY_ID)
    second = await keeper.next_nonce(KEY_ID)

    assert (first, second) == (ahead + 1, ahead + 2)


async def test_keys_have_separate_counters(redis: Redis) -> None:
    keeper = NonceKeeper(redis)
    await redis.set(nonce_key("key-a"), "9000000000000000000")

    nonce_b = await keeper.next_nonce("key-b")

    assert nonce_b < 9_000_000_000_000_000_000


async def test_strict_holders_never_overlap_and_go_out_in_nonce_order(redis_url: str) -> None:
    # Separate connections stand in for separate replicas.
    clients = [Redis.from_url(redis_url) for _ in range(4)]
    keepers = [NonceKeeper(c, default_mode=NonceMode.STRICT, lease_wait=10) for c in clients]
    inside = 0
    max_inside = 0
    sent: list[int] = []

    async def one_request(keeper: NonceKeeper) -> None:
        nonlocal inside, max_inside
        async with keeper.reserve(KEY_ID) as nonce:
            inside += 1
            max_inside = max(max_inside, inside)
            await asyncio.sleep(0.002)
            sent.append(nonce)
            inside -= 1

    try:
        await asyncio.gather(*(one_request(keepers[i % 4]) for i in range(40)))
    finally:
        for client in clients:
            await client.aclose()

    assert max_inside == 1
    assert sent == sorted(sent)
    assert len(set(sent)) == 40


async def test_strict_lease_is_released_after_the_block(redis: Redis) -> None:
    keeper = NonceKeeper(redis, default_mode=NonceMode.STRICT)

    async with keeper.reserve(KEY_ID) as nonce:
        assert await redis.get(lease_key(KEY_ID)) == str(nonce).encode()

    assert await redis.exists(lease_key(KEY_ID)) == 0


async def test_strict_lease_is_released_when_the_block_raises(redis: Redis) -> None:
    keeper = NonceKeeper(redis, default_mode=NonceMode.STRICT)

    with pytest.raises(RuntimeError):
        async with keeper.reserve(KEY_ID):
            raise RuntimeError("request failed")

    assert await redis.exists(lease_key(KEY_ID)) == 0


async def test_expired_lease_of_a_dead_holder_is_taken_over(redis: Redis) -> None:
    dead = NonceKeeper(redis, default_mode=NonceMode.STRICT, lease_ttl=0.3)
    alive = NonceKeeper(redis, default_mode=NonceMode.STRICT, lease_ttl=5, lease_wait=2)
    holder = dead.reserve(KEY_ID)
    dead_nonce = await holder.__aenter__()  # the holder dies here and never leaves the block
    began = time.monotonic()

    async with alive.reserve(KEY_ID) as nonce:
        waited = time.monotonic() - began
        assert nonce > dead_nonce
        # The dead holder's late release must not free the new holder's lease.
        await holder.__aexit__(None, None, None)
        assert await redis.get(lease_key(KEY_ID)) == str(nonce).encode()

    assert 0.1 < waited < 1.5


async def test_waiting_for_a_busy_lease_is_bounded(redis: Redis) -> None:
    holder = NonceKeeper(redis, default_mode=NonceMode.STRICT, lease_ttl=10)
    waiter = NonceKeeper(redis, default_mode=NonceMode.STRICT, lease_wait=0.2)

    async with holder.reserve(KEY_ID):
        began = time.monotonic()
        with pytest.raises(NonceLeaseTimeoutError) as caught:
            async with waiter.reserve(KEY_ID):
                pytest.fail("the lease was granted twice")
        waited = time.monotonic() - began

    assert 0.15 < waited < 1.0
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 10


async def test_window_mode_takes_no_lease(redis: Redis) -> None:
    keeper = NonceKeeper(redis, modes={KEY_ID: NonceMode.WINDOW}, default_mode=NonceMode.STRICT)

    async with keeper.reserve(KEY_ID) as first, keeper.reserve(KEY_ID) as second:
        assert second > first

    assert await redis.exists(lease_key(KEY_ID)) == 0


async def test_redis_down_is_a_typed_unavailable_error() -> None:
    server = RedisServer()
    server.start()
    client = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=1)
    keeper = NonceKeeper(client, default_mode=NonceMode.STRICT)
    await keeper.next_nonce(KEY_ID)
    server.stop()
    try:
        with pytest.raises(StateUnavailableError):
            await keeper.next_nonce(KEY_ID)
        with pytest.raises(StateUnavailableError):
            async with keeper.reserve(KEY_ID):
                pytest.fail("a nonce was handed out without Redis")
    finally:
        await client.aclose()
        server.close()


async def test_window_reserve_uses_a_nonce_taken_ahead(redis: Redis) -> None:
    keeper = NonceKeeper(redis, default_mode=NonceMode.WINDOW)
    ahead = await keeper.next_nonce(KEY_ID)

    async with keeper.reserve(KEY_ID, ahead=ahead) as nonce:
        assert nonce == ahead


async def test_strict_reserve_refuses_a_nonce_taken_ahead(redis: Redis) -> None:
    keeper = NonceKeeper(redis, default_mode=NonceMode.STRICT)

    with pytest.raises(ValueError, match="strict"):
        async with keeper.reserve(KEY_ID, ahead=123):
            pass

    assert await redis.exists(lease_key(KEY_ID)) == 0
