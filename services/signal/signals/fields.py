"""Field checks every signal-service request shares: pairs, decimals, names, sides, durations.

Each check returns the clean value or raises `InvalidArgument` naming the request field.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from google.protobuf.duration_pb2 import Duration

from services.signal.signals.errors import InvalidArgument
from trading.common.v1 import common_pb2

_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_PAIR = re.compile(r"^([A-Z0-9]{1,16})/([A-Z0-9]{1,16})$")
# Kraken's REST names of Bitcoin; the platform's pair form says BTC.
_ASSET_ALIASES = {"XBT": "BTC"}

MAX_DECIMAL_LENGTH = 40
MAX_NAME_LENGTH = 100
MAX_DAY_MS = 86_400_000
SIDE_NAMES: dict[common_pb2.Side.ValueType, str] = {
    common_pb2.SIDE_BUY: "buy",
    common_pb2.SIDE_SELL: "sell",
}


def pair(text: str, field: str = "pair") -> str:
    """A pair in the platform's "BTC/USD" form (case-insensitive; "XBT" read as "BTC")."""
    if not text:
        raise InvalidArgument(field, 'is required, e.g. "BTC/USD"')
    found = _PAIR.match(text.strip().upper())
    if found is None:
        raise InvalidArgument(
            field, f'{text[:40]!r} is not a pair in BASE/QUOTE form, e.g. "BTC/USD"'
        )
    base, quote = (_ASSET_ALIASES.get(a, a) for a in found.groups())
    if base == quote:
        raise InvalidArgument(field, "base and quote must differ")
    return f"{base}/{quote}"


def plain(value: Decimal) -> str:
    """A Decimal as the platform's plain decimal string: never an exponent ("1E-8")."""
    return format(value, "f")


def decimal(text: str, field: str) -> Decimal:
    """A plain decimal string (digits, optional "." and "-", no exponent) as a Decimal."""
    if len(text) > MAX_DECIMAL_LENGTH:
        raise InvalidArgument(field, f"is longer than {MAX_DECIMAL_LENGTH} characters")
    if not _DECIMAL.match(text):
        raise InvalidArgument(field, f"{text!r} is not a decimal number")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid text
        raise InvalidArgument(field, f"{text!r} is not a decimal number") from exc


def positive_decimal(text: str, field: str) -> Decimal:
    if not text:
        raise InvalidArgument(field, "is required: a decimal > 0")
    value = decimal(text, field)
    if value <= 0:
        raise InvalidArgument(field, "must be > 0")
    return value


def unit_fraction(text: str, field: str, *, default: Decimal | None = None) -> Decimal:
    """A decimal from 0 to 1 inclusive; ``default`` when empty and one is given."""
    if not text:
        if default is None:
            raise InvalidArgument(field, 'is required: a decimal from "0" to "1"')
        return default
    value = decimal(text, field)
    if not 0 <= value <= 1:
        raise InvalidArgument(field, 'must be from "0" to "1"')
    return value


def name(text: str, field: str = "name") -> str:
    clean = text.strip()
    if not 1 <= len(clean) <= MAX_NAME_LENGTH:
        raise InvalidArgument(field, f"is required: 1 to {MAX_NAME_LENGTH} characters")
    if not clean.isprintable():
        raise InvalidArgument(field, "must be printable text")
    return clean


def side(value: common_pb2.Side.ValueType, field: str = "side") -> common_pb2.Side.ValueType:
    if value not in SIDE_NAMES:
        raise InvalidArgument(field, "is required: SIDE_BUY or SIDE_SELL")
    return value


def cooldown_ms(duration: Duration, present: bool, field: str = "cooldown") -> int:
    """A Duration from 0 to one day, in milliseconds; 0 when absent."""
    if not present:
        return 0
    if duration.seconds < 0 or duration.nanos < 0:
        raise InvalidArgument(field, "must not be negative")
    millis = int(duration.ToMilliseconds())
    if millis > MAX_DAY_MS:
        raise InvalidArgument(field, "must be at most one day")
    return millis
