"""Which asyncio event loop a process runs on: uvloop by default, the standard one on request.

Every hop of the order path wakes a process to do a little Python while the others share two
cores, so the loop's own cost per wake-up shows in every figure of `make bench`. uvloop (libuv)
does the same work with less of it; `EVENT_LOOP=asyncio` keeps the standard loop for debugging
or for a platform without a uvloop wheel. grpc.aio, redis-py, httpx and aiohttp all run on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from enum import StrEnum
from typing import Any, TypeVar

ResultT = TypeVar("ResultT")


class EventLoop(StrEnum):
    """The value of `EVENT_LOOP`."""

    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


def run_on(loop: EventLoop, main: Coroutine[Any, Any, ResultT]) -> ResultT:
    """`asyncio.run(main)` on the chosen loop."""
    if loop is EventLoop.ASYNCIO:
        return asyncio.run(main)
    # Imported only when chosen, so `EVENT_LOOP=asyncio` never needs it.
    import uvloop

    return uvloop.run(main)
