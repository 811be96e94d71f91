"""Wall-clock nanoseconds and aware datetimes, converted with integers (no float rounding)."""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANOS = 1_000_000_000


def from_ns(nanos: int) -> datetime:
    """UTC datetime of ``nanos`` since the epoch, truncated to the microsecond."""
    seconds, rest = divmod(nanos, _NANOS)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def to_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _NANOS + delta.microseconds * 1000
