"""The rules of a pre-trade check and the sentences that explain each failure.

Rules that need only the request and the limits are evaluated here. Rules that need the shared
book (kill switch, open orders, team daily notional, position, reduce-only) are evaluated by the
reservation script in Redis, atomically with the reservation; `explain_book_failure` turns what
the script reports into the same code-and-sentence form.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.risk.amounts import AmountError, ceil_units, check_amount, format_amount, from_units
from services.risk.intents import LIMIT_TYPES, OrderIntent, QuoteIntent
from services.risk.limits import Limits
from trading.common.v1 import common_pb2

KILL_SWITCH = "KILL_SWITCH"
MAX_OPEN_ORDERS = "MAX_OPEN_ORDERS"
TEAM_DAILY_NOTIONAL = "TEAM_DAILY_NOTIONAL"
MAX_POSITION = "MAX_POSITION"
REDUCE_ONLY = "REDUCE_ONLY"
CLIENT_ORDER_ID_REUSED = "CLIENT_ORDER_ID_REUSED"


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    field: str = ""

    def to_proto(self) -> common_pb2.Violation:
        return common_pb2.Violation(code=self.code, message=self.message, field=self.field)


@dataclass(frozen=True)
class Leg:
    """Exposure an order or quote adds to one asset: +1 buys it, -1 sells it."""

    asset: str
    direction: int
    amount: Decimal
    max_position: Decimal | None


@dataclass(frozen=True)
class Assessment:
    """What the stateless rules found, and what the order would reserve if approved."""

    violations: list[Violation]
    legs: list[Leg]
    notional: Decimal | None


def _amount(value: Decimal) -> str:
    return format_amount(value)


def assess_order(order: OrderIntent, limits: Limits) -> Assessment:
    violations: list[Violation] = []
    pair_limits = limits.pair(order.pair)
    if order.pair not in limits.allowed_pairs:
        violations.append(
            Violation("PAIR_NOT_ALLOWED", f"pair {order.pair} is not in the allowed pairs", "pair")
        )
    if order.order_type not in limits.allowed_order_types:
        violations.append(
            Violation(
                "ORDER_TYPE_NOT_ALLOWED",
                f"order type {order.order_type} is not allowed; allowed: "
                f"{', '.join(limits.allowed_order_types) or 'none'}",
                "order_type",
            )
        )
    if pair_limits.max_order_volume is not None and order.volume > pair_limits.max_order_volume:
        violations.append(
            Violation(
                "MAX_ORDER_VOLUME",
                f"volume {_amount(order.volume)} {order.base} is above the per-order maximum "
                f"{_amount(pair_limits.max_order_volume)} {order.base} for {order.pair}",
                "volume",
            )
        )
    reference = order.reference_price
    if reference is None:
        violations.append(
            Violation(
                "REFERENCE_PRICE_MISSING",
                f"no reference price for {order.pair}: risk cannot value the order or check "
                "the price collar, so it refuses it",
                "reference_price",
            )
        )
    else:
        violations += _collar_violations(order, reference, pair_limits.price_collar_pct)
    notional = order_notional(order)
    if notional is not None:
        if pair_limits.max_order_notional is not None and notional > pair_limits.max_order_notional:
            violations.append(
                Violation(
                    "MAX_ORDER_NOTIONAL",
                    f"notional {_amount(notional)} {order.quote} is above the per-order maximum "
                    f"{_amount(pair_limits.max_order_notional)} {order.quote} for {order.pair}",
                    "volume",
                )
            )
        violations += _representable(notional, order.quote)
    if order.quote != limits.notional_currency:
        violations.append(
            Violation(
                "NOTIONAL_CURRENCY",
                f"risk values orders in {limits.notional_currency} and has no price to value "
                f"{order.quote}, the quote asset of {order.pair}",
                "pair",
            )
        )
    legs = [
        Leg(
            order.base,
            1 if order.side == "buy" else -1,
            order.volume,
            limits.max_position.get(order.base),
        )
    ]
    if notional is not None:
        legs.append(
            Leg(
                order.quote,
                -1 if order.side == "buy" else 1,
                notional,
                limits.max_position.get(order.quote),
            )
        )
    return Assessment(violations, legs, notional)


def notional_price(order: OrderIntent) -> Decimal | None:
    """The price an order is valued at; None when no price is known.

    Limit types are valued at their limit price; market and triggered market orders at the
    higher of the reference and the trigger price.
    """
    if order.order_type in LIMIT_TYPES:
        return order.limit_price
    if order.reference_price is None:
        return None
    return max(order.reference_price, order.stop_price or order.reference_price)


def order_notional(order: OrderIntent) -> Decimal | None:
    """Value of the order in its quote asset, rounded up to risk's precision."""
    price = notional_price(order)
    return None if price is None else from_units(ceil_units(order.volume * price))


def _collar_violations(
    order: OrderIntent, reference: Decimal, collar_pct: Decimal | None
) -> list[Violation]:
    if collar_pct is None:
        return []
    found = []
    for field, price in (("limit_price", order.limit_price), ("stop_price", order.stop_price)):
        if price is None:
            continue
        distance = abs(price - reference) / reference * 100
        if distance > collar_pct:
            found.append(
                Violation(
                    "PRICE_COLLAR",
                    f"{field} {_amount(price)} is {distance:.2f}% from the reference price "
                    f"{_amount(reference)}, beyond the collar of {_amount(collar_pct)}%",
                    field,
                )
            )
    return found


def _representable(value: Decimal, currency: str) -> list[Violation]:
    try:
        check_amount(value)
    except AmountError as exc:
        return [Violation("AMOUNT_TOO_LARGE", f"notional in {currency}: {exc}", "volume")]
    return []


def assess_quote(quote: QuoteIntent, limits: Limits) -> Assessment:
    violations: list[Violation] = []
    notional = quote_notional(quote, limits.notional_currency)
    if notional is None:
        violations.append(
            Violation(
                "NOTIONAL_CURRENCY",
                f"the quote has no notional and neither {quote.spend_asset} nor "
                f"{quote.receive_asset} is {limits.notional_currency}, so risk cannot value it",
                "notional",
            )
        )
    legs = [
        Leg(
            quote.receive_asset,
            1,
            quote.receive_amount,
            limits.max_position.get(quote.receive_asset),
        ),
        Leg(quote.spend_asset, -1, quote.spend_amount, limits.max_position.get(quote.spend_asset)),
    ]
    return Assessment(violations, legs, notional)


def quote_notional(quote: QuoteIntent, currency: str) -> Decimal | None:
    if quote.notional is not None:
        return quote.notional
    if quote.spend_asset == currency:
        return quote.spend_amount
    if quote.receive_asset == currency:
        return quote.receive_amount
    return None


def explain_book_failure(
    code: str, subject: str, figures: list[str], assessment: Assessment, currency: str
) -> Violation:
    """The sentence for a rule the reservation script found broken.

    `figures` are the script's unit counts for the rule (see book.py).
    """
    if code == KILL_SWITCH:
        scope = (
            "the global kill switch"
            if subject == "global"
            else f"the kill switch of team {subject}"
        )
        return Violation(
            KILL_SWITCH, f"{scope} is engaged: only reduce-only orders and cancels pass"
        )
    if code == MAX_OPEN_ORDERS:
        return Violation(
            MAX_OPEN_ORDERS,
            f"team {subject} has {figures[0]} working orders, the maximum is {figures[1]}",
        )
    first, second, third = (from_units(f) if f else Decimal(0) for f in figures)
    if code == TEAM_DAILY_NOTIONAL:
        added = assessment.notional or Decimal(0)
        return Violation(
            TEAM_DAILY_NOTIONAL,
            f"team {subject} would reach {_amount(first + second + added)} {currency} today "
            f"(filled {_amount(first)}, reserved {_amount(second)}, this {_amount(added)}), "
            f"above its daily limit of {_amount(third)} {currency}",
            "volume",
        )
    if code == MAX_POSITION:
        return Violation(
            MAX_POSITION,
            f"position in {subject} could reach {_amount(first)} counting working orders "
            f"(position now {_amount(second)}), above the maximum {_amount(third)} {subject}",
            "volume",
        )
    added = next((leg.amount for leg in assessment.legs if leg.asset == subject), Decimal(0))
    return Violation(
        REDUCE_ONLY,
        f"reduce-only order of {_amount(added)} {subject} would not only reduce the position "
        f"of {_amount(first)} {subject} (already being reduced by {_amount(second)})",
        "reduce_only",
    )
