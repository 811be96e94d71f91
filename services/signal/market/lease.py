"""Per-pair feed leases in Redis: one owner per pair among the signal replicas.

Taken with ``SET key owner NX PX ttl``; renewed and released by Lua scripts that act only while
the key still names this owner, so a replica whose lease lapsed and was taken over can neither
extend nor delete the new owner's lease.

Each replica also keeps a presence (``keys.REPLICAS``) that lapses after the same TTL, so the
replicas can count each other and share the pairs out (ownership.py).
"""

from __future__ import annotations

import redis.asyncio as aioredis

from services.signal.market import keys

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


# Marks this replica present until now + ttl (Redis time), forgets the lapsed, counts the rest.
_PRESENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


# Forgets the lapsed presences and tells whether any replica but this one is present.
_OTHERS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then count = count - 1 end
return count
"""


class PairLeases:
    """Acquire, renew and release the feed lease of pairs for one owner id."""

    def __init__(self, client: aioredis.Redis, owner_id: str, ttl_ms: int) -> None:
        self._redis = client
        self.owner_id = owner_id
        self.ttl_ms = ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._present = client.register_script(_PRESENT)
        self._others = client.register_script(_OTHERS)

    async def present(self) -> int:
        """Mark this replica present for one TTL; how many replicas are present now."""
        count = await self._present(keys=[keys.REPLICAS], args=[self.owner_id, self.ttl_ms])
        return int(count)

    async def others_present(self) -> bool:
        """Whether any other replica is present, without marking this one."""
        return int(await self._others(keys=[keys.REPLICAS], args=[self.owner_id])) > 0

    async def leave(self) -> None:
        """No longer present: the others count without this replica at once."""
        await self._redis.zrem(keys.REPLICAS, self.owner_id)

    async def acquire(self, pair: str) -> bool:
        taken = await self._redis.set(keys.lease(pair), self.owner_id, nx=True, px=self.ttl_ms)
        return bool(taken)

    async def renew(self, pair: str) -> bool:
        return bool(await self._renew(keys=[keys.lease(pair)], args=[self.owner_id, self.ttl_ms]))

    async def release(self, pair: str) -> bool:
        return bool(await self._release(keys=[keys.lease(pair)], args=[self.owner_id]))
