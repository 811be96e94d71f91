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

A replica recording a signal may also ask the script to deliver the new entry at once to its
own consumer in the bindings' consumer group (``XREADGROUP … >`` inside the same script), so it
can trade it without waiting for its consumer to read it. The script does so only when the group
has delivered every earlier entry, so it takes exactly the entry it added: once the script has
run, the entry is pending for that consumer as if its consumer had read it, and no other
replica's ``>`` read ever gets it (bindings/consumer.py explains the rest). The same script
can read one counter for the caller as of the recording (the bindings' version, so the trader
that takes the signal knows whether its cached bindings are current without another read).

Keys:
    signal:signals                      stream of signals, trimmed to about ``maxlen`` entries
    signal:dedupe:<source>:<external>   hash: id and fields of the recorded signal, with a TTL
    signal:source:<source>              subject that owns an external source name
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from services.common.batched_script import BatchedScript
from services.common.logs import log_off_path
from services.signal.signals.errors import OutOfRange, PermissionDenied
from services.signal.signals.model import RULE_SOURCE, SignalRecord
from services.signal.signals.validation import StreamFilter, id_order

log = logging.getLogger(__name__)

# How long "signal recorded" waits: a delivered signal's PlaceOrder leaves about 0.5 ms after
# the record on the bench's VM, and its answer takes a few ms more, so the line is written while
# signal waits for that answer.
SIGNAL_LOG_DELAY_S = 0.002

STREAM = "signal:signals"


def dedupe_key(source: str, external_id: str) -> str:
    return f"signal:dedupe:{source}:{external_id}"


def source_key(source: str) -> str:
    return f"signal:source:{source}"


# KEYS: stream, dedupe key, source owner key, a counter to read back (optional).
# ARGV: maxlen, dedupe ttl seconds, check owner ("1"/"0"), publisher, consumer group and
# consumer to deliver the new entry to ("" and "": none), then field, value, ...
# Answers {'owned', owner}, {'duplicate', fields} or {'new', id, delivered (1/0), counter}.
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
for i = 7, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
-- Deliver only when the group has delivered every entry so far: then ">" yields the new one.
local caught_up = false
if ARGV[5] ~= '' then
  local has_stream, stream = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
  local has_groups, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if has_stream and has_groups then
    local top
    for i = 1, #stream, 2 do
      if stream[i] == 'last-generated-id' then top = stream[i + 1] end
    end
    for _, group in ipairs(groups) do
      local name, delivered
      for i = 1, #group, 2 do
        if group[i] == 'name' then name = group[i + 1] end
        if group[i] == 'last-delivered-id' then delivered = group[i + 1] end
      end
      if name == ARGV[5] and delivered == top then caught_up = true end
    end
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
redis.call('HSET', KEYS[2], 'id', id, unpack(fields))
redis.call('EXPIRE', KEYS[2], ARGV[2])
local delivered = 0
if caught_up then
  local read = redis.call(
    'XREADGROUP', 'GROUP', ARGV[5], ARGV[6], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
  if read and read[1][2][1][1] == id then delivered = 1 end
end
local counter = ''
if KEYS[4] then counter = redis.call('GET', KEYS[4]) or '0' end
return {'new', id, delivered, counter}
"""


@dataclass(frozen=True)
class Recorded:
    """A signal as recorded, whether it had been before, and whether this call delivered its
    new entry to the consumer it named (which must then act on it, or leave it pending);
    ``counter``: the value of the counter it was asked to read, as of the recording."""

    signal: SignalRecord
    duplicate: bool
    delivered: bool = False
    counter: int | None = None


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
        self._record = BatchedScript(client, _RECORD)

    async def record(self, signal: SignalRecord) -> tuple[SignalRecord, bool]:
        """The signal as recorded (with its id), and whether it had been recorded before."""
        recorded = await self.record_for(signal, group="", consumer="")
        return recorded.signal, recorded.duplicate

    async def record_for(
        self, signal: SignalRecord, *, group: str, consumer: str, counter: str = ""
    ) -> Recorded:
        """Record the signal and, when it is new and ``group`` has no undelivered entry, deliver
        it to ``consumer`` in the same step (``group`` "" delivers nothing); a new signal's
        record also carries the integer at key ``counter`` (when given) as of that step."""
        external = signal.source != RULE_SOURCE
        flat = [item for pair in signal.to_fields().items() for item in pair]
        keys = [STREAM, dedupe_key(signal.source, signal.external_id), source_key(signal.source)]
        reply = await self._record(
            keys=[*keys, counter] if counter else keys,
            args=[
                self._maxlen,
                self._dedupe_ttl,
                "1" if external else "0",
                signal.published_by,
                group,
                consumer,
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
            return Recorded(SignalRecord.from_fields(fields.pop("id"), fields), duplicate=True)
        recorded = signal.recorded_as(str(value))
        # A signal delivered to this replica's trader is on its way to PlaceOrder, several loop
        # turns from here; the line is written once that call has left. Every record's line
        # waits the same, delivered or not.
        log_off_path(
            log,
            "signal recorded",
            after=SIGNAL_LOG_DELAY_S,
            extra={
                "signal_id": recorded.id,
                "source": recorded.source,
                "external_id": recorded.external_id,
                "pair": recorded.pair,
                "rule_id": recorded.rule_id,
            },
        )
        return Recorded(
            recorded,
            duplicate=False,
            delivered=int(reply[2]) == 1,
            counter=int(reply[3]) if counter else None,
        )

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
