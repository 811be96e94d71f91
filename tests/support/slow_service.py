"""A service on the real runtime with one slow RPC, to test graceful shutdown.

``/test.Slow/Sleep`` sleeps for the number of seconds in its request body (ASCII), then answers
``done``. Run as ``python -m tests.support.slow_service`` with the usual service environment.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import grpc.aio

from services.common.access import TRADERS, AccessTable
from services.common.config import ServiceSettings, load_settings
from services.common.server import ServiceDefinition, run_service

ACCESS = AccessTable("test.Slow", {"Sleep": frozenset({TRADERS})})


class SlowSettings(ServiceSettings):
    metrics_port: int = 0


async def sleep(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    await asyncio.sleep(float(request.decode()))
    return b"done"


def register(server: grpc.aio.Server) -> None:
    handler = grpc.unary_unary_rpc_method_handler(sleep)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("test.Slow", {"Sleep": handler}),)
    )


if __name__ == "__main__":
    run_service(ServiceDefinition("slow", [], ACCESS, register), load_settings(SlowSettings))
