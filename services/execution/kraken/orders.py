"""An AddOrder request, checked for Kraken's structural rules and turned into body parameters.

Pair rules (ordermin, tick size, decimals) are checked earlier, against AssetPairs, by execution;
this only keeps a request Kraken would reject for its shape from ever being signed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

Param = str | int | bool | Decimal


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    ICEBERG = "iceberg"
    STOP_LOSS = "stop-loss"
    TAKE_PROFIT = "take-profit"
    STOP_LOSS_LIMIT = "stop-loss-limit"
    TAKE_PROFIT_LIMIT = "take-profit-limit"
    TRAILING_STOP = "trailing-stop"
    TRAILING_STOP_LIMIT = "trailing-stop-limit"
    SETTLE_POSITION = "settle-position"


class TimeInForce(enum.StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    GTD = "GTD"
    FOK = "FOK"


OFLAGS = frozenset({"post", "fcib", "fciq", "nompp", "viqc"})
_NEEDS_PRICE = {t for t in OrderType if t not in (OrderType.MARKET, OrderType.SETTLE_POSITION)}
_NEEDS_PRICE2 = {
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT,
    OrderType.TRAILING_STOP_LIMIT,
}

Price = Decimal | str
"""A Decimal, or a string for Kraken's relative prices (``+5``, ``-2%``, ``#10``)."""


@dataclass(frozen=True)
class OrderRequest:
    """The fields of AddOrder (kraken.md §4.3) the platform uses."""

    pair: str
    side: Side
    ordertype: OrderType
    volume: Decimal
    price: Price | None = None
    price2: Price | None = None
    cl_ord_id: str | None = None
    userref: int | None = None
    oflags: Sequence[str] = field(default_factory=tuple)
    timeinforce: TimeInForce | None = None
    starttm: str | None = None
    expiretm: str | None = None
    trigger: str | None = None
    displayvol: Decimal | None = None
    reduce_only: bool | None = None
    stptype: str | None = None
    deadline: str | None = None
    close_ordertype: OrderType | None = None
    close_price: Price | None = None
    close_price2: Price | None = None
    validate: bool = False

    def __post_init__(self) -> None:
        if not self.volume.is_finite() or self.volume <= 0:
            raise ValueError("volume must be a positive number")
        if self.ordertype in _NEEDS_PRICE and self.price is None:
            raise ValueError(f"price is required for ordertype {self.ordertype}")
        if self.ordertype in _NEEDS_PRICE2 and self.price2 is None:
            raise ValueError(f"price2 is required for ordertype {self.ordertype}")
        if self.cl_ord_id is not None and self.userref is not None:
            raise ValueError("cl_ord_id and userref are mutually exclusive")
        unknown = set(self.oflags) - OFLAGS
        if unknown:
            raise ValueError(f"oflags has unknown flags: {', '.join(sorted(unknown))}")
        if self.timeinforce is TimeInForce.GTD and not self.expiretm:
            raise ValueError("expiretm is required with timeinforce GTD")
        if self.displayvol is not None and self.ordertype is not OrderType.ICEBERG:
            raise ValueError("displayvol is for iceberg orders only")
        if (self.close_price is not None or self.close_price2 is not None) and (
            self.close_ordertype is None
        ):
            raise ValueError("close_ordertype is required with close_price or close_price2")

    def params(self) -> dict[str, Param]:
        """Body parameters, without the nonce, in a fixed order."""
        candidates: list[tuple[str, Param | None]] = [
            ("pair", self.pair),
            ("type", self.side.value),
            ("ordertype", self.ordertype.value),
            ("volume", self.volume),
            ("price", self.price),
            ("price2", self.price2),
            ("displayvol", self.displayvol),
            ("trigger", self.trigger),
            ("reduce_only", self.reduce_only),
            ("stptype", self.stptype),
            ("oflags", ",".join(self.oflags) if self.oflags else None),
            ("timeinforce", self.timeinforce.value if self.timeinforce else None),
            ("starttm", self.starttm),
            ("expiretm", self.expiretm),
            ("close[ordertype]", self.close_ordertype.value if self.close_ordertype else None),
            ("close[price]", self.close_price),
            ("close[price2]", self.close_price2),
            ("deadline", self.deadline),
            ("cl_ord_id", self.cl_ord_id),
            ("userref", self.userref),
            ("validate", True if self.validate else None),
        ]
        return {name: value for name, value in candidates if value is not None}
