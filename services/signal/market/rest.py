"""Kraken's public REST, for what the WebSocket does not give: pair precision and past candles.

Public endpoints are throttled per IP (about one call a second, kraken.md §3.2), so calls start
at least ``min_interval`` apart.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from services.signal.market.errors import KrakenPublicError
from services.signal.market.model import Candle, PairInfo


class KrakenPublicRest:
    """``AssetPairs`` and ``OHLC`` of one base URL, rate-limited."""

    def __init__(
        self,
        base_url: str,
        *,
        min_interval: float,
        timeout: float,
        user_agent: str = "trading-platform-signal/0.1",
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers={"User-Agent": user_agent}
        )
        self._min_interval = min_interval
        self._lock = asyncio.Lock()
        self._last_start = -float("inf")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def pair_info(self, symbol: str) -> PairInfo:
        """The price and quantity decimals of ``symbol`` (``BTC/USD``)."""
        result = await self._get("AssetPairs", {"pair": symbol})
        try:
            (entry,) = result.values()
            return PairInfo(symbol, int(entry["pair_decimals"]), int(entry["lot_decimals"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KrakenPublicError(f"AssetPairs {symbol}: unexpected result") from exc

    async def ohlc(self, symbol: str, interval_minutes: int, count: int) -> list[Candle]:
        """The last ``count`` committed candles, oldest first (the forming one is left out)."""
        result = await self._get("OHLC", {"pair": symbol, "interval": interval_minutes})
        try:
            (rows,) = [rows for name, rows in result.items() if name != "last"]
            committed = rows[:-1][-count:] if count else []
            return [_candle(symbol, interval_minutes, row) for row in committed]
        except (ValueError, KeyError, TypeError, IndexError, InvalidOperation) as exc:
            raise KrakenPublicError(f"OHLC {symbol}: unexpected result") from exc

    async def _get(self, endpoint: str, params: dict[str, str | int]) -> Any:
        async with self._lock:
            wait = self._last_start + self._min_interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_start = time.monotonic()
        try:
            response = await self._http.get(f"/0/public/{endpoint}", params=params)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise KrakenPublicError(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(body, dict) or body.get("error"):
            errors = body.get("error") if isinstance(body, dict) else body
            raise KrakenPublicError(f"{endpoint}: {errors}")
        result = body.get("result")
        if not isinstance(result, dict):
            raise KrakenPublicError(f"{endpoint}: no result")
        return result


def _candle(symbol: str, interval_minutes: int, row: list[Any]) -> Candle:
    start, open_, high, low, close, vwap, volume, count = row
    return Candle(
        pair=symbol,
        interval_minutes=interval_minutes,
        open_time=datetime.fromtimestamp(int(start), UTC),
        open=Decimal(open_),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=Decimal(volume),
        vwap=Decimal(vwap),
        trades=int(count),
        closed=True,
    )
