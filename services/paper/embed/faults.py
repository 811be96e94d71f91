"""Faults a test injects into the Embed desk, each for ``count`` executions or webhook events.

Kinds, and what the next Execute Quote (``PUT /b2b/quotes/{id}``) of a quote that could run gets:

- ``http_429``: HTTP 429 ``EPTL:User has too many quote executions in progress``; the quote is
  not executed. Applied before the quote is looked up.
- ``http_503``: HTTP 503 ``EPTL:Order cancelled. Try again.``; not executed. Applied likewise.
- ``expired``: HTTP 409 ``EPTL:Price quote expired``, as if the quote's ``expires`` had passed.
- ``insufficient_funds``: HTTP 409 ``EPTL:Insufficient funds for transfer: …`` whatever the
  balance.
- ``execution_failed``: accepted (the spend is debited), then ``quote_execution_failed`` instead
  of ``credit_transfer_complete``; the spend is refunded.
- ``cancelled``: accepted, then ``quote_cancelled``; the spend is refunded.

The last four are consumed only by a quote that is ``new``; a refusal for another reason (not
found, already accepted, really expired) leaves them in place.

- ``webhook_duplicates``: the next webhook event is delivered ``copies`` times, all with the
  same event id.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.paper.wire import JsonValue


class EmbedFaultKind(StrEnum):
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED = "expired"
    EXECUTION_FAILED = "execution_failed"
    CANCELLED = "cancelled"
    HTTP_429 = "http_429"
    HTTP_503 = "http_503"
    WEBHOOK_DUPLICATES = "webhook_duplicates"


REFUSALS = frozenset({EmbedFaultKind.HTTP_429, EmbedFaultKind.HTTP_503})
"""Faults that turn an Execute Quote away before the quote is looked at."""

QUOTE_FAULTS = frozenset(
    {
        EmbedFaultKind.INSUFFICIENT_FUNDS,
        EmbedFaultKind.EXPIRED,
        EmbedFaultKind.EXECUTION_FAILED,
        EmbedFaultKind.CANCELLED,
    }
)
"""Faults that change what happens to a quote that could be executed."""


class EmbedFaultSpec(BaseModel):
    """One fault as ``POST /_paper/embed/faults`` takes it; ``count: null`` lasts until cleared."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EmbedFaultKind
    count: int | None = Field(default=1, ge=1)
    copies: int = Field(default=2, ge=1, le=20)


class EmbedFault:
    """An injected fault and how many more executions or events it will hit."""

    def __init__(self, fault_id: int, spec: EmbedFaultSpec) -> None:
        self.id = fault_id
        self.spec = spec
        self.remaining = spec.count

    @property
    def live(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "kind": self.spec.kind.value,
            "count": self.spec.count,
            "remaining": self.remaining,
            "copies": self.spec.copies,
        }


class EmbedFaultBook:
    """The faults in force; the oldest live one of the kinds asked for applies."""

    def __init__(self) -> None:
        self._faults: list[EmbedFault] = []
        self._ids = itertools.count(1)

    def add(self, spec: EmbedFaultSpec) -> EmbedFault:
        fault = EmbedFault(next(self._ids), spec)
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def all(self) -> list[EmbedFault]:
        return [fault for fault in self._faults if fault.live]

    def take(self, kinds: Collection[EmbedFaultKind]) -> EmbedFaultSpec | None:
        """The oldest live fault of one of ``kinds``, consumed once, or ``None``."""
        for fault in self._faults:
            if fault.live and fault.spec.kind in kinds:
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault.spec
        return None
