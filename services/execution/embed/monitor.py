"""Follows executed quotes to their end, so a quote never stays UNKNOWN or ACCEPTED forever.

Every replica runs one: each pass it reads the working set, asks Kraken (GET) about each executed
quote that is not terminal, expires the ones whose time ran out, and reports terminal outcomes risk
has not acknowledged. Webhooks usually get there first; this is the path that needs no webhook.
Passes in several replicas overlap harmlessly: every write is a compare-and-set that only moves a
quote forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from services.execution.embed.desk import QuoteDesk
from services.execution.embed.store import QuoteStore
from services.execution.kraken.errors import KrakenError

logger = logging.getLogger(__name__)


class QuoteMonitor:
    def __init__(self, desk: QuoteDesk, store: QuoteStore, interval: float) -> None:
        self._desk = desk
        self._store = store
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="quote-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> int:
        """One pass; the number of quotes looked at."""
        ids = await self._store.working()
        for qid in ids:
            try:
                record = await self._desk.refresh(qid)
                if record is not None:
                    await self._desk.settle(record)
            except KrakenError as exc:
                logger.info(
                    "quote poll failed",
                    extra={"quote_id": qid, "error": type(exc).__name__, "detail": exc.message},
                )
        return len(ids)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("quote monitor pass failed")
            await asyncio.sleep(self._interval)
