"""Lua scripts run by EVALSHA, the calls made while one batch is at Redis sent as the next one.

Each call paying for its own pooled connection, packing in Python, write and timeout task was
the largest share of a risk check's Python time, and a large one of an order's. All the scripts
of one Redis client share one :class:`ScriptBatcher`, which has at most one batch in flight: the
calls made meanwhile, to any of the scripts, go out together when it is answered, in one write,
their replies read in order. An order's save, trading budget and nonce, asked for at once, thus
cost one round trip, not three. Each call is still its own EVALSHA, atomic on its own; only the
round trip is shared. A read that times out or is cancelled drops the connection (redis-py's
``disconnect_on_error``), so replies never get out of step with their callers. Reads keep the
client's socket timeout, so a hung Redis fails every waiting call with a TimeoutError
(UNAVAILABLE) after at most two timeouts: the batch in flight, then its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from hiredis import pack_command
from redis.asyncio.connection import Connection
from redis.exceptions import NoScriptError, ResponseError

Command = tuple[str | int, ...]
Call = tuple["BatchedScript", Command, "asyncio.Future[Any]"]

_BATCHERS: weakref.WeakKeyDictionary[aioredis.Redis, ScriptBatcher] = weakref.WeakKeyDictionary()


def _fail(batch: list[Call], error: Exception) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)


class BatchedScript:
    """One Lua script; ``await script(keys, args)`` is its reply, or raises the call's error."""

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self.source = script
        self.sha = hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
        self._batcher = batcher_for(client)

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int] = ()) -> Any:
        return await self._batcher.submit(self, (len(keys), *keys, *args))


def batcher_for(client: aioredis.Redis) -> ScriptBatcher:
    """The one batcher of ``client``'s scripts."""
    batcher = _BATCHERS.get(client)
    if batcher is None:
        batcher = _BATCHERS[client] = ScriptBatcher(client)
    return batcher


class ScriptBatcher:
    """Sends the calls of a client's scripts, one batch at a time."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._pending: list[Call] = []
        # Sends one batch at a time: the calls made meanwhile make up the next one.
        self._sender: asyncio.Task[None] | None = None

    def submit(self, script: BatchedScript, command: Command) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((script, command, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_pending())
        return future

    async def _send_pending(self) -> None:
        # One connection for the whole burst: the pool checked it when it handed it out.
        pool = self._client.connection_pool
        try:
            # Calls being made by tasks already scheduled (the parts of one asyncio.gather) join
            # this batch: they run before this task is resumed.
            await asyncio.sleep(0)
            try:
                connection = await pool.get_connection()  # type: ignore[no-untyped-call]
            except Exception as exc:
                batch, self._pending = self._pending, []
                _fail(batch, exc)
                return
            try:
                while self._pending:
                    batch, self._pending = self._pending, []
                    await self._send(connection, batch)
            finally:
                await pool.release(connection)
        except asyncio.CancelledError:
            for _, _, future in self._pending:
                future.cancel()
            self._pending = []
            raise
        finally:
            self._sender = None

    async def _send(self, connection: Connection, batch: list[Call]) -> None:
        try:
            replies = await self._evalsha(connection, batch)
        except asyncio.CancelledError:
            for _, _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            _fail(batch, exc)
            return
        for (_, _, future), reply in zip(batch, replies, strict=True):
            if future.done():  # the caller went away (its RPC was cancelled)
                continue
            if isinstance(reply, Exception):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    async def _evalsha(self, connection: Connection, batch: list[Call]) -> list[Any]:
        replies = await self._pipeline(connection, batch)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        if missing:
            # Redis restarted (or was flushed) since the scripts were last loaded.
            for script in {batch[i][0] for i in missing}:
                await self._client.script_load(script.source)
            again = await self._pipeline(connection, [batch[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    @staticmethod
    async def _pipeline(connection: Connection, batch: list[Call]) -> list[Any]:
        """Send the calls in one write and read their replies, an error reply as the exception.

        This is redis-py's pipeline without its per-command packing in Python and its retry and
        bookkeeping layers (hiredis packs).
        """
        await connection.send_packed_command(
            b"".join(_pack(script.sha, command) for script, command, _ in batch)
        )
        replies: list[Any] = []
        for _ in batch:
            try:
                replies.append(await connection.read_response())
            except ResponseError as exc:  # the connection is still in step: read on
                replies.append(exc)
        return replies


def _pack(sha: str, command: Command) -> bytes:
    # hiredis's stub types the argument as a 1-tuple; it takes a tuple of any length.
    packed: bytes = pack_command(("EVALSHA", sha, *command))  # type: ignore[arg-type]
    return packed
