"""Quotes in Redis: the record, the idempotency index, the status stream and the watch list.

Keys (JSON or ids, no secrets):

- ``execution:quote:{<quote_id>}`` - hash: ``doc`` (the ``QuoteRecord`` JSON) and ``version``.
  Every change is a compare-and-set on ``version`` (one Lua script), so the RPC, the poller and
  the webhook receiver, in any replica, never overwrite each other's update.
- ``execution:quote-events:{<quote_id>}`` - stream of the record after each status change, written
  by the same script; WatchQuote reads it.
- ``execution:quote-client:<client_quote_id>`` - the quote id recorded for a RequestQuote
  idempotency key, or ``pending`` while the first request is with Kraken.
- ``execution:quotes:working`` - sorted set of quotes the poller follows: executed and not yet
  terminal, or terminal with an outcome risk has not acknowledged.
- ``execution:webhook-event:<id>`` - a webhook event already applied (kept a day).

Every Redis failure is a ``StateUnavailableError`` (``UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.execution.embed.model import QuoteRecord
from services.execution.kraken.errors import StateUnavailableError

WORKING_INDEX = "execution:quotes:working"
PENDING = "pending"
EVENTS_MAXLEN = 100
WEBHOOK_SEEN_SECONDS = 86400
_CAS_ATTEMPTS = 20

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

# KEYS: record, events. ARGV: expected version ("" when creating), doc, status changed (0/1).
_CAS = """
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '') ~= ARGV[1] then
  return 0
end
local version = tonumber(current or '0') + 1
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', version)
if ARGV[3] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'doc', ARGV[2])
end
return version
"""


def quote_key(quote_id: str) -> str:
    return f"execution:quote:{{{quote_id}}}"


def events_key(quote_id: str) -> str:
    return f"execution:quote-events:{{{quote_id}}}"


def client_key(client_quote_id: str) -> str:
    return f"execution:quote-client:{client_quote_id}"


class QuoteConflict(Exception):
    """The record kept changing under us; the caller may retry."""


class QuoteStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._cas = redis.register_script(_CAS)

    async def claim_client_id(self, client_quote_id: str, ttl: int) -> str | None:
        """Take the idempotency key; the value already there (a quote id or PENDING) if taken."""
        try:
            created = await self._redis.set(client_key(client_quote_id), PENDING, nx=True, ex=ttl)
            if created:
                return None
            value: Any = await self._redis.get(client_key(client_quote_id))
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
        if value is None:
            return await self.claim_client_id(client_quote_id, ttl)
        return str(value)

    async def release_client_id(self, client_quote_id: str) -> None:
        try:
            await self._redis.delete(client_key(client_quote_id))
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc

    async def create(self, record: QuoteRecord) -> None:
        """Write a new record and point its client id at it."""
        try:
            written = await self._cas(
                keys=[quote_key(record.quote_id), events_key(record.quote_id)],
                args=["", record.to_json(), "1", EVENTS_MAXLEN],
            )
            if not written:
                raise QuoteConflict(f"quote {record.quote_id} is already recorded")
            await self._redis.set(client_key(record.client_quote_id), record.quote_id)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc

    async def get(self, quote_id: str) -> QuoteRecord | None:
        record, _ = await self._read(quote_id)
        return record

    async def update(
        self, quote_id: str, change: Callable[[QuoteRecord], bool]
    ) -> QuoteRecord | None:
        """Apply ``change`` (True when it changed the status) with compare-and-set; the result.

        ``None`` when there is no such quote. ``change`` may be called several times, each time on
        a fresh copy, so it must only depend on the record it is given.
        """
        for _ in range(_CAS_ATTEMPTS):
            record, version = await self._read(quote_id)
            if record is None:
                return None
            before = record.to_json()
            status_changed = change(record)
            if record.to_json() == before:
                return record
            try:
                written = await self._cas(
                    keys=[quote_key(quote_id), events_key(quote_id)],
                    args=[version, record.to_json(), "1" if status_changed else "0", EVENTS_MAXLEN],
                )
            except _REDIS_FAILURES as exc:
                raise StateUnavailableError("quote store unavailable") from exc
            if written:
                await self._index(record)
                return record
        raise QuoteConflict(f"quote {quote_id} kept changing; try again")

    async def working(self, limit: int = 200) -> list[str]:
        try:
            ids: Any = await self._redis.zrange(WORKING_INDEX, 0, limit - 1)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
        return [str(i) for i in ids]

    async def events(
        self, quote_id: str, *, after: str = "0", block_ms: int | None = None
    ) -> AsyncIterator[tuple[str, QuoteRecord]]:
        """Status changes after stream id ``after``; ``block_ms`` waits for one (None: no wait)."""
        try:
            replies: Any = await self._redis.xread(
                {events_key(quote_id): after}, count=100, block=block_ms
            )
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
        for _stream, entries in replies or []:
            for event_id, fields in entries:
                yield str(event_id), QuoteRecord.from_json(fields["doc"])

    async def first_delivery(self, event_id: str) -> bool:
        """Whether webhook event ``event_id`` is seen here for the first time (and mark it)."""
        try:
            fresh = await self._redis.set(
                f"execution:webhook-event:{event_id}", "1", nx=True, ex=WEBHOOK_SEEN_SECONDS
            )
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
        return bool(fresh)

    async def forget_delivery(self, event_id: str) -> None:
        try:
            await self._redis.delete(f"execution:webhook-event:{event_id}")
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc

    async def _read(self, quote_id: str) -> tuple[QuoteRecord | None, str]:
        try:
            fields: Any = await self._redis.hgetall(quote_key(quote_id))
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
        if not fields:
            return None, ""
        return QuoteRecord.from_json(fields["doc"]), str(fields["version"])

    async def _index(self, record: QuoteRecord) -> None:
        follow = (record.execute_sent and not record.terminal) or (
            record.terminal and bool(record.reservation_id) and not record.reported_outcome
        )
        try:
            if follow:
                await self._redis.zadd(WORKING_INDEX, {record.quote_id: record.created_ms})
            else:
                await self._redis.zrem(WORKING_INDEX, record.quote_id)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("quote store unavailable") from exc
