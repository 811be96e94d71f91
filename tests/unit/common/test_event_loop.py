"""`EVENT_LOOP` picks the loop a process runs on, and the coroutine's result comes back."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from services.common.event_loop import EventLoop, run_on


async def _loop_type_and_sum(a: int, b: int) -> tuple[type[asyncio.AbstractEventLoop], int]:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()), a + b


@pytest.mark.parametrize(
    ("choice", "expected"),
    [(EventLoop.UVLOOP, uvloop.Loop), (EventLoop.ASYNCIO, asyncio.BaseEventLoop)],
)
def test_the_chosen_loop_runs_the_coroutine(
    choice: EventLoop, expected: type[asyncio.AbstractEventLoop]
) -> None:
    loop_type, total = run_on(choice, _loop_type_and_sum(2, 3))
    assert issubclass(loop_type, expected)
    assert issubclass(loop_type, uvloop.Loop) == (choice is EventLoop.UVLOOP)
    assert total == 5


def test_an_exception_in_the_coroutine_reaches_the_caller() -> None:
    async def fails() -> None:
        raise LookupError("no such order")

    with pytest.raises(LookupError, match="no such order"):
        run_on(EventLoop.UVLOOP, fails())
