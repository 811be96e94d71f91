"""Checks of CreateBindingRequest; the first broken field is named (``sizing.fixed_volume.volume``).

`parse_spec` reads the fields CreateBindingRequest and the stored Binding share, so a stored
binding is read back through the same checks as the request that created it.
"""

from __future__ import annotations

from decimal import Decimal

from services.signal.bindings.model import BindingSpec, Sizing, SizingKind
from services.signal.signals import fields
from services.signal.signals.errors import InvalidArgument
from services.signal.signals.validation import source_name
from trading.common.v1 import common_pb2
from trading.signal.v1 import signal_pb2

MAX_OFFSET_BPS = 10_000
MAX_ID_LENGTH = 64
_ORDER_TYPES = (common_pb2.ORDER_TYPE_MARKET, common_pb2.ORDER_TYPE_LIMIT)
_TIMES_IN_FORCE = (
    common_pb2.TIME_IN_FORCE_UNSPECIFIED,
    common_pb2.TIME_IN_FORCE_GTC,
    common_pb2.TIME_IN_FORCE_IOC,
)

Message = signal_pb2.CreateBindingRequest | signal_pb2.Binding


def parse_spec(message: Message, *, binding_id: str, team: str, create_ms: int) -> BindingSpec:
    """The binding a request (or a stored binding) describes, owned by ``team``."""
    trigger = message.WhichOneof("trigger")
    rule_id = signal_source = ""
    if trigger == "rule_id":
        rule_id = identifier(message.rule_id, "rule_id")
    elif trigger == "signal_source":
        signal_source = source_name(message.signal_source, "signal_source")
    else:
        raise InvalidArgument("trigger", "is required: rule_id or signal_source")
    if message.side_filter not in (common_pb2.SIDE_UNSPECIFIED, *fields.SIDE_NAMES):
        raise InvalidArgument("side_filter", f"unknown side {message.side_filter}")
    order_type = message.order_type
    if order_type not in _ORDER_TYPES:
        raise InvalidArgument("order_type", "is required: ORDER_TYPE_MARKET or ORDER_TYPE_LIMIT")
    offset = message.limit_offset_bps
    if order_type == common_pb2.ORDER_TYPE_MARKET and offset:
        raise InvalidArgument("limit_offset_bps", "must be 0 for ORDER_TYPE_MARKET")
    if offset > MAX_OFFSET_BPS:
        raise InvalidArgument("limit_offset_bps", f"must be from 0 to {MAX_OFFSET_BPS}")
    time_in_force = message.time_in_force
    if time_in_force not in _TIMES_IN_FORCE:
        raise InvalidArgument("time_in_force", "must be TIME_IN_FORCE_GTC or TIME_IN_FORCE_IOC")
    if order_type == common_pb2.ORDER_TYPE_LIMIT and not time_in_force:
        time_in_force = common_pb2.TIME_IN_FORCE_GTC
    return BindingSpec(
        id=binding_id,
        name=fields.name(message.name),
        rule_id=rule_id,
        signal_source=signal_source,
        pair=fields.pair(message.pair),
        side_filter=message.side_filter,
        min_strength=fields.unit_fraction(message.min_strength, "min_strength", default=Decimal(0)),
        sizing=_sizing(message),
        order_type=order_type,
        limit_offset_bps=offset,
        time_in_force=time_in_force,
        cooldown_ms=fields.cooldown_ms(message.cooldown, message.HasField("cooldown")),
        dry_run=message.dry_run,
        team=team,
        created_by=team,
        create_ms=create_ms,
    )


def identifier(text: str, field: str) -> str:
    """A rule or binding id as the service issues them."""
    if not text:
        raise InvalidArgument(field, "is required")
    if len(text) > MAX_ID_LENGTH or not text.isprintable():
        raise InvalidArgument(field, "is not an id the service issued")
    return text


def _sizing(message: Message) -> Sizing:
    if not message.HasField("sizing"):
        raise InvalidArgument(
            "sizing", "is required: fixed_quote_amount, fixed_volume or balance_fraction"
        )
    sizing = message.sizing
    policy = sizing.WhichOneof("policy")
    if policy == "fixed_quote_amount":
        amount = fields.positive_decimal(
            sizing.fixed_quote_amount.amount, "sizing.fixed_quote_amount.amount"
        )
        return Sizing(SizingKind.QUOTE_AMOUNT, amount)
    if policy == "fixed_volume":
        volume = fields.positive_decimal(sizing.fixed_volume.volume, "sizing.fixed_volume.volume")
        return Sizing(SizingKind.VOLUME, volume)
    if policy == "balance_fraction":
        field = "sizing.balance_fraction.fraction"
        fraction = fields.positive_decimal(sizing.balance_fraction.fraction, field)
        if fraction > 1:
            raise InvalidArgument(field, 'must be in (0, 1], e.g. "0.1"')
        return Sizing(SizingKind.BALANCE_FRACTION, fraction)
    raise InvalidArgument(
        "sizing", "needs exactly one of fixed_quote_amount, fixed_volume, balance_fraction"
    )
