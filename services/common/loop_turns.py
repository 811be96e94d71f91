"""Letting a gRPC call just started leave before the current task does more work."""

from __future__ import annotations

import asyncio


async def let_call_leave() -> None:
    """Two loop turns: one for a task just started to create its gRPC call, one for grpc.aio's
    own task that sends it. Work done after this no longer delays the call's request."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)
