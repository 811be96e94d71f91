"""Connections pooled before a Redis restart are renewed, not failed, after it."""

from __future__ import annotations

import asyncio

import pytest

from services.common.redis_client import open_redis
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


def test_every_pooled_connection_works_again_after_a_restart() -> None:
    async def scenario() -> list[object]:
        server = RedisServer()
        server.start()
        client = open_redis(server.url, timeout=2)
        try:
            # Four commands in flight at once leave four connections in the pool.
            await asyncio.gather(*(client.incr(f"k{i}") for i in range(4)))
            server.stop()
            server.start()
            await asyncio.sleep(0.05)  # the pooled sockets see the old server's close
            return await asyncio.gather(
                *(client.incr(f"k{i}") for i in range(4)), return_exceptions=True
            )
        finally:
            await client.aclose()
            server.close()

    # The data went with the old server (no persistence here): each key counts from 1 again.
    assert asyncio.run(scenario()) == [1, 1, 1, 1]
