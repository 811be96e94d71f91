"""What the Spot and Embed clients share: each owns one pooled HTTP client and closes it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class PooledHttpClient(ABC):
    """An API client over one pooled HTTP client; ``async with`` closes it (``aclose``)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None:
        """Close the pooled connections."""
