"""What the Spot and Embed clients share: each owns one pooled httpx client and closes it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx


class PooledHttpClient:
    """An API client over one pooled ``httpx.AsyncClient`` (``_http``); ``async with`` closes it."""

    _http: httpx.AsyncClient

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
