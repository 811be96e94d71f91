"""Nonce allocations per second from 8 processes, beside the raw Redis round trip.

Both columns use the same client (redis.asyncio), the same private redis-server and the same
process count, so their ratio says what the Lua script costs over a bare PING.
Run: ``make bench`` (or ``.venv/bin/python -m bench.nonce_bench``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from typing import Any

from redis.asyncio import Redis

from services.execution.kraken.nonce import NonceKeeper
from tests.support.redis_server import RedisServer

PROCESSES = 8
PER_PROCESS = 5_000
IN_FLIGHT = 4


async def _worker(url: str, kind: str, count: int) -> list[int]:
    redis = Redis.from_url(url)
    keeper = NonceKeeper(redis)
    nonces: list[int] = []

    async def lane(n: int) -> None:
        for _ in range(n):
            if kind == "nonce":
                nonces.append(await keeper.next_nonce("bench"))
            else:
                await redis.ping()

    await asyncio.gather(*(lane(count // IN_FLIGHT) for _ in range(IN_FLIGHT)))
    await redis.aclose()
    return nonces


def _run(args: tuple[str, str, int, Any]) -> list[int]:
    url, kind, count, barrier = args
    barrier.wait()
    return asyncio.run(_worker(url, kind, count))


def measure(url: str, kind: str) -> tuple[float, list[list[int]]]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(PROCESSES + 1)
        with context.Pool(PROCESSES) as pool:
            pending = pool.map_async(_run, [(url, kind, PER_PROCESS, barrier)] * PROCESSES)
            barrier.wait()
            started = time.perf_counter()
            results = pending.get()
            elapsed = time.perf_counter() - started
    return PROCESSES * PER_PROCESS / elapsed, results


def main() -> None:
    server = RedisServer()
    server.start()
    try:
        ping_rate, _ = measure(server.url, "ping")
        nonce_rate, results = measure(server.url, "nonce")
    finally:
        server.close()
    everything = [n for result in results for n in result]
    unique = len(set(everything)) == len(everything) == PROCESSES * PER_PROCESS
    print(f"nonces: {PROCESSES} processes x {PER_PROCESS}, {IN_FLIGHT} in flight each")
    print(f"  raw PING round trips   {ping_rate:>10,.0f} /s")
    print(
        f"  NonceKeeper.next_nonce {nonce_rate:>10,.0f} /s  ({nonce_rate / ping_rate:.0%} of PING)"
    )
    print(f"  all unique: {unique}")


if __name__ == "__main__":
    main()
