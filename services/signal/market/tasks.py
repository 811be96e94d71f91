"""Running and stopping the market-data tasks.

Every task is started through :func:`spawn`, which logs one that ends with an error: these
loops are meant to end only by cancellation, so an exception is a bug to see at once.

Stopping tasks that await redis-py: a cancellation that lands inside redis-py's read timeout
can be lost (redis-py issues #2028 and #2551; reproduced here with redis-py 8.1 on Python 3.11
in about half of the attempts): the command returns normally and the task runs on, still marked
as cancelling. So loops that call Redis check :func:`raise_if_cancelled` after each call, and
:func:`cancel_and_wait` repeats the cancel until the tasks are really done.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)

# Awaited by the WebSocket reader after a ticker and by the publisher before each write: returns
# when market-data work may go on (the signal service's trading_first.TradingFirst.turn).
YieldTo = Callable[[], Awaitable[None]]

_RECHECK_SECONDS = 0.1


def spawn(coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    """A task that logs its exception, if it ends with one."""
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(_report_failure)
    return task


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("market data task failed", extra={"task": task.get_name()}, exc_info=error)


def raise_if_cancelled() -> None:
    """Raise the ``CancelledError`` a library swallowed, if this task was cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until each has finished, cancelling again if one ignored it."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=_RECHECK_SECONDS)
