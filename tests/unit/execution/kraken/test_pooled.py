"""The Spot and Embed clients close their pooled httpx client when their ``async with`` ends."""

from __future__ import annotations

import asyncio

import httpx

from services.execution.kraken.pooled import PooledHttpClient


class _Client(PooledHttpClient):
    def __init__(self) -> None:
        self._http = httpx.AsyncClient()


def test_leaving_async_with_closes_the_pool_and_returns_the_client_itself() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        client = _Client()
        async with client as entered:
            open_inside = not client._http.is_closed
        return entered is client, open_inside, client._http.is_closed

    assert asyncio.run(scenario()) == (True, True, True)
