"""Kraken's wire format: request bodies (form or JSON, built once), the response envelope, Decimals.

Amounts never pass through float: bodies format ``Decimal`` with ``format(d, "f")`` and responses
are parsed with ``parse_float=Decimal``; result fields sent as strings are converted by name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from services.execution.kraken.config import BodyEncoding
from services.execution.kraken.errors import (
    MalformedResultError,
    from_http_status,
    from_kraken,
    is_warning,
    unknown_outcome,
)
from services.execution.kraken.orders import Param

logger = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def form_value(value: Param) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json_value(value: Param) -> str | int | bool:
    # Amounts travel as strings (design decision 1); JSON numbers would be read as floats.
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def encode_body(
    params: Mapping[str, Param], nonce: int, encoding: BodyEncoding
) -> tuple[bytes, str]:
    """The exact body bytes to sign and send, and their content type. ``nonce`` comes first."""
    if encoding is BodyEncoding.FORM:
        pairs = [("nonce", str(nonce))] + [(k, form_value(v)) for k, v in params.items()]
        return urlencode(pairs).encode("ascii"), FORM
    document: dict[str, Any] = {"nonce": nonce}
    for key, value in params.items():
        # ``close[price]`` in a form is ``{"close": {"price": …}}`` in JSON.
        if key.endswith("]") and "[" in key:
            outer, inner = key[:-1].split("[", 1)
            document.setdefault(outer, {})[inner] = _json_value(value)
        else:
            document[key] = _json_value(value)
    return json.dumps(document, separators=(",", ":")).encode("utf-8"), JSON


def parse_result(
    status: int, content: bytes, *, endpoint: str, idempotent: bool, now: float
) -> Any:
    """``result`` of a Kraken envelope, or the typed error the answer stands for."""
    try:
        payload = json.loads(content, parse_float=Decimal)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        entries = [e for e in payload.get("error") or [] if isinstance(e, str)]
        failures = [e for e in entries if not is_warning(e)]
        if failures:
            raise from_kraken(
                failures, endpoint=endpoint, idempotent=idempotent, now=now, http_status=status
            )
        if entries:
            logger.warning("Kraken warning", extra={"endpoint": endpoint, "warnings": entries})
    if status != 200:
        raise from_http_status(status, endpoint=endpoint, idempotent=idempotent)
    if not isinstance(payload, dict) or "result" not in payload:
        # A 200 we cannot read: for AddOrder we cannot tell whether it was executed.
        raise unknown_outcome(
            f"Kraken {endpoint} answered 200 without a readable result", idempotent=idempotent
        )
    return payload["result"]


def to_decimal(value: Any) -> Decimal:
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise MalformedResultError(f"expected a decimal, got {value!r}") from exc


def decimal_fields(record: Any, names: Iterable[str]) -> Any:
    """``record`` (a dict) with the named fields, where present, as Decimal."""
    if not isinstance(record, dict):
        raise MalformedResultError(f"expected an object, got {type(record).__name__}")
    for name in names:
        if name in record and record[name] is not None:
            record[name] = to_decimal(record[name])
    return record


ORDER_DECIMALS = ("vol", "vol_exec", "cost", "fee", "price", "stopprice", "limitprice")
TRADE_DECIMALS = ("price", "cost", "fee", "vol", "margin")
PAIR_DECIMALS = ("ordermin", "costmin", "tick_size")
