"""Closed candles from the ``ohlc`` channel, which only ever sends the candle still forming.

A candle is closed when an entry for a later interval arrives, or, on a quiet pair where none
may come, once the clock is ``grace`` seconds past its end. A late entry for a candle already
closed is dropped: the closed value has been published and rules may have acted on it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from services.signal.market.model import Candle


class CandleTracker:
    """One pair and interval: takes the forming candle's updates, returns candles as they close."""

    def __init__(self, pair: str, interval_minutes: int, grace_seconds: float) -> None:
        self.pair = pair
        self.interval_minutes = interval_minutes
        self._length = timedelta(minutes=interval_minutes)
        self._grace = timedelta(seconds=grace_seconds)
        self._forming: Candle | None = None
        self._closed_through: datetime | None = None

    @property
    def forming(self) -> Candle | None:
        return self._forming

    def update(self, candle: Candle) -> list[Candle]:
        """Take one entry; returns the candle it closed, if any."""
        if self._closed_through is not None and candle.open_time <= self._closed_through:
            return []
        forming = self._forming
        if forming is not None and candle.open_time < forming.open_time:
            return []
        closed = []
        if forming is not None and candle.open_time > forming.open_time:
            closed.append(self._close(forming))
        self._forming = candle
        return closed

    def due(self, now: datetime) -> list[Candle]:
        """The forming candle, closed, once ``now`` is past its end and the grace."""
        forming = self._forming
        if forming is None or now < forming.open_time + self._length + self._grace:
            return []
        self._forming = None
        return [self._close(forming)]

    def _close(self, candle: Candle) -> Candle:
        self._closed_through = candle.open_time
        return dataclasses.replace(candle, closed=True)
