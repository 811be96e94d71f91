"""The Spot and Embed clients close their pooled HTTP client when their ``async with`` ends."""

from __future__ import annotations

import asyncio

from services.execution.kraken.pooled import PooledHttpClient


class _Client(PooledHttpClient):
    def __init__(self) -> None:
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


def test_leaving_async_with_closes_the_pool_and_returns_the_client_itself() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        client = _Client()
        async with client as entered:
            open_inside = not client.closed
        return entered is client, open_inside, client.closed

    assert asyncio.run(scenario()) == (True, True, True)


def test_leaving_async_with_by_an_error_closes_the_pool_too() -> None:
    async def scenario() -> bool:
        client = _Client()
        try:
            async with client:
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        return client.closed

    assert asyncio.run(scenario())
