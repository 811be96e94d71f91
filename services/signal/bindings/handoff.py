"""The rule engine's signal sink on a replica that trades: record, and trade here at once.

Recording asks the script to deliver the new entry to this replica's consumer in the same step
(signals/store.py, ``record_for``); when it did, the entry is pending for this consumer exactly
as if its consumer had read it, and :meth:`SignalConsumer.take` acts on it without waiting for
a read from the group. The same step reads the bindings' version, so the trader knows whether
the bindings it cached are current without reading it again. When it did not deliver (the
group has older entries still undelivered, or is not created yet), the signal is traded by
whichever consumer reads it, in stream order.
"""

from __future__ import annotations

from services.signal.bindings.consumer import SignalConsumer
from services.signal.bindings.store import VERSION
from services.signal.signals.model import SignalRecord
from services.signal.signals.store import SignalStore


class LocalTrading:
    """A :class:`~services.signal.rules.engine.SignalSink` that hands new signals to the trader."""

    def __init__(self, signals: SignalStore, consumer: SignalConsumer) -> None:
        self._signals = signals
        self._consumer = consumer

    async def record(self, signal: SignalRecord) -> tuple[SignalRecord, bool]:
        recorded = await self._signals.record_for(
            signal, group=self._consumer.group, consumer=self._consumer.name, counter=VERSION
        )
        if recorded.delivered:
            self._consumer.take(recorded.signal, recorded.counter)
        return recorded.signal, recorded.duplicate
