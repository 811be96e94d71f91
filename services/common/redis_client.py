"""The one way services open Redis: decoded replies, bounded timeouts, stale connections renewed.

redis-py checks a pooled connection before handing it out and reconnects one whose server went
away (a Redis restart), but it skips that check while "maintenance notifications" (a Redis
Enterprise feature) are on, and their default, ``"auto"``, counts as on. The first command on
every connection pooled before a restart then failed with "Connection closed by server": one
spurious ``UNAVAILABLE`` per pooled connection after Redis came back. This platform's Redis sends
no maintenance notifications, so they are off here, and the check runs again.

Commands are never retried by the client: a command whose answer was lost may have run, and only
the caller knows whether running it twice is safe.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.maint_notifications import MaintNotificationsConfig


def open_redis(url: str, *, timeout: float, connect_timeout: float | None = None) -> aioredis.Redis:
    """A client whose commands wait at most ``timeout`` s (a blocking read must ask for less)."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout if connect_timeout is None else connect_timeout,
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
