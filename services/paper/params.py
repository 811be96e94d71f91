"""Request parameters as Kraken takes them: a form body, a JSON body, or a public query string.

JSON values arrive typed (``"nonce": 1616492376594``, ``"validate": true``); they are reduced to
the text a form body would carry, so handlers read one shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from services.paper.errors import INVALID_ARGUMENTS, KrakenError, invalid_argument

_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_text(item) for item in value)
    if value is None:
        return ""
    return str(value)


class Params:
    """One request's parameters by name, each read and checked by the handler that needs it."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def from_body(cls, body: bytes, content_type: str) -> Params:
        """Parse a private call's body; a malformed one is ``EGeneral:Invalid arguments``."""
        try:
            text = body.decode("utf-8")
            if content_type == "application/json":
                parsed = json.loads(text, parse_float=Decimal) if text.strip() else {}
                if not isinstance(parsed, dict):
                    raise KrakenError(INVALID_ARGUMENTS)
                return cls({key: _as_text(value) for key, value in parsed.items()})
            return cls(dict(parse_qsl(text, keep_blank_values=True)))
        except (UnicodeDecodeError, ValueError) as exc:
            raise KrakenError(INVALID_ARGUMENTS) from exc

    def merged(self, other: Mapping[str, str]) -> Params:
        return Params({**other, **self._values})

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value not in (None, "") else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise invalid_argument(name)
        return value

    def flag(self, name: str) -> bool:
        value = (self._values.get(name) or "").strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise invalid_argument(name)

    def decimal(self, name: str) -> Decimal | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise invalid_argument(name) from exc
        if not number.is_finite():
            raise invalid_argument(name)
        return number

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError as exc:
            raise invalid_argument(name) from exc

    def names(self, name: str) -> list[str]:
        """A comma list parameter (``pair=XBTUSD,ETHUSD``), empty when absent."""
        value = self.text(name)
        return [part.strip() for part in value.split(",") if part.strip()] if value else []
