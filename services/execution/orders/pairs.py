"""The trading rules of each Kraken pair, read from AssetPairs, cached and refreshed periodically.

Kraken names one pair three ways (``XXBTZUSD`` id, ``XBTUSD`` altname, ``XBT/USD`` wsname); the
platform answers in the ``BTC/USD`` form. ``PairCatalog.resolve`` accepts any of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.execution.kraken.client import KrakenSpotClient
from trading.common.v1 import common_pb2

logger = logging.getLogger(__name__)

# Kraken's legacy asset codes and the ISO-style codes of the platform.
_ASSET_RENAMES = {"XBT": "BTC", "XDG": "DOGE"}


def normalize_asset(code: str) -> str:
    """``XXBT``, ``XBT`` → ``BTC``; ``ZUSD`` → ``USD``; suffixes such as ``.S`` are kept."""
    name, dot, suffix = code.upper().partition(".")
    if len(name) == 4 and name[0] in "XZ" and name not in {"ZEUS"}:
        name = name[1:]
    name = _ASSET_RENAMES.get(name, name)
    return f"{name}{dot}{suffix}"


@dataclass(frozen=True)
class PairRules:
    """One pair's rules as PlaceOrder validates them."""

    symbol: str
    kraken_id: str
    altname: str
    base: str
    quote: str
    price_decimals: int
    volume_decimals: int
    cost_decimals: int
    order_min: Decimal
    cost_min: Decimal
    tick_size: Decimal
    status: str

    @classmethod
    def from_asset_pair(cls, kraken_id: str, record: Mapping[str, Any]) -> PairRules:
        base = normalize_asset(str(record["base"]))
        quote = normalize_asset(str(record["quote"]))
        price_decimals = int(record["pair_decimals"])
        tick = record.get("tick_size")
        return cls(
            symbol=f"{base}/{quote}",
            kraken_id=kraken_id,
            altname=str(record.get("altname", kraken_id)),
            base=base,
            quote=quote,
            price_decimals=price_decimals,
            volume_decimals=int(record["lot_decimals"]),
            cost_decimals=int(record.get("cost_decimals", price_decimals)),
            order_min=Decimal(str(record.get("ordermin", "0"))),
            cost_min=Decimal(str(record.get("costmin", "0"))),
            tick_size=Decimal(str(tick))
            if tick is not None
            else Decimal(1).scaleb(-price_decimals),
            status=str(record.get("status", "online")),
        )

    def to_proto(self) -> common_pb2.Pair:
        return common_pb2.Pair(
            pair=self.symbol,
            kraken_id=self.kraken_id,
            altname=self.altname,
            base=self.base,
            quote=self.quote,
            price_decimals=self.price_decimals,
            volume_decimals=self.volume_decimals,
            cost_decimals=self.cost_decimals,
            order_min=format(self.order_min, "f"),
            cost_min=format(self.cost_min, "f"),
            tick_size=format(self.tick_size, "f"),
            status=self.status,
        )


class PairCatalog:
    """AssetPairs, fetched on first use and again once older than ``max_age`` seconds.

    A refresh that fails keeps the rules already known; with none known the error goes to the
    caller (``UNAVAILABLE``: nothing can be validated, so nothing is sent).
    """

    def __init__(self, kraken: KrakenSpotClient, max_age: float) -> None:
        self._kraken = kraken
        self._max_age = max_age
        self._by_name: dict[str, PairRules] = {}
        self._pairs: tuple[PairRules, ...] = ()
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def pairs(self) -> tuple[PairRules, ...]:
        await self._fresh()
        return self._pairs

    async def resolve(self, name: str) -> PairRules | None:
        """The pair named ``BTC/USD``, ``XBTUSD``, ``XBT/USD`` or ``XXBTZUSD``; None if unknown."""
        await self._fresh()
        return self._by_name.get(name.strip().upper())

    async def _fresh(self) -> None:
        if self._pairs and time.monotonic() - self._loaded_at < self._max_age:
            return
        async with self._lock:
            if self._pairs and time.monotonic() - self._loaded_at < self._max_age:
                return
            try:
                await self.refresh()
            except Exception:
                if not self._pairs:
                    raise
                logger.warning("AssetPairs refresh failed; keeping the rules known", exc_info=True)
                self._loaded_at = time.monotonic()

    async def refresh(self) -> None:
        result = await self._kraken.asset_pairs()
        by_name: dict[str, PairRules] = {}
        pairs = []
        for kraken_id, record in result.items():
            if kraken_id.endswith(".d"):
                continue  # dark-pool twins share the rules of the lit pair
            rules = PairRules.from_asset_pair(kraken_id, record)
            pairs.append(rules)
            names = {rules.symbol, kraken_id, rules.altname, str(record.get("wsname", ""))}
            for alias in filter(None, names):
                by_name.setdefault(alias.upper(), rules)
        self._by_name = by_name
        self._pairs = tuple(sorted(pairs, key=lambda p: p.symbol))
        self._loaded_at = time.monotonic()
        logger.info("pair rules loaded", extra={"pairs": len(pairs)})
