"""When tickers leave the WebSocket and AddOrders arrive, on one clock, for tick-to-trade timing.

The paper exchange sits at both ends of the platform's tick-to-trade path: it sends the ticker
the signal service reacts to and receives the AddOrder that reaction becomes. Stamping both here
with one process clock (``time.monotonic_ns``) makes the difference a latency free of clock skew
between processes. ``GET /_paper/timeline`` serves the events (see :mod:`services.paper.admin_api`).

``ws_ticker_sent`` is stamped right before the message is handed to the socket, so no reader can
have it earlier: a latency measured from it includes the write and never reads short.

Recording is a clock read and a ``deque.append`` of a small frozen record: cheap enough to stay
on for every message. The ring keeps the newest :data:`TIMELINE_EVENTS` events; older ones go.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from services.paper.wire import JsonValue

TIMELINE_EVENTS = 10_000


class EventKind(StrEnum):
    """What happened: a ``ticker`` message handed to the socket, or an AddOrder come in."""

    WS_TICKER_SENT = "ws_ticker_sent"
    ADD_ORDER_RECEIVED = "add_order_received"


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One stamped event; ``pair`` is the WebSocket v2 symbol (``BTC/USD``) when it is known."""

    kind: EventKind
    pair: str
    t_ns: int
    cl_ord_id: str | None = None

    def as_json(self) -> dict[str, JsonValue]:
        entry: dict[str, JsonValue] = {
            "kind": self.kind.value,
            "pair": self.pair,
            "t_ns": self.t_ns,
        }
        if self.cl_ord_id is not None:
            entry["cl_ord_id"] = self.cl_ord_id
        return entry


def now_ns() -> int:
    """The timeline's clock: monotonic, so a wall-clock step never reorders two events."""
    return time.monotonic_ns()


class Timeline:
    """A bounded ring of events in the order recorded.

    That is also ``t_ns`` order but for AddOrders arriving together: each is stamped on arrival
    and recorded once its body is parsed, so one may land after a later-stamped event.
    """

    def __init__(self, maxlen: int = TIMELINE_EVENTS) -> None:
        self._events: deque[TimelineEvent] = deque(maxlen=maxlen)

    def ticker_sent(self, pair: str) -> None:
        self._events.append(TimelineEvent(EventKind.WS_TICKER_SENT, pair, now_ns()))

    def add_order_received(self, pair: str, cl_ord_id: str | None, t_ns: int) -> None:
        """``t_ns`` is taken by the caller on arrival, before the body was read and parsed."""
        self._events.append(TimelineEvent(EventKind.ADD_ORDER_RECEIVED, pair, t_ns, cl_ord_id))

    def events(
        self,
        *,
        after_ns: int | None = None,
        kind: EventKind | None = None,
        pair: str | None = None,
    ) -> Iterator[TimelineEvent]:
        """The events kept, in the order recorded, stamped after ``after_ns``, of that kind and
        pair."""
        # A snapshot: the event loop may append while a caller iterates.
        for event in list(self._events):
            if (
                (after_ns is None or event.t_ns > after_ns)
                and (kind is None or event.kind is kind)
                and (pair is None or event.pair == pair)
            ):
                yield event
