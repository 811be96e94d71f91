"""The signal stream: every signal, rule or external, in the Redis stream ``signal:signals``.

Recording is one Lua script, so it is atomic across replicas: it checks the source's owner,
looks up the dedupe key of (source, external_id), and only when that key is new appends the
signal (``XADD … *``: Redis assigns the id) and writes the key as a hash holding the id and the
signal's fields. A repeat of the same (source, external_id) within the dedupe TTL returns the
recorded signal and appends nothing. Rule signals use source ``rule`` and an external id derived
from the rule and the market event (``<rule id>:<event ms>``), so evaluating one event twice, on
one replica or after a failover, records one signal.

Sources are owned: the first subject to publish under a source name owns it, and another
subject's PublishSignal to it is PERMISSION_DENIED, so no team can trigger another team's
bindings by publishing under its source.

Keys:
    signal:signals                      stream of signals, trimmed to about ``maxlen`` entries
    signal:dedupe:<source>:<external>   hash: id and fields of the recorded signal, with a TTL
    signal:source:<source>              subject that owns an external source name
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from services.signal.signals.errors import OutOfRange, PermissionDenied
from services.signal.signals.model import RULE_SOURCE, SignalRecord
from services.signal.signals.validation import StreamFilter, id_order

log = logging.getLogger(__name__)

STREAM = "signal:signals"


def dedupe_key(source: str, external_id: str) -> str:
    return f"signal:dedupe:{source}:{external_id}"


def source_key(source: str) -> str:
    return f"signal:source:{source}"


# KEYS: stream, dedupe key, source owner key.
# ARGV: maxlen, dedupe ttl seconds, check owner ("1"/"0"), publisher, then field, value, ...
_RECORD = """
if ARGV[3] == '1' then
  local owner = redis.call('GET', KEYS[3])
  if owner and owner ~= ARGV[4] then
    return {'owned', owner}
  end
end
local seen = redis.call('HGETALL', KEYS[2])
if #seen > 0 then
  return {'duplicate', seen}
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[3], ARGV[4], 'NX')
end
local fields = {}
for i = 5, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
redis.call('HSET', KEYS[2], 'id', id, unpack(fields))
redis.call('EXPIRE', KEYS[2], ARGV[2])
return {'new', id}
"""


def _pairs_to_dict(flat: list[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


class SignalStore:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        maxlen: int,
        dedupe_ttl: int,
        block_ms: int,
    ) -> None:
        self._client = client
        self._maxlen = maxlen
        self._dedupe_ttl = dedupe_ttl
        # A blocking read must end well inside the client's socket timeout.
        self._block_ms = block_ms
        self._record = client.register_script(_RECORD)

    async def record(self, signal: SignalRecord) -> tuple[SignalRecord, bool]:
        """The signal as recorded (with its id), and whether it had been recorded before."""
        external = signal.source != RULE_SOURCE
        flat = [item for pair in signal.to_fields().items() for item in pair]
        reply = await self._record(
            keys=[STREAM, dedupe_key(signal.source, signal.external_id), source_key(signal.source)],
            args=[
                self._maxlen,
                self._dedupe_ttl,
                "1" if external else "0",
                signal.published_by,
                *flat,
            ],
        )
        outcome, value = str(reply[0]), reply[1]
        if outcome == "owned":
            raise PermissionDenied(
                f"source {signal.source!r} belongs to {value}; publish under a source of your own"
            )
        if outcome == "duplicate":
            fields = _pairs_to_dict(value)
            return SignalRecord.from_fields(fields.pop("id"), fields), True
        recorded = signal.recorded_as(str(value))
        log.info(
            "signal recorded",
            extra={
                "signal_id": recorded.id,
                "source": recorded.source,
                "external_id": recorded.external_id,
                "pair": recorded.pair,
                "rule_id": recorded.rule_id,
            },
        )
        return recorded, False

    async def start_point(self, after: str) -> str:
        """Where to read from: ``after`` itself, the newest id for "" (live only), or "0".

        OUT_OF_RANGE when ``after`` is older than the first retained signal and signals were
        trimmed: some that followed it may be gone.
        """
        if after == "0":
            return after
        if not after:
            newest = await self._client.xrevrange(STREAM, count=1)
            return str(newest[0][0]) if newest else "0"
        if not await self._client.exists(STREAM):
            return after
        info: dict[str, Any] = await self._client.xinfo_stream(STREAM)
        first = info.get("first-entry")
        removed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
        if removed and first and id_order(after) < id_order(str(first[0])):
            # Signals older than the first retained one were trimmed: some of them may have
            # followed `after`.
            raise OutOfRange(
                f"after_signal_id {after} is older than the retained history, which starts at "
                f'{first[0]}; resume from "0"'
            )
        return after

    async def follow(self, start: str, wanted: StreamFilter) -> AsyncIterator[SignalRecord]:
        """Every signal after ``start`` that ``wanted`` admits, then live ones, until cancelled."""
        last = start
        while True:
            batches: Any = await self._client.xread({STREAM: last}, count=200, block=self._block_ms)
            for _stream, entries in batches or []:
                for entry_id, fields in entries:
                    last = str(entry_id)
                    signal = SignalRecord.from_fields(last, fields)
                    if wanted.wants(signal):
                        yield signal
