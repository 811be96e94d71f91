"""The body of Request Quote (``POST /b2b/quotes``, kraken.md §6.3), checked field by field.

Every refusal is HTTP 400 ``EGeneral:Invalid arguments:<field>`` naming the field as the body
spells it (``amount.amount``, ``quote.asset``, ``fee_bps``, …), except a listed asset that is not
tradable, or has no market against the other side, which is ``…:asset disabled``.
Amounts are strings of digits (``^[0-9]+(\\.[0-9]+)?$``), positive, with no more places than the
asset has and inside its limits; ``fee_bps`` and ``spread_bps`` are strings of one to five digits
(absent means ``"0"``), below 10000.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.paper.embed.assets import (
    AssetStatus,
    EmbedAsset,
    find_embed_asset,
    market_between,
)
from services.paper.embed.errors import ASSET_DISABLED, invalid_argument

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_BPS = re.compile(r"[0-9]{1,5}")
_MAX_BPS = 10000
ASSET_CLASS = "currency"


class QuoteType(StrEnum):
    """``spend`` fixes what the user pays, ``receive`` what the user gets."""

    SPEND = "spend"
    RECEIVE = "receive"


@dataclass(frozen=True)
class QuoteRequest:
    """A valid Request Quote body: ``amount`` of ``amount_asset`` fixed, ``other_asset`` priced."""

    type: QuoteType
    amount: Decimal
    amount_asset: EmbedAsset
    other_asset: EmbedAsset
    fee_bps: int
    spread_bps: int
    quote_currency: EmbedAsset | None

    @property
    def spend_asset(self) -> EmbedAsset:
        return self.amount_asset if self.type is QuoteType.SPEND else self.other_asset

    @property
    def receive_asset(self) -> EmbedAsset:
        return self.other_asset if self.type is QuoteType.SPEND else self.amount_asset


def parse_quote_request(body: bytes) -> QuoteRequest:
    """Read a Request Quote body; raise ``EmbedError`` naming the first bad field."""
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_argument("body") from exc
    if not isinstance(parsed, dict):
        raise invalid_argument("body")
    if parsed.get("type") not in tuple(QuoteType):
        raise invalid_argument("type")
    quote_type = QuoteType(parsed["type"])
    amount_spec = _object(parsed, "amount")
    quote_spec = _object(parsed, "quote")
    amount_asset = _asset(amount_spec, "amount")
    other_asset = _asset(quote_spec, "quote")
    if other_asset == amount_asset:
        raise invalid_argument("quote.asset")
    if market_between(amount_asset, other_asset) is None:
        raise invalid_argument(ASSET_DISABLED)
    return QuoteRequest(
        type=quote_type,
        amount=parse_amount(amount_spec.get("amount"), amount_asset, "amount.amount"),
        amount_asset=amount_asset,
        other_asset=other_asset,
        fee_bps=_bps(parsed, "fee_bps"),
        spread_bps=_bps(parsed, "spread_bps"),
        quote_currency=_quote_currency(parsed.get("quote_currency")),
    )


def parse_amount(value: object, asset: EmbedAsset, field: str) -> Decimal:
    """A positive decimal string within ``asset``'s places and limits."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise invalid_argument(field)
    amount = Decimal(value)
    if amount != amount.quantize(asset.unit) or not asset.minimum <= amount <= asset.maximum:
        raise invalid_argument(field)
    return amount


def _object(parsed: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = parsed.get(field)
    if not isinstance(value, dict):
        raise invalid_argument(field)
    return value


def _asset(spec: Mapping[str, Any], field: str) -> EmbedAsset:
    name = spec.get("asset")
    asset = find_embed_asset(name) if isinstance(name, str) else None
    if asset is None:
        raise invalid_argument(f"{field}.asset")
    if spec.get("asset_class", ASSET_CLASS) != ASSET_CLASS:
        raise invalid_argument(f"{field}.asset_class")
    if asset.status is not AssetStatus.TRADABLE:
        raise invalid_argument(ASSET_DISABLED)
    return asset


def _bps(parsed: Mapping[str, Any], field: str) -> int:
    value = parsed.get(field, "0")
    if not isinstance(value, str) or not _BPS.fullmatch(value) or int(value) >= _MAX_BPS:
        raise invalid_argument(field)
    return int(value)


def _quote_currency(value: object) -> EmbedAsset | None:
    if value is None:
        return None
    asset = find_embed_asset(value) if isinstance(value, str) else None
    if asset is None or asset.status is not AssetStatus.TRADABLE:
        raise invalid_argument("quote_currency")
    return asset
