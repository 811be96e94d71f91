"""Nonces for Kraken private calls, shared by every replica through Redis (design decision 2).

One counter per API key id, ``kraken:nonce:{<key_id>}``, advanced by one Lua function to
``max(last + 1, Redis TIME in nanoseconds)``. Lua numbers are doubles, which cannot hold a
nanosecond timestamp exactly, so the script builds ``now`` as a decimal string, compares strings and
lets Redis's own 64-bit ``INCR`` do the ``+ 1``.

In ``strict`` mode a lease ``kraken:nonce-lease:{<key_id>}`` is taken in the same script as the
nonce and holds that nonce as its value; only the holder of that nonce can release it, and a
holder that died loses the lease after its TTL. (The braces are a Redis Cluster hash tag: both keys
of one API key live in one slot.)
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.batched_script import BatchedScript
from services.execution.kraken.config import NonceMode
from services.execution.kraken.errors import NonceLeaseTimeoutError, StateUnavailableError

logger = logging.getLogger(__name__)

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

_ADVANCE_LUA = """
local function advance(key)
  local t = redis.call('TIME')
  local now = t[1] .. string.format('%06d', tonumber(t[2])) .. '000'
  local last = redis.call('GET', key)
  if (not last) or #now > #last or (#now == #last and now > last) then
    redis.call('SET', key, now)
    return now
  end
  redis.call('INCR', key)
  return redis.call('GET', key)
end
"""

NEXT_NONCE_LUA = _ADVANCE_LUA + "return advance(KEYS[1])\n"

# KEYS: nonce counter, lease. ARGV: lease TTL in ms. Returns {1, nonce} or {0, lease pttl ms}.
RESERVE_LUA = (
    _ADVANCE_LUA
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, redis.call('PTTL', KEYS[2])}
end
local nonce = advance(KEYS[1])
redis.call('SET', KEYS[2], nonce, 'PX', ARGV[1])
return {1, nonce}
"""
)

# KEYS: lease. ARGV: the holder's nonce. Deletes the lease only if that holder still owns it.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)


def nonce_key(key_id: str) -> str:
    return f"kraken:nonce:{{{key_id}}}"


def lease_key(key_id: str) -> str:
    return f"kraken:nonce-lease:{{{key_id}}}"


class NonceKeeper:
    """Hands out strictly increasing nonces per API key id, across processes and replicas."""

    def __init__(
        self,
        redis: Redis,
        *,
        default_mode: NonceMode = NonceMode.WINDOW,
        modes: Mapping[str, NonceMode] | None = None,
        lease_ttl: float = 30.0,
        lease_wait: float = 5.0,
    ) -> None:
        self._redis = redis
        self._default_mode = default_mode
        self._modes = dict(modes or {})
        self._lease_ttl_ms = max(1, round(lease_ttl * 1000))
        self._lease_wait = lease_wait
        self._next = BatchedScript(redis, NEXT_NONCE_LUA)
        self._reserve = BatchedScript(redis, RESERVE_LUA)
        self._release = BatchedScript(redis, RELEASE_LUA)

    def mode_for(self, key_id: str) -> NonceMode:
        return self._modes.get(key_id, self._default_mode)

    async def next_nonce(self, key_id: str) -> int:
        """A nonce greater than every nonce handed out before for this key. No lease."""
        _check_key_id(key_id)
        try:
            raw = await self._next(keys=[nonce_key(key_id)])
        except _REDIS_FAILURES as exc:
            raise StateUnavailableError(f"nonce store unavailable for key {key_id}") from exc
        return int(raw)

    @asynccontextmanager
    async def reserve(self, key_id: str, *, ahead: int | None = None) -> AsyncIterator[int]:
        """A nonce for one request; in strict mode the key's lease is held until the block ends.

        Enter right before signing and leave once the response (or the failure) is in.
        ``ahead``: in window mode, a nonce already taken with :meth:`next_nonce` for this
        request, used as is. Strict mode refuses one: its nonce must come with the lease.
        """
        if self.mode_for(key_id) is NonceMode.WINDOW:
            yield ahead if ahead is not None else await self.next_nonce(key_id)
            return
        if ahead is not None:
            raise ValueError("strict nonce mode takes the nonce with the lease, never ahead")
        nonce = await self._acquire(key_id)
        try:
            yield nonce
        finally:
            await self._give_back(key_id, nonce)

    async def _acquire(self, key_id: str) -> int:
        _check_key_id(key_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lease_wait
        pause = 0.002
        while True:
            try:
                granted, value = await self._reserve(
                    keys=[nonce_key(key_id), lease_key(key_id)], args=[self._lease_ttl_ms]
                )
            except _REDIS_FAILURES as exc:
                raise StateUnavailableError(f"nonce lease unavailable for key {key_id}") from exc
            if int(granted) == 1:
                return int(value)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise NonceLeaseTimeoutError(
                    f"nonce lease for key {key_id} still busy after {self._lease_wait:.3f}s",
                    retry_after=max(0.0, int(value) / 1000),
                )
            lease_left = int(value) / 1000 if int(value) > 0 else pause
            await asyncio.sleep(min(pause * (1 + random.random()), lease_left, remaining))  # noqa: S311 - jitter
            pause = min(pause * 2, 0.05)

    async def _give_back(self, key_id: str, nonce: int) -> None:
        try:
            released: Any = await self._release(keys=[lease_key(key_id)], args=[str(nonce)])
        except _REDIS_FAILURES:
            # The response is already in; failing here would hide it. The TTL frees the lease.
            logger.warning(
                "nonce lease release failed; it expires on its own",
                extra={"key_id": key_id, "lease_ttl_ms": self._lease_ttl_ms},
            )
            return
        if int(released) == 0:
            logger.warning(
                "nonce lease expired before release; requests may have overlapped",
                extra={"key_id": key_id, "nonce": nonce, "lease_ttl_ms": self._lease_ttl_ms},
            )


def _check_key_id(key_id: str) -> None:
    # Key ids go into Redis key names; a brace would break the cluster hash tag.
    if not _KEY_ID.match(key_id):
        raise ValueError("key_id must be 1-64 characters of [A-Za-z0-9_.-]")
