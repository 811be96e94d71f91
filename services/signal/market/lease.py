"""Per-pair feed leases in Redis: one owner per pair among the signal replicas.

Taken with ``SET key owner NX PX ttl``; renewed and released by Lua scripts that act only while
the key still names this owner, so a replica whose lease lapsed and was taken over can neither
extend nor delete the new owner's lease.
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


class PairLeases:
    """Acquire, renew and release the feed lease of pairs for one owner id."""

    def __init__(self, client: aioredis.Redis, owner_id: str, ttl_ms: int) -> None:
        self._redis = client
        self.owner_id = owner_id
        self.ttl_ms = ttl_ms
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    async def acquire(self, pair: str) -> bool:
        taken = await self._redis.set(keys.lease(pair), self.owner_id, nx=True, px=self.ttl_ms)
        return bool(taken)

    async def renew(self, pair: str) -> bool:
        return bool(await self._renew(keys=[keys.lease(pair)], args=[self.owner_id, self.ttl_ms]))

    async def release(self, pair: str) -> bool:
        return bool(await self._release(keys=[keys.lease(pair)], args=[self.owner_id]))
