"""How big an automated order is and where its limit sits: pure Decimal arithmetic.

Volumes round down to the pair's volume decimals (never more than the policy allows); a limit
price moves away from the market by the offset and rounds to the tick in the passive direction
(down for a BUY, up for a SELL), so the offset is never eaten by rounding.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from services.signal.bindings.model import Sizing, SizingKind
from trading.common.v1 import common_pb2

_BPS = Decimal(10_000)


class SizingError(Exception):
    """No order can be sized for this signal (no price, nothing available, rounds to zero)."""


def order_volume(
    sizing: Sizing,
    side: common_pb2.Side.ValueType,
    *,
    price: Decimal | None,
    available: Decimal | None,
    volume_decimals: int,
) -> Decimal:
    """The base volume to trade. ``available`` is the quote balance for a BUY, the base balance
    for a SELL; it is needed only for BALANCE_FRACTION."""
    if sizing.kind is SizingKind.VOLUME:
        volume = sizing.value
    elif sizing.kind is SizingKind.QUOTE_AMOUNT:
        volume = sizing.value / _known(price)
    else:
        if available is None or available <= 0:
            raise SizingError("no available balance to take a fraction of")
        amount = available * sizing.value
        volume = amount / _known(price) if side == common_pb2.SIDE_BUY else amount
    rounded = volume.quantize(Decimal(1).scaleb(-volume_decimals), rounding=ROUND_DOWN)
    if rounded <= 0:
        raise SizingError(f"volume {volume} rounds down to 0 at {volume_decimals} decimals")
    return rounded


def limit_price(
    side: common_pb2.Side.ValueType, price: Decimal, *, offset_bps: int, tick_size: Decimal
) -> Decimal:
    """The limit price ``offset_bps`` away from ``price`` on the passive side, on the tick."""
    if side == common_pb2.SIDE_BUY:
        target = price * (1 - offset_bps / _BPS)
        rounding = ROUND_FLOOR
    else:
        target = price * (1 + offset_bps / _BPS)
        rounding = ROUND_CEILING
    ticks = (target / tick_size).to_integral_value(rounding=rounding)
    limit = (ticks * tick_size).normalize()
    if limit <= 0:
        raise SizingError(f"limit price {limit} is not positive")
    return limit


def _known(price: Decimal | None) -> Decimal:
    if price is None or price <= 0:
        raise SizingError("no market price to size the order with")
    return price
