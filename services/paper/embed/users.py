"""Embed users, each an IIBAN (kraken.md §6.2), and their balances per listed asset.

``PAPER_EMBED_USERS`` seeds them: ``IIBAN=ASSET:AMOUNT/ASSET:AMOUNT;IIBAN=…``, e.g.
``AA00 PAPE RUSE R001=USD:10000/EUR:10000/BTC:1``. An IIBAN is 14 to 42 upper-case letters,
digits and single spaces.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from services.paper.embed.assets import EMBED_ASSETS, EmbedAsset, find_embed_asset
from services.paper.embed.errors import USER_NOT_FOUND, not_found

DEFAULT_USERS = "AA00 PAPE RUSE R001=USD:10000/EUR:10000/BTC:1"

_IIBAN = re.compile(r"[A-Z0-9]+( [A-Z0-9]+)*")
_IIBAN_CHARS = string.ascii_uppercase + string.digits


def is_iiban(text: str) -> bool:
    return 14 <= len(text) <= 42 and _IIBAN.fullmatch(text) is not None


def parse_balances(items: Mapping[str, str]) -> dict[str, Decimal]:
    """``{"USD": "100"}`` as amounts per listed asset; ``ValueError`` names a bad entry."""
    balances: dict[str, Decimal] = {}
    for name, text in items.items():
        asset = find_embed_asset(name)
        if asset is None:
            raise ValueError(f"{name!r} is not a listed Embed asset")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(f"{text!r} is not a decimal amount") from exc
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{text!r} is not a balance")
        balances[asset.name] = amount.quantize(asset.unit)
    return balances


def parse_users(text: str) -> dict[str, dict[str, Decimal]]:
    """Read ``PAPER_EMBED_USERS``; ``ValueError`` names the entry that is malformed."""
    users: dict[str, dict[str, Decimal]] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        iiban, sep, spec = entry.partition("=")
        iiban = iiban.strip()
        if not sep or not is_iiban(iiban):
            raise ValueError(f"{entry!r} is not IIBAN=ASSET:AMOUNT/… with a valid IIBAN")
        items: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in spec.split("/"))):
            name, colon, amount = item.partition(":")
            if not colon:
                raise ValueError(f"{item!r} is not ASSET:AMOUNT")
            items[name.strip()] = amount.strip()
        users[iiban] = parse_balances(items)
    return users


def new_iiban() -> str:
    """A fresh paper IIBAN such as ``AA42 PAPE R7QX 2K9D``."""
    code = "".join(secrets.choice(_IIBAN_CHARS) for _ in range(8))
    return f"AA{secrets.randbelow(100):02d} PAPE {code[:4]} {code[4:]}"


class UserBook:
    """Every user's balance per listed asset, at the asset's places."""

    def __init__(self, initial: Mapping[str, Mapping[str, Decimal]]) -> None:
        self._balances: dict[str, dict[str, Decimal]] = {}
        for iiban, balances in initial.items():
            self.create(iiban, balances)

    def create(self, iiban: str, balances: Mapping[str, Decimal]) -> None:
        self._balances[iiban] = {
            asset.name: balances.get(asset.name, Decimal(0)).quantize(asset.unit)
            for asset in EMBED_ASSETS
        }

    def exists(self, iiban: str) -> bool:
        return iiban in self._balances

    def require(self, iiban: str) -> None:
        """Return if the user exists; else HTTP 404 ``ENexus:User not found``."""
        if iiban not in self._balances:
            raise not_found(USER_NOT_FOUND)

    def balances(self, iiban: str) -> dict[str, Decimal]:
        self.require(iiban)
        return dict(self._balances[iiban])

    def available(self, iiban: str, asset: EmbedAsset) -> Decimal:
        return self._balances[iiban][asset.name]

    def move(self, iiban: str, asset: EmbedAsset, amount: Decimal) -> None:
        """Credit ``amount`` (negative: debit); amounts come from quotes, already at places."""
        self._balances[iiban][asset.name] += amount
