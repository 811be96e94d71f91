"""PlaceOrderRequest checked against the pair's rules; the first broken rule names its field.

What passes is a ``ValidatedOrder``: Decimals, the canonical pair, the lower-case client order id,
and the fingerprint that decides whether a repeated PlaceOrder is the same order.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from services.execution.kraken.orders import OrderRequest, OrderType, Side, TimeInForce
from services.execution.orders.pairs import PairCatalog, PairRules
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2

_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:@-]+$")

MAX_DECIMAL_LENGTH = 40
MAX_PAIR_LENGTH = 32
MAX_NAME_LENGTH = 64
MAX_ID_LENGTH = 128
GTD_MIN_SECONDS = 5
GTD_MAX_SECONDS = 31 * 86400

_LIMIT_TYPES = {
    common_pb2.ORDER_TYPE_LIMIT,
    common_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
    common_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT,
}
_STOP_TYPES = {
    common_pb2.ORDER_TYPE_STOP_LOSS,
    common_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
    common_pb2.ORDER_TYPE_TAKE_PROFIT,
    common_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT,
}
KRAKEN_ORDER_TYPES: dict[int, OrderType] = {
    common_pb2.ORDER_TYPE_MARKET: OrderType.MARKET,
    common_pb2.ORDER_TYPE_LIMIT: OrderType.LIMIT,
    common_pb2.ORDER_TYPE_STOP_LOSS: OrderType.STOP_LOSS,
    common_pb2.ORDER_TYPE_STOP_LOSS_LIMIT: OrderType.STOP_LOSS_LIMIT,
    common_pb2.ORDER_TYPE_TAKE_PROFIT: OrderType.TAKE_PROFIT,
    common_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT: OrderType.TAKE_PROFIT_LIMIT,
}
_SIDES: dict[int, Side] = {common_pb2.SIDE_BUY: Side.BUY, common_pb2.SIDE_SELL: Side.SELL}


class OrderInputError(Exception):
    """A request field breaks a rule; answered as INVALID_ARGUMENT naming ``field``."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def client_order_id(text: str, field: str = "client_order_id") -> str:
    """The canonical lower-case UUID, or OrderInputError naming ``field``."""
    if not text:
        raise OrderInputError(field, "is required")
    if len(text) != 36 or not _UUID.match(text):
        raise OrderInputError(field, "must be a UUID in its 36-character form")
    return str(uuid.UUID(text))


def decimal_field(text: str, field: str) -> Decimal:
    """A plain decimal string (no exponent, no sign but '-') as a Decimal."""
    if len(text) > MAX_DECIMAL_LENGTH:
        raise OrderInputError(field, f"is longer than {MAX_DECIMAL_LENGTH} characters")
    if not _DECIMAL.match(text):
        raise OrderInputError(field, f"{text[:MAX_DECIMAL_LENGTH]!r} is not a decimal number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
        raise OrderInputError(field, "is not a decimal number") from exc


def decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def text(value: Decimal | None) -> str:
    """A Decimal as the wire's decimal string, without insignificant trailing zeros."""
    if value is None:
        return ""
    normalized = value.normalize()
    return format(normalized if normalized != 0 else Decimal(0), "f")


@dataclass(frozen=True)
class ValidatedOrder:
    """A PlaceOrderRequest that passed every rule."""

    client_order_id: str
    rules: PairRules
    side: int
    order_type: int
    volume: Decimal
    limit_price: Decimal | None
    stop_price: Decimal | None
    time_in_force: int
    expire_time: int | None
    post_only: bool
    reduce_only: bool
    validate: bool
    team: str
    binding_id: str
    signal_id: str

    @property
    def pair(self) -> str:
        return self.rules.symbol

    def fingerprint(self) -> str:
        """What makes two PlaceOrder calls the same order (the id aside)."""
        fields = [
            self.pair,
            self.side,
            self.order_type,
            text(self.volume),
            text(self.limit_price),
            text(self.stop_price),
            self.time_in_force,
            self.expire_time,
            self.post_only,
            self.reduce_only,
            self.team,
            self.binding_id,
            self.signal_id,
        ]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def kraken_request(self) -> OrderRequest:
        kraken_type = KRAKEN_ORDER_TYPES[self.order_type]
        price: Decimal | None
        price2: Decimal | None = None
        if self.order_type in _STOP_TYPES:
            price = self.stop_price
            price2 = self.limit_price
        else:
            price = self.limit_price
        tif_of: dict[int, TimeInForce] = {
            common_pb2.TIME_IN_FORCE_IOC: TimeInForce.IOC,
            common_pb2.TIME_IN_FORCE_GTD: TimeInForce.GTD,
        }
        tif = tif_of.get(self.time_in_force)
        return OrderRequest(
            pair=self.rules.kraken_id,
            side=_SIDES[self.side],
            ordertype=kraken_type,
            volume=self.volume,
            price=price,
            price2=price2,
            cl_ord_id=self.client_order_id,
            oflags=("post",) if self.post_only else (),
            timeinforce=tif,
            expiretm=str(self.expire_time) if self.expire_time is not None else None,
            trigger="last" if self.order_type in _STOP_TYPES else None,
            reduce_only=True if self.reduce_only else None,
            validate=self.validate,
        )


def _price(text_value: str, field: str, rules: PairRules) -> Decimal:
    value = decimal_field(text_value, field)
    if value <= 0:
        raise OrderInputError(field, "must be greater than 0")
    if decimals_of(value) > rules.price_decimals:
        raise OrderInputError(
            field, f"has more than the {rules.price_decimals} decimals {rules.symbol} allows"
        )
    if rules.tick_size > 0 and value % rules.tick_size != 0:
        raise OrderInputError(field, f"must be a multiple of the tick size {text(rules.tick_size)}")
    return value


def _optional_name(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise OrderInputError(field, f"is longer than {limit} characters")
    if value and not _NAME.match(value):
        raise OrderInputError(field, "may hold only letters, digits and _ . : @ -")
    return value


async def validate_order(
    request: execution_pb2.PlaceOrderRequest,
    catalog: PairCatalog,
    *,
    team: str,
    now: float | None = None,
) -> ValidatedOrder:
    """Every rule of PlaceOrder that needs no state but the pair rules; raises OrderInputError."""
    order_id = client_order_id(request.client_order_id)
    if not request.pair:
        raise OrderInputError("pair", "is required")
    if len(request.pair) > MAX_PAIR_LENGTH:
        raise OrderInputError("pair", f"is longer than {MAX_PAIR_LENGTH} characters")
    rules = await catalog.resolve(request.pair)
    if rules is None:
        raise OrderInputError("pair", f"{request.pair!r} is not a Kraken pair")
    if request.side not in _SIDES:
        raise OrderInputError("side", "is required (SIDE_BUY or SIDE_SELL)")
    if request.order_type not in KRAKEN_ORDER_TYPES:
        raise OrderInputError("order_type", "is required")
    if not request.volume:
        raise OrderInputError("volume", "is required")
    volume = decimal_field(request.volume, "volume")
    if volume <= 0:
        raise OrderInputError("volume", "must be greater than 0")
    if decimals_of(volume) > rules.volume_decimals:
        raise OrderInputError(
            "volume", f"has more than the {rules.volume_decimals} decimals {rules.symbol} allows"
        )
    if volume < rules.order_min:
        raise OrderInputError(
            "volume", f"is below the minimum order of {text(rules.order_min)} {rules.base}"
        )
    limit_price = stop_price = None
    if request.order_type in _LIMIT_TYPES:
        if not request.limit_price:
            raise OrderInputError("limit_price", "is required for this order type")
        limit_price = _price(request.limit_price, "limit_price", rules)
    elif request.limit_price:
        raise OrderInputError("limit_price", "must be empty for this order type")
    if request.order_type in _STOP_TYPES:
        if not request.stop_price:
            raise OrderInputError("stop_price", "is required for this order type")
        stop_price = _price(request.stop_price, "stop_price", rules)
    elif request.stop_price:
        raise OrderInputError("stop_price", "must be empty for this order type")
    priced_at = limit_price or stop_price
    if priced_at is not None and volume * priced_at < rules.cost_min:
        raise OrderInputError(
            "volume",
            f"costs {text(volume * priced_at)} {rules.quote}, below the minimum cost "
            f"{text(rules.cost_min)}",
        )
    expire_time: int | None = None
    tif = request.time_in_force
    if tif == common_pb2.TIME_IN_FORCE_GTD:
        if not request.HasField("expire_time"):
            raise OrderInputError("expire_time", "is required with TIME_IN_FORCE_GTD")
        ahead = request.expire_time.seconds - (time.time() if now is None else now)
        if not GTD_MIN_SECONDS <= ahead <= GTD_MAX_SECONDS:
            raise OrderInputError("expire_time", "must be 5 s to one month in the future")
        expire_time = request.expire_time.seconds
    elif request.HasField("expire_time"):
        raise OrderInputError("expire_time", "is only allowed with TIME_IN_FORCE_GTD")
    if request.post_only:
        if request.order_type != common_pb2.ORDER_TYPE_LIMIT:
            raise OrderInputError("post_only", "is for LIMIT orders only")
        if tif == common_pb2.TIME_IN_FORCE_IOC:
            raise OrderInputError("post_only", "cannot be combined with TIME_IN_FORCE_IOC")
    return ValidatedOrder(
        client_order_id=order_id,
        rules=rules,
        side=request.side,
        order_type=request.order_type,
        volume=volume,
        limit_price=limit_price,
        stop_price=stop_price,
        time_in_force=tif or common_pb2.TIME_IN_FORCE_GTC,
        expire_time=expire_time,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
        validate=request.validate,
        team=team,
        binding_id=_optional_name(request.binding_id, "binding_id", MAX_ID_LENGTH),
        signal_id=_optional_name(request.signal_id, "signal_id", MAX_ID_LENGTH),
    )


def owner_team(request: execution_pb2.PlaceOrderRequest, subject: str, is_service: bool) -> str:
    """The team that owns the order: the caller, or ``on_behalf_of`` for the platform's services.

    Raises PermissionError when a non-service caller sets ``on_behalf_of`` or the binding fields.
    """
    if not is_service:
        if request.on_behalf_of or request.binding_id or request.signal_id:
            raise PermissionError(
                "on_behalf_of, binding_id and signal_id are for the platform's services only"
            )
        return subject
    if request.on_behalf_of:
        return _optional_name(request.on_behalf_of, "on_behalf_of", MAX_NAME_LENGTH)
    return subject
