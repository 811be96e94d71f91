"""Decimal amounts of the risk service and their exact integer form in Redis.

Redis Lua numbers are IEEE doubles, exact for integers below 2**53. Risk therefore stores every
amount (volume, position, notional) as an integer count of 10**-8 units and refuses any amount
or limit at or above 2**51 such units (about 22.5 million units of an asset or of the notional
currency), so that every sum of a few such amounts the Lua scripts compare stays exact.
Amounts with more than eight decimal places are refused, never rounded, except notionals,
which are rounded up (a reservation may only err on the safe side).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

DECIMALS = 8
SCALE = 10**DECIMALS
# Amounts stay below this many units, so sums of up to four of them stay exact in a Lua double.
MAX_UNITS = 2**51
MAX_AMOUNT = Decimal(MAX_UNITS) / SCALE

_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")


class AmountError(ValueError):
    """A decimal string that is malformed, negative, too precise or too large."""


def parse_decimal(text: str, *, allow_negative: bool = False) -> Decimal:
    """A plain decimal string of the platform's convention ("1.25"; no exponent, no "+")."""
    if not _PLAIN_DECIMAL.fullmatch(text):
        raise AmountError(f"{text!r} is not a plain decimal number")
    value = Decimal(text)
    if value < 0 and not allow_negative:
        raise AmountError(f"{text} must not be negative")
    return value


def parse_amount(text: str) -> Decimal:
    """A non-negative amount risk can hold exactly in Redis."""
    value = parse_decimal(text)
    check_amount(value)
    return value


def check_amount(value: Decimal) -> None:
    if value.as_tuple().exponent < -DECIMALS:  # type: ignore[operator]
        raise AmountError(f"{value} has more than {DECIMALS} decimal places")
    if abs(value) >= MAX_AMOUNT:
        raise AmountError(f"{value} is too large: amounts must stay below {MAX_AMOUNT}")


def to_units(value: Decimal) -> int:
    """Exact integer units of an amount that passed `check_amount`."""
    return int(value * SCALE)


def ceil_units(value: Decimal) -> int:
    """Units of a computed amount (a notional), rounded up."""
    return int((value * SCALE).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int | str | bytes) -> Decimal:
    return Decimal(int(units)).scaleb(-DECIMALS)


def format_amount(value: Decimal) -> str:
    """A plain decimal string without exponent and without needless trailing zeros."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
