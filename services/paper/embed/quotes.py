"""A quote as the desk keeps it, and its wire shape (kraken.md §6.3, Request and Get Quote).

Amounts are strings with the asset's places (``"100.00"``, ``"0.00151549"``); ``expires`` is
RFC3339 UTC to the second with ``Z``; ``quoted_*`` and ``transaction_id`` are ``null`` until
they apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from services.paper.embed.pricing import Leg, Priced, UnitPrice
from services.paper.embed.quote_request import ASSET_CLASS, QuoteType
from services.paper.wire import JsonValue


class QuoteStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    CREDIT_TRANSFER_COMPLETE = "credit_transfer_complete"
    QUOTE_CANCELLED = "quote_cancelled"
    QUOTE_EXECUTION_FAILED = "quote_execution_failed"


FINAL_STATUSES = frozenset(
    {
        QuoteStatus.CREDIT_TRANSFER_COMPLETE,
        QuoteStatus.QUOTE_CANCELLED,
        QuoteStatus.QUOTE_EXECUTION_FAILED,
    }
)


@dataclass
class Quote:
    """One quote for one user; ``expires`` is in whole Unix seconds, as the wire shows it."""

    quote_id: str
    user: str
    type: QuoteType
    priced: Priced
    quoted: Priced | None
    expires: int
    status: QuoteStatus = QuoteStatus.NEW
    transaction_id: str | None = None


def amount_text(value: Decimal, places: int) -> str:
    """``value`` with exactly ``places`` decimals and never an exponent (``0.00000000``)."""
    return format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")


def rfc3339(unix_seconds: int) -> str:
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _leg(leg: Leg) -> JsonValue:
    places = leg.asset.decimals
    return {
        "asset": leg.asset.name,
        "total": amount_text(leg.total, places),
        "fee": amount_text(leg.fee, places),
        "subtotal": amount_text(leg.subtotal, places),
        "asset_class": ASSET_CLASS,
    }


def _unit_price(unit: UnitPrice) -> JsonValue:
    return {
        "asset": unit.asset.name,
        "unit_price": amount_text(unit.price, unit.denomination.decimals),
        "denomination_asset": unit.denomination.name,
        "asset_class": ASSET_CLASS,
        "denomination_asset_class": ASSET_CLASS,
    }


def quote_view(quote: Quote) -> dict[str, JsonValue]:
    """The quote object every quote endpoint and webhook carries."""
    quoted = quote.quoted
    return {
        "quote_id": quote.quote_id,
        "type": quote.type.value,
        "status": quote.status.value,
        "expires": rfc3339(quote.expires),
        "spend": _leg(quote.priced.spend),
        "receive": _leg(quote.priced.receive),
        "unit_price": _unit_price(quote.priced.unit_price),
        "quoted_spend": None if quoted is None else _leg(quoted.spend),
        "quoted_receive": None if quoted is None else _leg(quoted.receive),
        "quoted_unit_price": None if quoted is None else _unit_price(quoted.unit_price),
        "transaction_id": quote.transaction_id,
    }
