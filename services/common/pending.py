"""RPCs whose issue has not landed answer UNIMPLEMENTED, naming the issue, never a fake success."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio


def not_built_yet(rpc: str, issue: str) -> Any:
    """A handler that aborts with UNIMPLEMENTED and says which issue will build ``rpc``.

    Typed ``Any`` because it stands in for RPCs of every request and response type.
    """

    async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, f"{rpc} is not built yet; it lands with {issue}"
        )

    handler.__name__ = rpc
    return handler
