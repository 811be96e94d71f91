"""The Redis keys of the market-data layer; pairs appear in them in ``BTC/USD`` form.

- ``signal:market:lease:{pair}``: string, the replica id that owns the pair's feed, with a TTL
  (``SET NX PX``, renewed by compare-and-pexpire, released by compare-and-del).
- ``signal:market:replicas``: sorted set of the live replica ids, scored by when each one's
  presence lapses (Redis time, ms); read to share the pairs out evenly.
- ``signal:ticker:{pair}``: hash, the latest ticker (fields of :mod:`.codec`).
- ``signal:ticks:{pair}``: stream of every ticker, auto ids, ``MAXLEN ~``.
- ``signal:trades:{pair}``: stream of prints, auto ids, ``MAXLEN ~``.
- ``signal:candles:{pair}:{interval}``: stream of closed candles of ``interval`` minutes. The entry
  id is ``{open time in ms}-0``: Redis refuses an id not above the top, so a candle backfilled
  by REST and closed again from the WebSocket, or by two owners around a failover, is written
  once, and entries stay in time order.
- ``signal:book:{pair}``: string, JSON of the latest verified top of book.
"""

from __future__ import annotations

from datetime import datetime

_PREFIX = "signal"


def lease(pair: str) -> str:
    return f"{_PREFIX}:market:lease:{pair}"


REPLICAS = f"{_PREFIX}:market:replicas"


def ticker(pair: str) -> str:
    return f"{_PREFIX}:ticker:{pair}"


def ticks(pair: str) -> str:
    return f"{_PREFIX}:ticks:{pair}"


def trades(pair: str) -> str:
    return f"{_PREFIX}:trades:{pair}"


def candles(pair: str, interval_minutes: int) -> str:
    return f"{_PREFIX}:candles:{pair}:{interval_minutes}"


def book(pair: str) -> str:
    return f"{_PREFIX}:book:{pair}"


def candle_entry_id(open_time: datetime) -> str:
    """The stream id of the candle that opened at ``open_time``; resume ``candles()`` after it."""
    return f"{round(open_time.timestamp() * 1000)}-0"
