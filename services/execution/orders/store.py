"""Orders in Redis: the idempotency record, the txid index and the order indexes.

Keys (all JSON or ids, no secrets):

- ``execution:order:{<client_order_id>}`` - the ``OrderRecord`` as JSON. Written with SET NX
  before anything is sent: whoever sets it owns the id.
- ``execution:order-txid:<txid>`` - the client_order_id of a Kraken txid.
- ``execution:orders`` - sorted set of every client_order_id by creation time (ms), for listing.
- ``execution:orders:attention`` - sorted set of the orders reconciliation must look at: working
  (PENDING, OPEN, UNKNOWN) or terminal with an outcome risk has not acknowledged yet.

Every Redis failure is a ``StateUnavailableError`` (``UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.execution.kraken.errors import StateUnavailableError
from services.execution.orders.model import OrderRecord

ORDERS_INDEX = "execution:orders"
ATTENTION_INDEX = "execution:orders:attention"

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def order_key(client_order_id: str) -> str:
    return f"execution:order:{{{client_order_id}}}"


def txid_key(txid: str) -> str:
    return f"execution:order-txid:{txid}"


def needs_attention(record: OrderRecord, expected_outcome: int) -> bool:
    """Working, or an outcome risk has still to hear about."""
    if not record.terminal:
        return True
    return bool(record.reservation_id) and record.reported_outcome != expected_outcome


class OrderStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def claim(self, record: OrderRecord) -> OrderRecord | None:
        """Take the client_order_id for ``record``; the record already there if it was taken."""
        try:
            created = await self._redis.set(
                order_key(record.client_order_id), record.to_json(), nx=True
            )
            if not created:
                raw = await self._redis.get(order_key(record.client_order_id))
                if raw is None:
                    # Released between the two calls: try once more.
                    return await self.claim(record)
                return OrderRecord.from_json(raw)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(ORDERS_INDEX, {record.client_order_id: record.created_ms})
                pipe.zadd(ATTENTION_INDEX, {record.client_order_id: record.created_ms})
                await pipe.execute()
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return None

    async def save(self, record: OrderRecord, *, attention: bool) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(order_key(record.client_order_id), record.to_json())
                if record.txid:
                    pipe.set(txid_key(record.txid), record.client_order_id)
                if attention:
                    pipe.zadd(ATTENTION_INDEX, {record.client_order_id: record.created_ms})
                else:
                    pipe.zrem(ATTENTION_INDEX, record.client_order_id)
                await pipe.execute()
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc

    async def release(self, client_order_id: str) -> None:
        """Free an id whose order was never sent, so the caller may retry with it."""
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(order_key(client_order_id))
                pipe.zrem(ORDERS_INDEX, client_order_id)
                pipe.zrem(ATTENTION_INDEX, client_order_id)
                await pipe.execute()
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc

    async def get(self, client_order_id: str) -> OrderRecord | None:
        try:
            raw = await self._redis.get(order_key(client_order_id))
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return OrderRecord.from_json(raw) if raw is not None else None

    async def get_by_txid(self, txid: str) -> OrderRecord | None:
        try:
            client_order_id = await self._redis.get(txid_key(txid))
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        if client_order_id is None:
            return None
        return await self.get(str(client_order_id))

    async def many(self, client_order_ids: Sequence[str]) -> list[OrderRecord]:
        if not client_order_ids:
            return []
        try:
            raws = await self._redis.mget([order_key(i) for i in client_order_ids])
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return [OrderRecord.from_json(raw) for raw in raws if raw is not None]

    async def newest(self, offset: int, count: int) -> list[str]:
        """client_order_ids, newest first."""
        try:
            ids = await self._redis.zrevrange(ORDERS_INDEX, offset, offset + count - 1)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return [str(i) for i in ids]

    async def attention(self, limit: int = 500) -> list[str]:
        try:
            ids = await self._redis.zrange(ATTENTION_INDEX, 0, limit - 1)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return [str(i) for i in ids]
