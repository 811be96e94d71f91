"""Faults a test injects into the paper exchange's REST endpoints, each for a number of calls.

Kinds, and what a matching call gets:

- ``latency``: waits ``seconds`` before handling the call (combines with any other fault).
- ``http_5xx``: HTTP ``status`` (default 503) with a non-JSON body; the call is not executed.
- ``service_unavailable`` / ``service_busy``: ``EService:Unavailable`` / ``EService:Busy``;
  not executed.
- ``rate_limit_storm``: the rate-limit error of the call's counter (``EOrder:Rate limit exceeded``
  for AddOrder and CancelOrder, ``EAPI:Rate limit exceeded`` otherwise); not executed.
- ``error``: any Kraken ``error`` string, e.g. ``EGeneral:Internal error``; not executed.
- ``drop_after_accept``: the call is executed in full, then the connection is closed with no
  response, so the client cannot know the outcome.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.paper.errors import INTERNAL_ERROR
from services.paper.wire import JsonValue


class FaultKind(StrEnum):
    LATENCY = "latency"
    HTTP_5XX = "http_5xx"
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_BUSY = "service_busy"
    RATE_LIMIT_STORM = "rate_limit_storm"
    ERROR = "error"
    DROP_AFTER_ACCEPT = "drop_after_accept"


class FaultSpec(BaseModel):
    """One fault as ``POST /_paper/faults`` takes it; ``count: null`` lasts until cleared and
    empty ``endpoints`` match every REST endpoint (``AddOrder``, ``Ticker``, …)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    count: int | None = Field(default=1, ge=1)
    endpoints: tuple[str, ...] = ()
    seconds: Decimal = Field(default=Decimal(0), ge=0, le=120)
    status: int = Field(default=503, ge=500, le=599)
    error: str = INTERNAL_ERROR


class Fault:
    """An injected fault and how many more calls it will hit."""

    def __init__(self, fault_id: int, spec: FaultSpec) -> None:
        self.id = fault_id
        self.spec = spec
        self.remaining = spec.count

    def matches(self, endpoint: str) -> bool:
        live = self.remaining is None or self.remaining > 0
        return live and (not self.spec.endpoints or endpoint in self.spec.endpoints)

    def consume(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1

    def as_json(self) -> dict[str, JsonValue]:
        spec = self.spec
        return {
            "id": self.id,
            "remaining": self.remaining,
            "kind": spec.kind.value,
            "count": spec.count,
            "endpoints": list(spec.endpoints),
            "seconds": spec.seconds,
            "status": spec.status,
            "error": spec.error,
        }


class FaultBook:
    """The faults in force; the first live match of a call's endpoint applies to it."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(next(self._ids), spec)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def all(self) -> list[Fault]:
        return [fault for fault in self._faults if fault.remaining != 0]

    def latency(self, endpoint: str) -> Decimal:
        """Seconds to wait before this call, consuming every latency fault that matches it."""
        total = Decimal(0)
        for fault in self._faults:
            if fault.spec.kind is FaultKind.LATENCY and fault.matches(endpoint):
                fault.consume()
                total += fault.spec.seconds
        return total

    def take(self, endpoint: str) -> FaultSpec | None:
        """The one non-latency fault this call gets, if any, consumed."""
        for fault in self._faults:
            if fault.spec.kind is not FaultKind.LATENCY and fault.matches(endpoint):
                fault.consume()
                return fault.spec
        return None
