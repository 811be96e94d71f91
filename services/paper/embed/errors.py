"""Embed's error strings (kraken.md §6.3) with their HTTP status, and the exception carrying one.

Unlike Spot, Embed answers a refusal with a non-200 status: ``{"error": ["<string>"]}``.
"""

from __future__ import annotations

from services.paper.errors import INVALID_ARGUMENTS

USER_NOT_FOUND = "ENexus:User not found"
QUOTE_NOT_FOUND = "ENexus:Quote not found"
QUOTE_ALREADY_ACCEPTED = "EPTL:Quote already accepted"
QUOTE_CANCELLED = "EPTL:Quote cancelled"
PRICE_QUOTE_EXPIRED = "EPTL:Price quote expired"
QUOTE_EXECUTION_FAILED = "EPTL:Quote execution failed"
INSUFFICIENT_FUNDS = "EPTL:Insufficient funds for transfer"
TOO_MANY_EXECUTIONS = "EPTL:User has too many quote executions in progress"
ORDER_CANCELLED_TRY_AGAIN = "EPTL:Order cancelled. Try again."
UNKNOWN_METHOD = "EGeneral:Unknown Method"
ASSET_DISABLED = "asset disabled"


class EmbedError(Exception):
    """A refusal: one error string and the HTTP status it is answered with."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


def invalid_argument(field: str) -> EmbedError:
    """HTTP 400 ``EGeneral:Invalid arguments:<field>``, naming the bad field."""
    return EmbedError(400, f"{INVALID_ARGUMENTS}:{field}")


def unauthorized(text: str) -> EmbedError:
    """HTTP 401 with one of Spot's three authentication strings (kraken.md §2.3)."""
    return EmbedError(401, text)


def conflict(text: str) -> EmbedError:
    """HTTP 409, how Execute Quote refuses a quote in the wrong state (kraken.md §6.3)."""
    return EmbedError(409, text)


def not_found(text: str) -> EmbedError:
    return EmbedError(404, text)
