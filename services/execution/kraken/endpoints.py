"""The Spot REST endpoints the adapter calls: path, which limiter counts them, whether repeatable.

REST costs follow kraken.md §3.1: history and ledger calls cost 2, AddOrder and CancelOrder are
counted by the trading engine instead. CancelAll and CancelAllOrdersAfter are not named as excluded,
so they are charged to the REST counter (§3.1 lists that as not confirmed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Limiter(enum.Enum):
    NONE = "none"
    REST = "rest"
    TRADING = "trading"


@dataclass(frozen=True)
class Endpoint:
    name: str
    private: bool
    limiter: Limiter = Limiter.REST
    rest_cost: int = 1
    idempotent: bool = True
    """Repeating the call has no further effect, so an unknown outcome may simply be retried."""

    @property
    def path(self) -> str:
        return f"/0/{'private' if self.private else 'public'}/{self.name}"


def _public(name: str) -> Endpoint:
    return Endpoint(name, private=False, limiter=Limiter.NONE, rest_cost=0)


TIME = _public("Time")
SYSTEM_STATUS = _public("SystemStatus")
ASSETS = _public("Assets")
ASSET_PAIRS = _public("AssetPairs")
TICKER = _public("Ticker")
DEPTH = _public("Depth")
OHLC = _public("OHLC")

BALANCE = Endpoint("Balance", private=True)
BALANCE_EX = Endpoint("BalanceEx", private=True)
TRADE_BALANCE = Endpoint("TradeBalance", private=True)
OPEN_ORDERS = Endpoint("OpenOrders", private=True)
CLOSED_ORDERS = Endpoint("ClosedOrders", private=True)
QUERY_ORDERS = Endpoint("QueryOrders", private=True)
TRADES_HISTORY = Endpoint("TradesHistory", private=True, rest_cost=2)
ADD_ORDER = Endpoint("AddOrder", private=True, limiter=Limiter.TRADING, idempotent=False)
CANCEL_ORDER = Endpoint("CancelOrder", private=True, limiter=Limiter.TRADING)
CANCEL_ALL = Endpoint("CancelAll", private=True)
CANCEL_ALL_ORDERS_AFTER = Endpoint("CancelAllOrdersAfter", private=True)
