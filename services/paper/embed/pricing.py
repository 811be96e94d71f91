"""Quote pricing, all in ``Decimal``: the unit price with the partner's spread, then fee and legs.

The unit price is the price of a pair's base in its quote asset (BTC in USD), whichever side the
user is on; the spread moves it against the user, rounded against the user to the quote asset's
places. Then, with ``A`` the spend asset and ``B`` the receive asset:

- ``spend`` (the user fixes total ``T`` of ``A``): ``fee = T * fee_bps / 10000`` rounded up to
  ``A``'s places, ``subtotal = T - fee``, and the user receives ``subtotal`` converted to ``B``
  rounded down to ``B``'s places.
- ``receive`` (the user fixes ``R`` of ``B``): ``subtotal`` is ``R`` converted to ``A`` rounded
  up, ``fee = subtotal * fee_bps / 10000`` rounded up, ``total = subtotal + fee``.

The fee is charged on the spend leg alone, so the receive leg's ``fee`` is zero and its
``subtotal`` equals its ``total``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

from services.paper.embed.assets import EmbedAsset
from services.paper.embed.errors import invalid_argument
from services.paper.embed.quote_request import QuoteRequest, QuoteType

BPS = Decimal(10000)


@dataclass(frozen=True)
class Leg:
    """One side of a quote: ``total = subtotal + fee``, in ``asset``."""

    asset: EmbedAsset
    total: Decimal
    fee: Decimal
    subtotal: Decimal


@dataclass(frozen=True)
class UnitPrice:
    """The price of one ``asset`` in ``denomination``."""

    asset: EmbedAsset
    price: Decimal
    denomination: EmbedAsset

    def convert(self, amount: Decimal, source: EmbedAsset) -> Decimal:
        """``amount`` of ``source`` (either side of the price) in the other side, unrounded."""
        return amount * self.price if source == self.asset else amount / self.price


@dataclass(frozen=True)
class Priced:
    """A priced quote: what the user spends, what the user receives, and at what price."""

    spend: Leg
    receive: Leg
    unit_price: UnitPrice


def _round(value: Decimal, asset: EmbedAsset, rounding: str) -> Decimal:
    return value.quantize(asset.unit, rounding=rounding)


def unit_price(
    market_price: Decimal,
    base: EmbedAsset,
    denomination: EmbedAsset,
    *,
    user_buys_base: bool,
    spread_bps: int,
) -> UnitPrice:
    """The market price of ``base`` in ``denomination``, made worse for the user by the spread."""
    if user_buys_base:
        price = _round(market_price * (BPS + spread_bps) / BPS, denomination, ROUND_UP)
    else:
        price = _round(market_price * (BPS - spread_bps) / BPS, denomination, ROUND_DOWN)
    if price <= 0:
        raise invalid_argument("spread_bps")
    return UnitPrice(base, price, denomination)


def price_quote(request: QuoteRequest, unit: UnitPrice) -> Priced:
    """Both legs of ``request`` at ``unit``; too small an amount to buy anything is refused."""
    spend_asset, receive_asset = request.spend_asset, request.receive_asset
    if request.type is QuoteType.SPEND:
        total = request.amount
        fee = _round(total * request.fee_bps / BPS, spend_asset, ROUND_UP)
        subtotal = total - fee
        received = _round(unit.convert(subtotal, spend_asset), receive_asset, ROUND_DOWN)
    else:
        received = request.amount
        subtotal = _round(unit.convert(received, receive_asset), spend_asset, ROUND_UP)
        fee = _round(subtotal * request.fee_bps / BPS, spend_asset, ROUND_UP)
        total = subtotal + fee
    if received <= 0 or subtotal <= 0:
        raise invalid_argument("amount.amount")
    zero = _round(Decimal(0), receive_asset, ROUND_DOWN)
    return Priced(
        spend=Leg(spend_asset, total, fee, subtotal),
        receive=Leg(receive_asset, received, zero, received),
        unit_price=unit,
    )


def in_currency(
    priced: Priced, currency: EmbedAsset, rate: Callable[[EmbedAsset], Decimal]
) -> Priced:
    """``priced`` shown in ``currency``, ``rate(asset)`` being one ``asset`` in ``currency``."""

    def shown(amount: Decimal, asset: EmbedAsset) -> Decimal:
        return _round(amount * rate(asset), currency, ROUND_HALF_EVEN)

    def leg(original: Leg) -> Leg:
        return Leg(
            currency,
            shown(original.total, original.asset),
            shown(original.fee, original.asset),
            shown(original.subtotal, original.asset),
        )

    unit = priced.unit_price
    return Priced(
        spend=leg(priced.spend),
        receive=leg(priced.receive),
        unit_price=UnitPrice(unit.asset, shown(unit.price, unit.denomination), currency),
    )
