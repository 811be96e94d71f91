"""Orders and fills of the paper account, as the matching engine keeps them."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from decimal import Decimal

from services.paper.catalog import Pair

ORDER_TYPES = frozenset(
    {"market", "limit", "stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit"}
)
TRIGGERED_TYPES = frozenset({"stop-loss", "take-profit", "stop-loss-limit", "take-profit-limit"})
PRICED_TYPES = ORDER_TYPES - {"market"}
LIMIT_AFTER_TRIGGER = frozenset({"stop-loss-limit", "take-profit-limit"})

_ID_ALPHABET = string.ascii_uppercase + string.digits


def kraken_id(prefix: str) -> str:
    """An id in Kraken's shape, ``OU22CG-KLAF2-FWUDD7`` for orders, ``T…`` for trades."""

    def chunk(size: int) -> str:
        return "".join(secrets.choice(_ID_ALPHABET) for _ in range(size))

    return f"{prefix}{chunk(5)}-{chunk(5)}-{chunk(6)}"


@dataclass(frozen=True)
class OrderRequest:
    """A checked AddOrder: every field parsed, nothing yet known about funds or the book."""

    pair: Pair
    side: str
    ordertype: str
    volume: Decimal
    price: Decimal | None
    price2: Decimal | None
    oflags: frozenset[str]
    timeinforce: str
    expiretm: Decimal
    userref: int | None
    cl_ord_id: str | None

    @property
    def fee_in_base(self) -> bool:
        """Kraken's default: fee in quote when buying, in base when selling (``fcib``, ``fciq``)."""
        return "fcib" in self.oflags or (self.side == "sell" and "fciq" not in self.oflags)

    @property
    def hold_price(self) -> Decimal | None:
        """The price funds are reserved at while the order waits: its limit, else its trigger."""
        return self.price2 if self.ordertype in LIMIT_AFTER_TRIGGER else self.price


@dataclass
class Trade:
    """One fill of a paper order, as TradesHistory reports it."""

    txid: str
    ordertxid: str
    postxid: str
    pair: Pair
    time: Decimal
    side: str
    ordertype: str
    price: Decimal
    cost: Decimal
    fee: Decimal
    volume: Decimal
    maker: bool
    trade_id: int


@dataclass
class Order:
    """A paper order through its life: ``open`` (resting or waiting for its trigger), then
    ``closed``, ``canceled`` or ``expired``."""

    txid: str
    request: OrderRequest
    opentm: Decimal
    status: str = "open"
    vol_exec: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    triggered: bool = False
    held: Decimal = Decimal(0)
    closetm: Decimal | None = None
    reason: str | None = None
    trades: list[Trade] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.request.volume - self.vol_exec

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def average_price(self) -> Decimal:
        return self.cost / self.vol_exec if self.vol_exec else Decimal(0)

    @property
    def waits_for_trigger(self) -> bool:
        return self.request.ordertype in TRIGGERED_TYPES and not self.triggered

    @property
    def limit_price(self) -> Decimal | None:
        """The price it rests at once live: its own for ``limit``, ``price2`` after a trigger."""
        if self.request.ordertype == "limit":
            return self.request.price
        if self.request.ordertype in LIMIT_AFTER_TRIGGER and self.triggered:
            return self.request.price2
        return None
