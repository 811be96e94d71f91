"""Quote requests checked before anything reaches Kraken; the first broken rule names its field.

Limits follow ``kraken.md`` §6.2/§6.3: an IIBAN is 14 to 42 characters (spaces allowed), an asset
code at most 16, ``fee_bps`` and ``spread_bps`` 0 to 10000, amounts positive decimal strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from services.execution.embed.model import QUOTE_TYPES
from services.execution.orders.validation import OrderInputError, decimal_field, text

_IIBAN = re.compile(r"^[A-Z0-9 ]{14,42}$")
_ASSET = re.compile(r"^[A-Z0-9.]{1,16}$")
_QUOTE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BPS = 10000


class QuoteRequestFields(Protocol):
    """What RequestQuote and RequestAndExecuteQuote share."""

    client_quote_id: str
    user: str
    type: Any
    amount: str
    amount_asset: str
    quote_asset: str
    fee_bps: int
    spread_bps: int
    quote_currency: str


@dataclass(frozen=True)
class QuoteRequest:
    client_quote_id: str
    user: str
    quote_type: int
    amount: Decimal
    amount_asset: str
    quote_asset: str
    fee_bps: int
    spread_bps: int
    quote_currency: str

    @property
    def kraken_type(self) -> str:
        return QUOTE_TYPES[self.quote_type]

    def kraken_body(self) -> dict[str, Any]:
        """The POST /b2b/quotes body (§6.3); amounts and basis points as strings."""
        body: dict[str, Any] = {
            "type": self.kraken_type,
            "amount": {
                "asset": self.amount_asset,
                "amount": text(self.amount),
                "asset_class": "currency",
            },
            "quote": {"asset": self.quote_asset},
            "fee_bps": str(self.fee_bps),
            "spread_bps": str(self.spread_bps),
        }
        if self.quote_currency:
            body["quote_currency"] = self.quote_currency
        return body


def user(value: str, field: str = "user") -> str:
    if not value:
        raise OrderInputError(field, "is required (the end user's IIBAN)")
    if not _IIBAN.match(value):
        raise OrderInputError(
            field, "must be an IIBAN: 14 to 42 upper-case letters, digits and spaces"
        )
    return value


def asset(value: str, field: str, *, required: bool = True) -> str:
    if not value:
        if required:
            raise OrderInputError(field, "is required")
        return ""
    upper = value.upper()
    if not _ASSET.match(upper):
        raise OrderInputError(field, "must be an asset code of at most 16 letters or digits")
    return upper


def basis_points(value: int, field: str) -> int:
    if not 0 <= value <= MAX_BPS:
        raise OrderInputError(field, f"must be 0 to {MAX_BPS} basis points")
    return value


def quote_id(value: str, field: str = "quote_id") -> str:
    if not value:
        raise OrderInputError(field, "is required")
    if not _QUOTE_ID.match(value):
        raise OrderInputError(field, "is not a Kraken quote id")
    return value


def validate_quote_request(request: QuoteRequestFields, client_quote_id: str) -> QuoteRequest:
    quote_type = int(request.type)
    if quote_type not in QUOTE_TYPES:
        raise OrderInputError("type", "is required: QUOTE_TYPE_SPEND or QUOTE_TYPE_RECEIVE")
    if not request.amount:
        raise OrderInputError("amount", "is required")
    amount = decimal_field(request.amount, "amount")
    if amount <= 0:
        raise OrderInputError("amount", "must be greater than zero")
    amount_asset = asset(request.amount_asset, "amount_asset")
    quote_asset = asset(request.quote_asset, "quote_asset")
    if quote_asset == amount_asset:
        raise OrderInputError("quote_asset", "must differ from amount_asset")
    return QuoteRequest(
        client_quote_id=client_quote_id,
        user=user(request.user),
        quote_type=quote_type,
        amount=amount,
        amount_asset=amount_asset,
        quote_asset=quote_asset,
        fee_bps=basis_points(request.fee_bps, "fee_bps"),
        spread_bps=basis_points(request.spread_bps, "spread_bps"),
        quote_currency=asset(request.quote_currency, "quote_currency", required=False),
    )
