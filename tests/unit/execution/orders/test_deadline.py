"""The AddOrder deadline stays inside Kraken's accepted window and inside half the grace."""

from __future__ import annotations

from datetime import datetime

import pytest

from services.execution.orders.deadline import deadline_at, deadline_seconds


@pytest.mark.parametrize(
    ("grace", "seconds"),
    [
        (30, 14),
        (10, 4),
        (10.9, 4),
        (12, 5),
        (119, 58),
        (120, 59),
        (3600, 59),
        (9.99, None),
        (3, None),
        (0, None),
    ],
)
def test_the_deadline_follows_the_grace(grace: float, seconds: int | None) -> None:
    assert deadline_seconds(grace) == seconds


@pytest.mark.parametrize("grace", [10, 10.5, 17, 30, 61, 119, 121, 3600])
def test_a_deadline_is_accepted_by_kraken_and_falls_inside_half_the_grace(grace: float) -> None:
    """Rounded down to the second, with a second's clock margin either way: Kraken wants it
    between now + 2 s and now + 60 s; reconciliation needs it before half the grace."""
    seconds = deadline_seconds(grace)
    assert seconds is not None
    for now in (1_800_000_000.0, 1_800_000_000.999, 1_800_000_000.5):
        at = datetime.fromisoformat(deadline_at(now, seconds)).timestamp()
        assert at - 1 >= now + 2  # Kraken's clock a second ahead of ours
        assert at + 1 <= now + 60  # a second behind
        assert at + 1 <= now + grace / 2


def test_the_deadline_is_an_rfc3339_utc_second() -> None:
    assert deadline_at(1_800_000_000.75, 14) == "2027-01-15T08:00:14Z"
