"""Kraken's error strings (kraken.md §2.3, §3.4, §4.3) and the exception that carries one."""

from __future__ import annotations

INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
REST_RATE_LIMIT = "EAPI:Rate limit exceeded"
ORDER_RATE_LIMIT = "EOrder:Rate limit exceeded"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
UNKNOWN_METHOD = "EGeneral:Unknown Method"
INTERNAL_ERROR = "EGeneral:Internal error"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
UNKNOWN_ASSET = "EQuery:Unknown asset"
SERVICE_UNAVAILABLE = "EService:Unavailable"
SERVICE_BUSY = "EService:Busy"
DEADLINE_ELAPSED = "EService:Deadline elapsed"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
TICK_SIZE = "EOrder:Tick size check failed"
INVALID_ORDER = "EOrder:Invalid order"
POST_ONLY = "EOrder:Post only order"


class KrakenError(Exception):
    """A refusal with one Kraken error string; it becomes ``{"error":[text],"result":{}}``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def invalid_argument(field: str) -> KrakenError:
    """``EGeneral:Invalid arguments:<field>``, the shape Kraken uses to name the bad field."""
    return KrakenError(f"{INVALID_ARGUMENTS}:{field}")
