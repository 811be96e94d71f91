"""CancelAllOrdersAfter's timer: all open orders are cancelled unless it is re-armed in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)


class DeadMansSwitch:
    """One timer; arming replaces it, a zero timeout disarms it, and after firing it stays off."""

    def __init__(self, cancel_all: Callable[[], int]) -> None:
        self._cancel_all = cancel_all
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, timeout_seconds: int) -> datetime | None:
        """(Re)arm for ``timeout_seconds``; returns when it fires, ``None`` if disarmed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout_seconds == 0:
            return None
        self._timer = asyncio.get_running_loop().call_later(timeout_seconds, self._fire)
        return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=timeout_seconds)

    def _fire(self) -> None:
        self._timer = None
        log.info("dead man's switch fired", extra={"canceled": self._cancel_all()})
