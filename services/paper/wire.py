"""Kraken's wire rendering: the ``{"error":[...],"result":...}`` envelope, decimal strings, numbers.

Decimals must reach the wire exactly as written, so JSON is written here: ``json.dumps`` would
turn a ``Decimal`` into a float first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeAlias

from aiohttp import web

JsonValue: TypeAlias = (
    "Mapping[str, JsonValue] | Sequence[JsonValue] | str | int | bool | Decimal | None"
)


def fixed(value: Decimal, decimals: int) -> str:
    """``value`` with exactly ``decimals`` places, as Kraken renders prices and amounts."""
    # format(…, "f"): str() writes a zero with seven or more places as "0E-10".
    return format(value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN), "f")


def dumps(value: JsonValue) -> str:
    """Compact JSON in which a ``Decimal`` is a number with its exact digits."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: JsonValue, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value))
    elif value is None or isinstance(value, bool | int):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    else:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")


def _number(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot put {value} on the wire")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def json_response(body: JsonValue, status: int = 200) -> web.Response:
    """An HTTP response with ``body`` as JSON."""
    return web.Response(text=dumps(body), status=status, content_type="application/json")


def ok(result: JsonValue) -> web.Response:
    """Kraken's success envelope."""
    return json_response({"error": [], "result": result})


def failed(*errors: str) -> web.Response:
    """Kraken's error envelope: HTTP 200 with the strings in ``error`` (kraken.md §2.2)."""
    return json_response({"error": list(errors), "result": {}})
