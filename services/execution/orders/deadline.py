"""The `deadline` every AddOrder carries, so that an order Kraken's engine sees too late is
refused there rather than traded unseen.

Reconciliation calls an order Kraken does not know "not found" (REJECTED) once it has been
missing for the grace (`EXECUTION_RECONCILE_GRACE`), and placement sends an order at most half
a grace after claiming it (orders/desk.py). A request that reached the engine later than that,
delayed in a queue or on the wire, would become a live order the platform had recorded as
rejected. With `deadline` the engine refuses such a request instead (`EService:Deadline
elapsed`, kraken.md §2), so "not found after the grace" is final.

Kraken accepts a deadline between now + 2 s and now + 60 s (kraken.md, AddOrder). The deadline
keeps one second's margin on each side for transit and for the difference between this host's
clock and Kraken's, and it is a whole second (RFC3339 `…Z`), rounded down, which can take up to
one more second off. So a send uses `floor(min(grace / 2, 60) - 1)` seconds, and only when that
is at least 4 s: from a grace of 10 s (the default 30 s gives 14 s). A shorter grace (a test
setting) sends no deadline, and execution says so when it starts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

KRAKEN_MIN_SECONDS = 2
KRAKEN_MAX_SECONDS = 60
# Transit and clock difference, and the rounding down to a whole second.
MARGIN_SECONDS = 1
ROUNDING_SECONDS = 1


def deadline_seconds(grace: float) -> int | None:
    """How far after sending an AddOrder's deadline lies, or None when the grace is too short
    for one that Kraken accepts and that still falls inside half the grace."""
    seconds = math.floor(min(grace / 2, KRAKEN_MAX_SECONDS) - MARGIN_SECONDS)
    if seconds < KRAKEN_MIN_SECONDS + MARGIN_SECONDS + ROUNDING_SECONDS:
        return None
    return seconds


def deadline_at(now_s: float, seconds: int) -> str:
    """The RFC3339 deadline ``seconds`` after ``now_s`` (Unix seconds), rounded down."""
    moment = datetime.fromtimestamp(math.floor(now_s + seconds), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
