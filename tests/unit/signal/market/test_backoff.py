"""Reconnect backoff: exponential ceiling, full jitter, cap, and forgiveness after health."""

from __future__ import annotations

import pytest

from services.signal.market.backoff import Backoff


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    backoff = Backoff(0.25, 10.0, 30.0, draw=lambda: 1.0)

    delays = [backoff.next_delay() for _ in range(8)]

    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.999])
def test_full_jitter_draws_between_zero_and_the_ceiling(draw: float) -> None:
    backoff = Backoff(0.25, 10.0, 30.0, draw=lambda: draw)
    for _ in range(3):
        backoff.next_delay()

    assert backoff.next_delay() == pytest.approx(draw * 2.0)


def test_real_jitter_stays_within_the_ceiling() -> None:
    backoff = Backoff(0.25, 10.0, 30.0)

    for attempt in range(50):
        ceiling = backoff.ceiling()
        assert 0 <= backoff.next_delay() <= ceiling <= 10.0, attempt


def test_a_healthy_connection_resets_the_attempts() -> None:
    clock = FakeClock()
    backoff = Backoff(0.25, 10.0, 30.0, draw=lambda: 1.0, clock=clock)
    for _ in range(5):
        backoff.next_delay()

    backoff.connected()
    clock.now += 30.0

    assert backoff.next_delay() == 0.25
    assert backoff.attempt == 1


def test_a_short_lived_connection_keeps_backing_off() -> None:
    clock = FakeClock()
    backoff = Backoff(0.25, 10.0, 30.0, draw=lambda: 1.0, clock=clock)
    for _ in range(3):
        backoff.next_delay()

    backoff.connected()
    clock.now += 29.0

    assert backoff.next_delay() == 2.0


def test_thousands_of_failures_do_not_overflow() -> None:
    backoff = Backoff(0.25, 10.0, 30.0, draw=lambda: 1.0)

    delays = [backoff.next_delay() for _ in range(5000)]

    assert delays[-1] == 10.0
