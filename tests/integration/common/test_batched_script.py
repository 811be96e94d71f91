"""Lua calls batched into one pipeline still answer each caller with its own reply or error."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis.exceptions

from services.common.batched_script import BatchedScript
from services.common.redis_client import open_redis
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

# Echoes its key and argument; fails (a Lua error reply) when the argument is "fail".
ECHO = """
if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end
return {KEYS[1], ARGV[1]}
"""
# Another script: the calls of all a client's scripts share one batcher.
COUNT = """
return redis.call('INCR', KEYS[1])
"""


@pytest.fixture
def server() -> Iterator[RedisServer]:
    redis_server = RedisServer()
    redis_server.start()
    yield redis_server
    redis_server.close()


async def test_each_of_many_concurrent_calls_gets_its_own_reply(server: RedisServer) -> None:
    client = open_redis(server.url, timeout=2)
    script = BatchedScript(client, ECHO)
    try:
        replies = await asyncio.gather(*(script([f"k{i}"], [i]) for i in range(200)))
    finally:
        await client.aclose()
    assert replies == [[f"k{i}", str(i)] for i in range(200)]


async def test_an_error_reply_fails_only_its_own_call(server: RedisServer) -> None:
    client = open_redis(server.url, timeout=2)
    script = BatchedScript(client, ECHO)
    try:
        replies = await asyncio.gather(
            script(["a"], ["1"]),
            script(["b"], ["fail"]),
            script(["c"], ["3"]),
            return_exceptions=True,
        )
    finally:
        await client.aclose()
    assert replies[0] == ["a", "1"]
    assert isinstance(replies[1], redis.exceptions.ResponseError)
    assert "asked to fail" in str(replies[1])
    assert replies[2] == ["c", "3"]


async def test_a_script_flushed_from_redis_is_loaded_again(server: RedisServer) -> None:
    client = open_redis(server.url, timeout=2)
    script = BatchedScript(client, ECHO)
    try:
        assert await script(["a"], ["1"]) == ["a", "1"]
        await client.script_flush()
        # gather returns a list; typeshed types the fixed-arity overloads as tuples.
        replies = cast(list[Any], await asyncio.gather(script(["b"], ["2"]), script(["c"], ["3"])))
    finally:
        await client.aclose()
    assert replies == [["b", "2"], ["c", "3"]]


async def test_calls_to_different_scripts_made_at_once_share_one_connection(
    server: RedisServer,
) -> None:
    client = open_redis(server.url, timeout=2)
    observer = open_redis(server.url, timeout=2)
    echo, count = BatchedScript(client, ECHO), BatchedScript(client, COUNT)
    try:
        # Loaded beforehand: loading takes a connection of its own.
        await observer.script_load(ECHO)
        await observer.script_load(COUNT)
        calls = [echo([f"k{i}"], [i]) if i % 2 else count(["counter"]) for i in range(100)]
        replies = await asyncio.gather(*calls)
        clients = await observer.client_list()
    finally:
        await client.aclose()
        await observer.aclose()
    assert replies[1::2] == [[f"k{i}", str(i)] for i in range(1, 100, 2)]
    assert replies[0::2] == list(range(1, 51))  # in the order they were made
    # The observer, and one connection for all 100 calls of both scripts.
    assert len(clients) == 2


async def test_scripts_flushed_from_redis_are_each_loaded_again(server: RedisServer) -> None:
    client = open_redis(server.url, timeout=2)
    echo, count = BatchedScript(client, ECHO), BatchedScript(client, COUNT)
    try:
        first = cast(list[Any], await asyncio.gather(echo(["a"], ["1"]), count(["n"])))
        assert first == [["a", "1"], 1]
        await client.script_flush()
        replies = cast(
            list[Any], await asyncio.gather(count(["n"]), echo(["b"], ["2"]), count(["n"]))
        )
    finally:
        await client.aclose()
    assert replies == [2, ["b", "2"], 3]


async def test_calls_work_again_after_a_redis_restart(server: RedisServer) -> None:
    client = open_redis(server.url, timeout=2)
    script = BatchedScript(client, ECHO)
    try:
        assert await script(["a"], ["1"]) == ["a", "1"]
        server.stop()
        server.start()
        await asyncio.sleep(0.05)  # the pooled socket sees the old server's close
        reply = await script(["b"], ["2"])
    finally:
        await client.aclose()
    assert reply == ["b", "2"]


async def test_a_hung_redis_fails_every_waiting_call_within_the_timeout(
    server: RedisServer,
) -> None:
    timeout = 0.3
    client = open_redis(server.url, timeout=timeout)
    script = BatchedScript(client, ECHO)
    try:
        assert await script(["a"], ["1"]) == ["a", "1"]
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            first = asyncio.ensure_future(script(["b"], ["2"]))
            await asyncio.sleep(0.1)  # a second batch queues behind the one in flight
            second = asyncio.ensure_future(script(["c"], ["3"]))
            results = await asyncio.gather(first, second, return_exceptions=True)
            elapsed = time.monotonic() - started
        finally:
            os.kill(server.pid, signal.SIGCONT)
        reply = await script(["d"], ["4"])
    finally:
        await client.aclose()
    assert all(isinstance(r, redis.exceptions.TimeoutError) for r in results), results
    # The queued batch waits for the one in flight, then for its own reply: two timeouts at most.
    assert elapsed < 2 * timeout + 0.5
    assert reply == ["d", "4"]
