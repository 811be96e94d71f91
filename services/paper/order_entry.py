"""AddOrder's parameters checked against the pair's rules, and Kraken's ``descr.order`` text."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from services.paper import errors
from services.paper.catalog import Pair
from services.paper.errors import KrakenError, invalid_argument
from services.paper.orders import LIMIT_AFTER_TRIGGER, ORDER_TYPES, PRICED_TYPES, OrderRequest
from services.paper.params import Params
from services.paper.wire import fixed

_OFLAGS = frozenset({"post", "fcib", "fciq", "nompp"})
_TIME_IN_FORCE = frozenset({"GTC", "IOC", "GTD"})
_CL_ORD_ID = re.compile(
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{32}|[\x20-\x7e]{1,18})$"
)
_INT32 = range(-(2**31), 2**31)


def _price(params: Params, name: str, pair: Pair) -> Decimal:
    text = params.required(name)
    if text[0] in "+-#" or text.endswith("%"):
        raise invalid_argument(name)  # relative prices are not simulated
    price = params.decimal(name)
    if price is None or price <= 0:
        raise invalid_argument(name)
    if price % pair.tick_size:
        raise KrakenError(errors.TICK_SIZE)
    return price


def _expiry(params: Params, now: Decimal) -> Decimal:
    text = params.text("expiretm")
    if text is None or text == "0":
        return Decimal(0)
    relative = text.startswith("+")
    value = params.decimal("expiretm")
    if value is None or value < 0 or (relative and value < 5):
        raise invalid_argument("expiretm")
    expiry = now + value if relative else value
    if expiry <= now:
        raise invalid_argument("expiretm")
    return expiry


def _check_deadline(params: Params, now: Decimal) -> None:
    text = params.text("deadline")
    if text is None:
        return
    try:
        deadline = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_argument("deadline") from exc
    if deadline.tzinfo is None:
        raise invalid_argument("deadline")
    if Decimal(str(deadline.timestamp())) <= now:
        raise KrakenError(errors.DEADLINE_ELAPSED)


def parse_order(params: Params, pair: Pair, now: Decimal) -> OrderRequest:
    """The order AddOrder describes, or the Kraken error for its first bad parameter."""
    side = params.required("type")
    if side not in ("buy", "sell"):
        raise invalid_argument("type")
    ordertype = params.required("ordertype")
    if ordertype not in ORDER_TYPES:
        raise invalid_argument("ordertype")
    volume = params.decimal("volume")
    if volume is None or volume <= 0 or volume != round(volume, pair.lot_decimals):
        raise invalid_argument("volume")
    if volume < pair.ordermin:
        raise KrakenError(errors.ORDER_MINIMUM)
    price = _price(params, "price", pair) if ordertype in PRICED_TYPES else None
    price2 = _price(params, "price2", pair) if ordertype in LIMIT_AFTER_TRIGGER else None
    oflags = frozenset(params.names("oflags"))
    if not oflags <= _OFLAGS or {"fcib", "fciq"} <= oflags:
        raise invalid_argument("oflags")
    if "post" in oflags and ordertype != "limit":
        raise invalid_argument("oflags")
    timeinforce = (params.text("timeinforce") or "GTC").upper()
    expiretm = _expiry(params, now)
    if timeinforce not in _TIME_IN_FORCE or (timeinforce == "GTD") != bool(expiretm):
        raise invalid_argument("timeinforce")
    if (params.text("starttm") or "0") not in ("0", "+0"):
        raise invalid_argument("starttm")
    if (params.text("leverage") or "none") != "none":
        raise invalid_argument("leverage")
    if params.text("close[ordertype]") is not None:
        raise invalid_argument("close[ordertype]")
    userref = params.integer("userref")
    cl_ord_id = params.text("cl_ord_id")
    if userref is not None and userref not in _INT32:
        raise invalid_argument("userref")
    if cl_ord_id is not None and (userref is not None or not _CL_ORD_ID.match(cl_ord_id)):
        raise invalid_argument("cl_ord_id")
    _check_deadline(params, now)
    return OrderRequest(
        pair=pair,
        side=side,
        ordertype=ordertype,
        volume=volume,
        price=price,
        price2=price2,
        oflags=oflags,
        timeinforce=timeinforce,
        expiretm=expiretm,
        userref=userref,
        cl_ord_id=cl_ord_id,
    )


def describe(request: OrderRequest) -> str:
    """Kraken's one-line ``descr.order``, e.g. ``buy 1.25000000 XBTUSD @ limit 30010.0``."""
    pair = request.pair
    head = f"{request.side} {fixed(request.volume, pair.lot_decimals)} {pair.altname} @ "
    if request.price is None:
        return head + "market"
    price = fixed(request.price, pair.pair_decimals)
    kind = {
        "limit": "limit",
        "stop-loss": "stop loss",
        "take-profit": "take profit",
        "stop-loss-limit": "stop loss",
        "take-profit-limit": "take profit",
    }[request.ordertype]
    if request.price2 is None:
        return f"{head}{kind} {price}"
    return f"{head}{kind} {price} -> limit {fixed(request.price2, pair.pair_decimals)}"
