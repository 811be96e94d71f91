"""Identifiers the desk hands out: quote ids, and Kraken-style ids for transactions and events."""

from __future__ import annotations

import secrets
import string

_CHARS = string.ascii_uppercase + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_CHARS) for _ in range(length))


def new_quote_id() -> str:
    """``Q`` and sixteen upper-case letters and digits."""
    return "Q" + _random(16)


def new_kraken_id() -> str:
    """Kraken's three-group id shape, ``AEGXGV-JZ4I2-6QXEJS`` (kraken.md §6.5)."""
    return f"{_random(6)}-{_random(5)}-{_random(6)}"
