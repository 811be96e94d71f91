"""Checks of PublishSignalRequest and StreamSignalsRequest; the first broken field is named."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.signal.signals import fields
from services.signal.signals.errors import InvalidArgument
from services.signal.signals.model import RULE_SOURCE, SignalRecord
from trading.signal.v1 import signal_pb2

_SOURCE = re.compile(r"^[a-z0-9._-]{1,64}$")
_STREAM_ID = re.compile(r"^(\d{1,20})(?:-(\d{1,20}))?$")
MAX_EXTERNAL_ID = 128
MAX_REASON = 500
MAX_FUTURE_MS = 5 * 60_000
MAX_FILTERS = 100


def source_name(text: str, field: str) -> str:
    if not _SOURCE.match(text):
        raise InvalidArgument(field, "must be 1 to 64 characters of [a-z0-9._-]")
    if text == RULE_SOURCE:
        raise InvalidArgument(field, f"{RULE_SOURCE!r} is reserved for rule signals")
    return text


def parse_publish(
    request: signal_pb2.PublishSignalRequest, *, publisher: str, now_ms: int
) -> SignalRecord:
    """The signal a valid request describes, published by ``publisher`` (the token subject)."""
    source = source_name(request.source, "source")
    if not 1 <= len(request.external_id) <= MAX_EXTERNAL_ID:
        raise InvalidArgument("external_id", f"is required: 1 to {MAX_EXTERNAL_ID} characters")
    if not request.external_id.isprintable():
        raise InvalidArgument("external_id", "must be printable text")
    pair = fields.pair(request.pair)
    side = fields.side(request.side)
    strength = fields.unit_fraction(request.strength, "strength")
    if len(request.reason) > MAX_REASON:
        raise InvalidArgument("reason", f"must be at most {MAX_REASON} characters")
    price = fields.positive_decimal(request.price, "price") if request.price else None
    time_ms = now_ms
    if request.HasField("time"):
        time_ms = int(request.time.ToMilliseconds())
        if time_ms > now_ms + MAX_FUTURE_MS:
            raise InvalidArgument("time", "must be at most 5 minutes in the future")
        if time_ms <= 0:
            raise InvalidArgument("time", "must be after 1970")
    return SignalRecord(
        pair=pair,
        side=side,
        strength=strength,
        reason=request.reason,
        source=source,
        external_id=request.external_id,
        time_ms=time_ms,
        price=price,
        published_by=publisher,
    )


@dataclass(frozen=True)
class StreamFilter:
    """Which signals a subscriber wants; an empty set means all."""

    pairs: frozenset[str]
    sources: frozenset[str]
    rule_ids: frozenset[str]

    def wants(self, signal: SignalRecord) -> bool:
        return (
            (not self.pairs or signal.pair in self.pairs)
            and (not self.sources or signal.source in self.sources)
            and (not self.rule_ids or signal.rule_id in self.rule_ids)
        )


def parse_stream(request: signal_pb2.StreamSignalsRequest) -> tuple[str, StreamFilter]:
    """The resume point ("" for live only, "0" for all retained, else a stream id) and filter."""
    after = request.after_signal_id
    if after and after != "0":
        after = stream_id(after, "after_signal_id")
    for name, values in (
        ("pairs", request.pairs),
        ("sources", request.sources),
        ("rule_ids", request.rule_ids),
    ):
        if len(values) > MAX_FILTERS:
            raise InvalidArgument(name, f"at most {MAX_FILTERS} values")
    pairs = frozenset(fields.pair(p, f"pairs[{i}]") for i, p in enumerate(request.pairs))
    sources = frozenset(request.sources)
    return after, StreamFilter(pairs, sources, frozenset(request.rule_ids))


def stream_id(text: str, field: str) -> str:
    """A Redis stream id ("1700000000000-0", or "1700000000000" for its first sequence)."""
    found = _STREAM_ID.match(text)
    if found is None:
        raise InvalidArgument(field, f"{text[:40]!r} is not a signal id, e.g. 1700000000000-0")
    return f"{found.group(1)}-{found.group(2) or 0}"


def id_order(signal_id: str) -> tuple[int, int]:
    """A stream id as a comparable (milliseconds, sequence) pair."""
    millis, _, sequence = signal_id.partition("-")
    return int(millis), int(sequence or 0)
