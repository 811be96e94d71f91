"""Orders in Redis: the idempotency record, the txid index and the order indexes.

Keys (all JSON or ids, no secrets):

- ``execution:order:{<client_order_id>}`` - the ``OrderRecord`` as JSON. Written with SET NX
  before anything is sent: whoever sets it owns the id.
- ``execution:order-txid:<txid>`` - the client_order_id of a Kraken txid.
- ``execution:orders`` - sorted set of every client_order_id by creation time (ms), for listing.
- ``execution:orders:attention`` - sorted set of the orders reconciliation must look at: working
  (PENDING, OPEN, UNKNOWN) or terminal with an outcome risk has not acknowledged yet.

Every write after the claim is a compare-and-set on the record's ``version`` (one Lua script):
placement, the reconcilers of every replica and the kill switch all update the same orders, and
a writer holding an older copy gets ``StaleRecord`` instead of overwriting a newer state.
``modify`` is the read-apply-save loop built on it. A save may carry the journal event of the
change, appended to ``execution:journal`` by the same script: both happen, or neither.

Every Redis failure is a ``StateUnavailableError`` (``UNAVAILABLE``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.batched_script import BatchedScript
from services.execution.kraken.errors import StateUnavailableError
from services.execution.orders.journal import (
    JOURNAL_STREAM,
    MAX_ENTRIES,
    EventType,
    entry_fields,
    log_event,
)
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


# KEYS: order, orders index, attention index, journal stream. ARGV: record JSON,
# client_order_id, created ms, journal max length, then the journal entry's fields and values
# (none: no entry). Returns {''} when the id was free and is now claimed (with the entry id, if
# any, second), else {record already there}.
_CLAIM_LUA = """
local existing = redis.call('GET', KEYS[1])
if existing then return {existing} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
local entry = ''
if #ARGV > 4 then
  entry = redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
end
return {'', entry}
"""

# KEYS: order, attention index, journal stream[, txid index]. ARGV: expected version, new JSON,
# client_order_id, created ms, '1' to keep the order in the attention index, journal max length,
# then the journal entry's fields and values (none: no entry). Returns {1, entry id or ''} when
# saved, {0} when stale, {-1} when missing.
_SAVE_LUA = """
local current = redis.call('GET', KEYS[1])
if not current then return {-1} end
local version = cjson.decode(current)['version']
if type(version) ~= 'number' then version = 0 end
if version ~= tonumber(ARGV[1]) then return {0} end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[4] then redis.call('SET', KEYS[4], ARGV[3]) end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[3])
end
local entry = ''
if #ARGV > 6 then
  entry = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', unpack(ARGV, 7))
end
return {1, entry}
"""

# KEYS: order, orders index, attention index. ARGV: expected version, client_order_id.
# Returns 1 released, 0 stale, -1 missing.
_RELEASE_LUA = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local version = cjson.decode(current)['version']
if type(version) ~= 'number' then version = 0 end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""

MODIFY_ATTEMPTS = 10
_MODIFY_BACKOFF = 0.002


class StaleRecord(Exception):
    """The stored order changed (or vanished) since this copy was read; nothing was written."""

    def __init__(self, client_order_id: str, *, missing: bool) -> None:
        state = "was released" if missing else "changed since it was read"
        super().__init__(f"order {client_order_id} {state}")
        self.client_order_id = client_order_id
        self.missing = missing


class OrderStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._claim = BatchedScript(redis, _CLAIM_LUA)
        self._save = BatchedScript(redis, _SAVE_LUA)
        self._release = BatchedScript(redis, _RELEASE_LUA)

    async def claim(
        self, record: OrderRecord, *, event: EventType | str | None = None
    ) -> OrderRecord | None:
        """Take the client_order_id for ``record``; the record already there if it was taken.

        The record and both indexes are written in one step, so a claimed id is always visible
        to reconciliation; with ``event``, that journal entry is appended in the same step. On
        success ``record.version`` is 1.
        """
        record.version = 1
        order_json = record.to_json()
        args: list[str | int] = [
            order_json,
            record.client_order_id,
            record.created_ms,
            MAX_ENTRIES,
        ]
        if event is not None:
            for name, value in entry_fields(event, record, order_json).items():
                args += [name, value]
        try:
            outcome = await self._claim(
                keys=[
                    order_key(record.client_order_id),
                    ORDERS_INDEX,
                    ATTENTION_INDEX,
                    JOURNAL_STREAM,
                ],
                args=args,
            )
        except _REDIS_FAILURES as exc:
            record.version = 0
            raise StateUnavailableError("order store unavailable") from exc
        if outcome[0]:
            record.version = 0
            return OrderRecord.from_json(outcome[0])
        if event is not None:
            log_event(event, record, str(outcome[1]))
        return None

    async def save(
        self, record: OrderRecord, *, attention: bool, event: EventType | str | None = None
    ) -> None:
        """Write ``record`` if the stored order still has ``record.version``; bump the version.
        With ``event``, append that journal entry in the same step.

        Raises ``StaleRecord`` when another writer got there first (re-read and apply again).
        """
        expected = record.version
        record.version = expected + 1
        order_json = record.to_json()
        keys = [order_key(record.client_order_id), ATTENTION_INDEX, JOURNAL_STREAM]
        if record.txid:
            keys.append(txid_key(record.txid))
        args: list[str | int] = [
            expected,
            order_json,
            record.client_order_id,
            record.created_ms,
            "1" if attention else "0",
            MAX_ENTRIES,
        ]
        if event is not None:
            for name, value in entry_fields(event, record, order_json).items():
                args += [name, value]
        try:
            outcome = await self._save(keys=keys, args=args)
        except _REDIS_FAILURES as exc:
            # Unknown whether it was written: the caller's copy stays at the old version, so a
            # retry with it is refused rather than written twice.
            record.version = expected
            raise StateUnavailableError("order store unavailable") from exc
        if int(outcome[0]) != 1:
            record.version = expected
            raise StaleRecord(record.client_order_id, missing=int(outcome[0]) == -1)
        if event is not None:
            log_event(event, record, str(outcome[1]))

    async def modify(
        self,
        record: OrderRecord,
        apply: Callable[[OrderRecord], bool],
        *,
        attention: Callable[[OrderRecord], bool],
        event: Callable[[OrderRecord], EventType | str | None] = lambda _: None,
    ) -> OrderRecord:
        """Apply ``apply`` to ``record`` and save it; on a conflict, to a fresh read, again.

        ``apply`` changes the record in place and says whether there is anything to save; it
        must be safe to run on any newer version of the order. ``event`` names the journal
        entry to append with the save that succeeds, if any. Returns the order as stored.
        Raises ``StaleRecord(missing=True)`` when the order is gone.
        """
        current = record
        for attempt in range(1, MODIFY_ATTEMPTS + 1):
            if not apply(current):
                return current
            try:
                await self.save(current, attention=attention(current), event=event(current))
            except StaleRecord as exc:
                if exc.missing:
                    raise
                # Writers that collided spread out before they read again.
                pause = min(0.05, _MODIFY_BACKOFF * 2**attempt)
                await asyncio.sleep(pause * random.random())  # noqa: S311 - jitter
                fresh = await self.get(record.client_order_id)
                if fresh is None:
                    raise StaleRecord(record.client_order_id, missing=True) from exc
                current = fresh
                continue
            return current
        raise StateUnavailableError(
            f"order {record.client_order_id} kept changing; gave up after {MODIFY_ATTEMPTS} tries"
        )

    async def release(self, record: OrderRecord) -> None:
        """Free the id of an order that was never sent, so the caller may retry with it.

        Only the version in hand is released: raises ``StaleRecord`` when the order moved on.
        """
        try:
            outcome = await self._release(
                keys=[order_key(record.client_order_id), ORDERS_INDEX, ATTENTION_INDEX],
                args=[record.version, record.client_order_id],
            )
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        if int(outcome) != 1:
            raise StaleRecord(record.client_order_id, missing=int(outcome) == -1)

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

    async def attention(self, limit: int | None = 500) -> list[str]:
        """Orders reconciliation must look at, oldest first; ``None``: all of them."""
        try:
            ids = await self._redis.zrange(ATTENTION_INDEX, 0, -1 if limit is None else limit - 1)
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError("order store unavailable") from exc
        return [str(i) for i in ids]
