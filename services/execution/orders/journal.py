"""The append-only journal of order events: the Redis stream ``execution:journal``.

Each entry carries the event type, the order as it is after the event (JSON), the request id
and the caller of the call that caused it. An event that comes with a change of the order is
appended by ``OrderStore.save`` in the same script as the change, so the record and the journal
never disagree; ``append`` is for entries on their own. Entries are capped to roughly the newest
``MAX_ENTRIES`` (well over 24 h of this platform's traffic). WatchOrders reads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.context import caller_var, current_request_id
from services.execution.kraken.errors import StateUnavailableError
from services.execution.orders.model import OrderRecord
from trading.execution.v1 import execution_pb2

logger = logging.getLogger(__name__)

JOURNAL_STREAM = "execution:journal"
MAX_ENTRIES = 1_000_000

EventType = int

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

# Journal-only entries, never streamed to WatchOrders: the claim was released because nothing
# was sent; the kill switch sent a cancel for the order (its CANCELED event follows).
RELEASED = "RELEASED"
KILL_SWITCH_CANCEL = "KILL_SWITCH_CANCEL"
JOURNAL_ONLY = frozenset({RELEASED, KILL_SWITCH_CANCEL})


@dataclass(frozen=True)
class JournalEntry:
    event_id: str
    kind: str
    order: OrderRecord
    request_id: str
    caller: str
    at_ms: int


def kind_of(event: EventType | str) -> str:
    """The entry's ``type``: the OrderEventType name, or a journal-only kind."""
    if isinstance(event, str):
        return event
    return execution_pb2.OrderEventType.Name(event)  # type: ignore[arg-type]


def entry_fields(event: EventType | str, record: OrderRecord, order_json: str) -> dict[str, str]:
    """The fields of one journal entry; ``order_json`` is the record as stored with it."""
    return {
        "type": kind_of(event),
        "client_order_id": record.client_order_id,
        "team": record.team,
        "pair": record.pair,
        "order": order_json,
        "request_id": current_request_id() or "",
        "caller": caller_var.get() or "execution",
    }


def log_event(event: EventType | str, record: OrderRecord, event_id: str) -> None:
    logger.info(
        "order event",
        extra={
            "event": kind_of(event),
            "client_order_id": record.client_order_id,
            "status": record.status,
            "event_id": event_id,
        },
    )


class OrderJournal:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def append(self, event: EventType | str, record: OrderRecord) -> str:
        """Append one entry on its own; the stream id. Redis failure is StateUnavailableError."""
        fields = entry_fields(event, record, record.to_json())
        try:
            event_id = await self._redis.xadd(
                JOURNAL_STREAM,
                fields,  # type: ignore[arg-type]
                maxlen=MAX_ENTRIES,
                approximate=True,
            )
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order journal unavailable") from exc
        log_event(event, record, str(event_id))
        return str(event_id)

    async def oldest_id(self) -> str | None:
        try:
            first = await self._redis.xrange(JOURNAL_STREAM, count=1)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order journal unavailable") from exc
        return str(first[0][0]) if first else None

    async def follow(self, after: str, block_ms: int = 500) -> AsyncIterator[JournalEntry]:
        """Every order event after ``after`` ("$" for new ones only), then live ones, forever.

        Journal-only entries (``JOURNAL_ONLY``) are skipped.
        """
        last = after
        if last == "$":
            try:
                newest = await self._redis.xrevrange(JOURNAL_STREAM, count=1)
            except _REDIS_FAILURES as exc:
                raise StateUnavailableError("order journal unavailable") from exc
            last = str(newest[0][0]) if newest else "0"
        while True:
            try:
                batches: Any = await self._redis.xread(
                    {JOURNAL_STREAM: last}, count=200, block=block_ms
                )
            except _REDIS_FAILURES as exc:
                raise StateUnavailableError("order journal unavailable") from exc
            for _stream, entries in batches or []:
                for event_id, fields in entries:
                    last = str(event_id)
                    if fields["type"] in JOURNAL_ONLY:
                        continue
                    yield JournalEntry(
                        event_id=last,
                        kind=str(fields["type"]),
                        order=OrderRecord.from_json(fields["order"]),
                        request_id=str(fields.get("request_id", "")),
                        caller=str(fields.get("caller", "")),
                        at_ms=int(last.split("-", 1)[0]),
                    )
