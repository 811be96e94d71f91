"""Reconnect delays: exponential backoff with full jitter, forgiven after a healthy connection.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the reconnects
of many replicas after a shared outage instead of synchronising them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

_MAX_DOUBLINGS = 60  # past any cap; keeps 2**attempt a finite float


class Backoff:
    """Delay before each reconnect attempt: ``uniform(0, min(cap, base * 2**attempt))``.

    A connection that stayed up ``healthy_after`` seconds resets the attempt count, so one
    drop after hours of service retries quickly while a flapping endpoint backs off.
    """

    def __init__(
        self,
        base: float,
        cap: float,
        healthy_after: float,
        *,
        draw: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base
        self._cap = cap
        self._healthy_after = healthy_after
        self._draw = draw
        self._clock = clock
        self._attempt = 0
        self._connected_at: float | None = None

    @property
    def attempt(self) -> int:
        """Failed or short-lived connections since the last healthy one."""
        return self._attempt

    def ceiling(self) -> float:
        """The largest delay the next attempt may draw."""
        return min(self._cap, self._base * 2.0 ** min(self._attempt, _MAX_DOUBLINGS))

    def connected(self) -> None:
        """A connection is up and subscribed."""
        self._connected_at = self._clock()

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; call once per lost or failed connection."""
        if (
            self._connected_at is not None
            and self._clock() - self._connected_at >= self._healthy_after
        ):
            self._attempt = 0
        self._connected_at = None
        delay = self._draw() * self.ceiling()
        self._attempt += 1
        return delay
