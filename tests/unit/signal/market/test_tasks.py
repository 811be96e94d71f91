"""Stopping tasks whose cancellation a library swallowed, as redis-py sometimes does."""

from __future__ import annotations

import asyncio
import contextlib

from services.signal.market.tasks import cancel_and_wait, raise_if_cancelled


async def _swallowing_loop() -> None:
    while True:
        with contextlib.suppress(asyncio.CancelledError):  # what the library does
            await asyncio.sleep(0.01)
        raise_if_cancelled()


async def test_a_swallowed_cancel_is_raised_again_by_the_check() -> None:
    task = asyncio.create_task(_swallowing_loop())
    await asyncio.sleep(0.02)

    task.cancel()
    await asyncio.wait([task], timeout=1)

    assert task.cancelled()


async def test_cancel_and_wait_repeats_the_cancel_until_done() -> None:
    swallowed = asyncio.Event()

    async def swallows_once() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(swallows_once())
    await asyncio.sleep(0)

    await cancel_and_wait([task])

    assert swallowed.is_set()
    assert task.cancelled()
