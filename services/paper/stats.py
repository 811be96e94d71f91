"""Counters a test reads through ``GET /_paper/stats`` to see what the exchange refused and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from services.paper import errors


@dataclass
class Stats:
    """Counts since start: calls per endpoint, refusals per error, faults per kind."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, dict[str, int]]:
        return {
            "calls": dict(self.calls),
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "summary": {
                "nonce_rejections": self.errors[errors.INVALID_NONCE],
                "signature_rejections": self.errors[errors.INVALID_SIGNATURE],
                "key_rejections": self.errors[errors.INVALID_KEY],
                "rest_rate_limited": self.errors[errors.REST_RATE_LIMIT],
                "trading_rate_limited": self.errors[errors.ORDER_RATE_LIMIT],
            },
        }
