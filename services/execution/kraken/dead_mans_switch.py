"""Kraken's dead man's switch: while execution is healthy it keeps re-arming CancelAllOrdersAfter,
so that Kraken cancels every open order of the key if the platform dies or loses its way out.

Every replica re-arms the same per-key timer every third of the timeout (Kraken's advice: a
60 s timeout re-armed every 15 to 30 s). Healthy means able to send a private call: the call needs
Redis (nonce, budget) and Kraken, so a replica cut off from either stops re-arming and the timer
fires. A replica that stops cleanly disarms the timer (timeout 0) only when it is the last one:
the replicas register in ``execution:dead-mans-switch:{<key id>}``, a sorted set scored by when
each registration lapses (Redis time), so a replica that died is not counted for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.errors import KrakenError

logger = logging.getLogger(__name__)

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

# KEYS: replica set. ARGV: replica id, registration lifetime ms.
_REGISTER_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""

# KEYS: replica set. ARGV: replica id. Returns how many live replicas remain.
_LEAVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


def replicas_key(key_id: str) -> str:
    return f"execution:dead-mans-switch:{{{key_id}}}"


class DeadMansSwitch:
    """Re-arms CancelAllOrdersAfter(``timeout``) every ``timeout / 3`` s; 0 turns it off."""

    def __init__(self, kraken: KrakenSpotClient, redis: Redis, key_id: str, timeout: int) -> None:
        if not 0 <= timeout < 86400:
            raise ValueError("timeout must be 0 to 86399 seconds")
        self._kraken = kraken
        self._timeout = timeout
        self._key = replicas_key(key_id)
        self._replica_id = uuid.uuid4().hex
        self._register = redis.register_script(_REGISTER_LUA)
        self._leave = redis.register_script(_LEAVE_LUA)
        self._task: asyncio.Task[None] | None = None

    @property
    def interval(self) -> float:
        return self._timeout / 3

    def start(self) -> None:
        if self._timeout == 0:
            logger.info("dead man's switch off (EXECUTION_DEAD_MANS_SWITCH_SECONDS=0)")
            return
        self._task = asyncio.get_running_loop().create_task(self._keep_armed())

    async def stop(self) -> None:
        """Stop re-arming; disarm at Kraken when no other replica is left to re-arm."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            others = int(await self._leave(keys=[self._key], args=[self._replica_id]))
        except _REDIS_FAILURES:
            logger.warning("dead man's switch left armed: Redis unavailable at shutdown")
            return
        if others:
            logger.info("dead man's switch left to the other replicas", extra={"others": others})
            return
        try:
            await self._kraken.cancel_all_orders_after(0)
        except KrakenError as exc:
            logger.warning(
                "dead man's switch not disarmed; Kraken cancels the open orders when it fires",
                extra={"error": str(exc)},
            )
            return
        logger.info("dead man's switch disarmed")

    async def arm(self) -> str:
        """Re-arm once; Kraken's trigger time."""
        result = await self._kraken.cancel_all_orders_after(self._timeout)
        return str(result.get("triggerTime", ""))

    async def _keep_armed(self) -> None:
        armed = False
        while True:
            try:
                # Registered for a full timeout: a replica that dies stops counting after it.
                await self._register(
                    keys=[self._key], args=[self._replica_id, self._timeout * 1000]
                )
                trigger = await self.arm()
                if not armed:
                    logger.info(
                        "dead man's switch armed",
                        extra={"timeout": self._timeout, "trigger_time": trigger},
                    )
                armed = True
            except (*_REDIS_FAILURES, KrakenError) as exc:
                armed = False
                logger.warning(
                    "dead man's switch not re-armed; Kraken cancels the open orders when it fires",
                    extra={"timeout": self._timeout, "error": str(exc) or type(exc).__name__},
                )
            await asyncio.sleep(self.interval)
