"""The paper account's ledger: balances and the part held for open orders (``hold_trade``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

from services.paper.catalog import ASSETS, Asset


class Ledger:
    """Balances per asset id; ``available = balance - hold_trade`` (kraken.md §4.2, BalanceEx)."""

    def __init__(self, starting: Mapping[str, Decimal]) -> None:
        self._decimals = {asset.id: asset.decimals for asset in ASSETS}
        self.balances: dict[str, Decimal] = {asset_id: Decimal(0) for asset_id in self._decimals}
        self.holds: dict[str, Decimal] = {asset_id: Decimal(0) for asset_id in self._decimals}
        for asset_id, amount in starting.items():
            self.balances[asset_id] = self._round(asset_id, amount)

    def _round(self, asset_id: str, amount: Decimal) -> Decimal:
        return amount.quantize(Decimal(1).scaleb(-self._decimals[asset_id]), ROUND_HALF_UP)

    def available(self, asset: Asset) -> Decimal:
        return self.balances[asset.id] - self.holds[asset.id]

    def hold(self, asset: Asset, amount: Decimal) -> None:
        self.holds[asset.id] += amount

    def release(self, asset: Asset, amount: Decimal) -> None:
        self.holds[asset.id] = max(Decimal(0), self.holds[asset.id] - amount)

    def move(self, asset: Asset, amount: Decimal) -> Decimal:
        """Credit (negative: debit) ``amount`` rounded to the asset's decimals; returns that."""
        rounded = self._round(asset.id, amount)
        self.balances[asset.id] += rounded
        return rounded
