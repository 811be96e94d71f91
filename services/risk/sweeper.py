"""Releases reservations that outlived their time to live without a final outcome report.

The backstop of the outcome flow: if execution never reports (a lost order, a bug), the
exposure comes back after `RISK_RESERVATION_TTL`. Every replica sweeps; the settle script is
idempotent, so two replicas releasing the same reservation release it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.exceptions

from services.risk.book import ReservationBook

log = logging.getLogger(__name__)


class LapsedReservationSweeper:
    def __init__(self, book: ReservationBook, interval: float) -> None:
        self._book = book
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self) -> int:
        released = 0
        for reservation_id in await self._book.lapsed(int(time.time() * 1000)):
            if await self._book.release_lapsed(reservation_id):
                released += 1
                log.warning("reservation lapsed", extra={"reservation_id": reservation_id})
        return released

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except redis.exceptions.RedisError as exc:
                log.warning("sweep failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            await asyncio.sleep(self._interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
