"""Bindings in Redis, shared by every replica, and the per-signal order intents they act on.

Keys:
    signal:bindings:by_creation             sorted set of every binding id, scored by a
                                            creation sequence (listing order)
    signal:bindings:sequence                that sequence
    signal:bindings:version                 counter, advanced by every create, delete, pause and
                                            resume (traders reload the bindings they cached)
    signal:binding:<id>                     hash: ``spec`` (the Binding proto as JSON) and the
                                            status fields (state, pause_reason, update_ms,
                                            last_signal_id, last_client_order_id, last_error,
                                            failures)
    signal:bindings:rule:<rule id>          set of the bindings a rule triggers
    signal:bindings:source:<source>         set of the bindings an external source triggers
    signal:binding:<id>:cooldown            the signal that started the binding's cooldown (PX)
    signal:intent:<binding id>:<signal id>  hash: the PlaceOrderRequest for that signal, and
                                            its outcome once execution answered definitely

An intent is written once, before the trader reads the first PlaceOrder's answer (and before
that is sent, unless the order is sized from the binding and the signal alone: trader.py): a
signal that is delivered again (a replica died before XACK) is placed with the very same
request, so execution's idempotency on ``client_order_id`` answers with the order already
placed. Every status change is a script that writes only when the binding still exists, so a
deleted binding is never brought back.

Traders read the bindings a signal triggers from a per-process cache that is good while
``signal:bindings:version`` is unchanged, checked on every signal: a pause takes effect on the
next signal on every replica, without the bindings being read from Redis for each signal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from google.protobuf import json_format

from services.common.batched_script import BatchedScript
from services.signal.bindings.model import (
    ACTIVE,
    PAUSED,
    Binding,
    BindingSpec,
    BindingStatus,
)
from services.signal.bindings.validation import parse_spec
from services.signal.rules.store import RULES, rule_bindings_key
from services.signal.signals.errors import InvalidArgument, NotFound
from trading.execution.v1 import execution_pb2
from trading.signal.v1 import signal_pb2

log = logging.getLogger(__name__)

BINDINGS = "signal:bindings:by_creation"
SEQUENCE = "signal:bindings:sequence"
VERSION = "signal:bindings:version"
# An intent must outlive every redelivery of its signal; a signal older than the configured
# maximum delay (at most an hour) is never placed, so a day is ample.
INTENT_TTL = 86_400


def binding_key(binding_id: str) -> str:
    return f"signal:binding:{binding_id}"


def source_bindings_key(source: str) -> str:
    return f"signal:bindings:source:{source}"


def cooldown_key(binding_id: str) -> str:
    return f"signal:binding:{binding_id}:cooldown"


def intent_key(binding_id: str, signal_id: str) -> str:
    return f"signal:intent:{binding_id}:{signal_id}"


def trigger_key(spec: BindingSpec) -> str:
    if spec.rule_id:
        return rule_bindings_key(spec.rule_id)
    return source_bindings_key(spec.signal_source)


# KEYS: binding hash, creation order, trigger set, rules hash, sequence, version.
# ARGV: id, rule id or "", field, value...
_CREATE = """
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[2]) == 0 then
  return 0
end
local fields = {}
for i = 3, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[5]), ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[6])
return 1
"""

# KEYS: binding hash, version. ARGV: field, value... Writes only to an existing binding.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('INCR', KEYS[2])
return 1
"""

# KEYS: binding hash, version. ARGV: now ms, signal id, client order id, error ("" = success),
# max failures (0 = never pause), pause reason.
_OUTCOME = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return ''
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'last_signal_id', ARGV[2], 'last_client_order_id', ARGV[3])
end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'last_error', '', 'failures', 0, 'update_ms', ARGV[1])
  return ''
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[4], 'update_ms', ARGV[1])
local most = tonumber(ARGV[5])
if most > 0 and failures >= most and redis.call('HGET', KEYS[1], 'state') == 'active' then
  redis.call('HSET', KEYS[1], 'state', 'paused', 'pause_reason', ARGV[6] .. ARGV[4])
  redis.call('INCR', KEYS[2])
  return 'paused'
end
return ''
"""

# KEYS: intent, cooldown. ARGV: request JSON, cooldown ms, ttl s, signal id.
# Answers {kind, request, outcome}: kind "existing", "new" or "cooldown".
_CLAIM = """
local request = redis.call('HGET', KEYS[1], 'request')
if request then
  return {'existing', request, redis.call('HGET', KEYS[1], 'outcome') or ''}
end
local outcome = redis.call('HGET', KEYS[1], 'outcome')
if outcome then
  return {'existing', '', outcome}
end
if tonumber(ARGV[2]) > 0 then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[4] then
    redis.call('HSET', KEYS[1], 'outcome', 'skipped: within the binding cooldown')
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return {'cooldown', '', ''}
  end
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
end
redis.call('HSET', KEYS[1], 'request', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {'new', ARGV[1], ''}
"""


@dataclass(frozen=True)
class Intent:
    """The order a binding places for one signal; ``outcome`` once execution answered."""

    request: execution_pb2.PlaceOrderRequest | None
    outcome: str
    in_cooldown: bool = False


def _decode(fields: dict[str, str]) -> Binding:
    stored = json_format.Parse(fields["spec"], signal_pb2.Binding())
    spec = parse_spec(
        stored,
        binding_id=stored.id,
        team=stored.team,
        create_ms=int(stored.create_time.ToMilliseconds()),
    )
    status = BindingStatus(
        state=fields.get("state", ACTIVE),
        pause_reason=fields.get("pause_reason", ""),
        update_ms=int(fields.get("update_ms", spec.create_ms)),
        last_signal_id=fields.get("last_signal_id", ""),
        last_client_order_id=fields.get("last_client_order_id", ""),
        last_error=fields.get("last_error", ""),
        failures=int(fields.get("failures", 0)),
    )
    return Binding(spec, status)


def _request_text(request: execution_pb2.PlaceOrderRequest) -> str:
    return json_format.MessageToJson(request, indent=None)


class BindingStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._create = BatchedScript(client, _CREATE)
        self._update = BatchedScript(client, _UPDATE)
        self._outcome = BatchedScript(client, _OUTCOME)
        self._claim = BatchedScript(client, _CLAIM)
        # Trigger key → the bindings it triggers, as of ``_version`` of signal:bindings:version.
        self._triggered: dict[str, list[Binding]] = {}
        self._version: int | None = None

    async def create(self, spec: BindingSpec, *, paused: bool) -> Binding:
        """Store a new binding; InvalidArgument when its rule was deleted meanwhile."""
        status = BindingStatus(
            state=PAUSED if paused else ACTIVE,
            pause_reason="created paused" if paused else "",
            update_ms=spec.create_ms,
            last_signal_id="",
            last_client_order_id="",
            last_error="",
            failures=0,
        )
        fields = {
            "spec": json_format.MessageToJson(spec.to_proto(), indent=None),
            "state": status.state,
            "pause_reason": status.pause_reason,
            "update_ms": str(status.update_ms),
            "failures": "0",
        }
        created = await self._create(
            keys=[binding_key(spec.id), BINDINGS, trigger_key(spec), RULES, SEQUENCE, VERSION],
            args=[spec.id, spec.rule_id, *(item for pair in fields.items() for item in pair)],
        )
        if not created:
            raise InvalidArgument("rule_id", f"no rule {spec.rule_id}")
        log.info(
            "binding created",
            extra={
                "binding_id": spec.id,
                "pair": spec.pair,
                "rule_id": spec.rule_id,
                "signal_source": spec.signal_source,
                "team": spec.team,
                "state": status.state,
            },
        )
        return Binding(spec, status)

    async def get(self, binding_id: str) -> Binding | None:
        fields = _strings(await self._client.hgetall(binding_key(binding_id)))
        return _decode(fields) if fields.get("spec") else None

    async def all(self) -> list[Binding]:
        """Every binding, in the order they were created."""
        # Without WITHSCORES ZRANGE answers members only; redis-py types every variant.
        return await self._many(cast(list[str], await self._client.zrange(BINDINGS, 0, -1)))

    async def triggered_by(
        self, *, rule_id: str, source: str, version: int | None = None
    ) -> list[Binding]:
        """The bindings a signal of this rule (or this external source) triggers.

        From the cache while no binding was created, deleted, paused or resumed since it was
        filled; status fields other than the state may be older than that. ``version``: the
        bindings' version read with the signal's recording (else it is read now): a change
        before the signal was recorded always counts.
        """
        key = rule_bindings_key(rule_id) if rule_id else source_bindings_key(source)
        if version is None:
            version = int(await self._client.get(VERSION) or 0)
        if version != self._version:
            self._triggered.clear()
            self._version = version
        cached = self._triggered.get(key)
        if cached is None:
            found = await self._many(await self._client.smembers(key))
            cached = sorted(found, key=lambda b: (b.spec.create_ms, b.spec.id))
            # Read after the version: a change meanwhile makes the next call read again.
            self._triggered[key] = cached
        return list(cached)

    async def set_state(self, binding_id: str, state: str, reason: str, now_ms: int) -> Binding:
        """Pause or resume; NotFound when the binding does not exist (any more)."""
        fields = ["state", state, "pause_reason", reason, "update_ms", str(now_ms)]
        if state == ACTIVE:
            fields += ["failures", "0"]
        if not await self._update(keys=[binding_key(binding_id), VERSION], args=fields):
            raise NotFound(f"no binding {binding_id}")
        log.warning(
            "binding paused" if state == PAUSED else "binding resumed",
            extra={"binding_id": binding_id, "reason": reason},
        )
        binding = await self.get(binding_id)
        if binding is None:
            raise NotFound(f"no binding {binding_id}")
        return binding

    async def delete(self, binding: Binding) -> None:
        spec = binding.spec
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(binding_key(spec.id), cooldown_key(spec.id))
            pipe.zrem(BINDINGS, spec.id)
            pipe.srem(trigger_key(spec), spec.id)
            pipe.incr(VERSION)
            await pipe.execute()
        log.info("binding deleted", extra={"binding_id": spec.id})

    async def record_outcome(
        self,
        binding_id: str,
        signal_id: str,
        *,
        client_order_id: str,
        error: str,
        now_ms: int,
        max_failures: int,
    ) -> bool:
        """Record what a signal did on the binding; True when this failure paused it."""
        paused = await self._outcome(
            keys=[binding_key(binding_id), VERSION],
            args=[
                now_ms,
                signal_id,
                client_order_id,
                error,
                max_failures,
                f"paused by the service after {max_failures} failures in a row; last: ",
            ],
        )
        return str(paused) == "paused"

    async def intent(self, binding_id: str, signal_id: str) -> Intent | None:
        fields = _strings(await self._client.hgetall(intent_key(binding_id, signal_id)))
        if not fields:
            return None
        return Intent(_parse_request(fields.get("request", "")), fields.get("outcome", ""))

    async def claim_intent(
        self,
        spec: BindingSpec,
        signal_id: str,
        request: execution_pb2.PlaceOrderRequest,
    ) -> Intent:
        """Record the order for a signal unless one is recorded already (then that one wins), or
        the binding's cooldown holds (then the signal is skipped for good)."""
        kind, text, outcome = await self._claim(
            keys=[intent_key(spec.id, signal_id), cooldown_key(spec.id)],
            args=[_request_text(request), spec.cooldown_ms, INTENT_TTL, signal_id],
        )
        if kind == "cooldown":
            return Intent(None, "", in_cooldown=True)
        return Intent(_parse_request(str(text)), str(outcome))

    async def finish_intent(self, binding_id: str, signal_id: str, outcome: str) -> None:
        key = intent_key(binding_id, signal_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, "outcome", outcome)
            pipe.expire(key, INTENT_TTL)
            await pipe.execute()

    async def _many(self, ids: Iterable[bytes | str]) -> list[Binding]:
        async with self._client.pipeline(transaction=False) as pipe:
            for binding_id in ids:
                pipe.hgetall(binding_key(_text(binding_id)))
            replies: list[Any] = await pipe.execute()
        stored = [_strings(reply) for reply in replies]
        return [_decode(fields) for fields in stored if fields.get("spec")]


def _text(value: bytes | str) -> str:
    """A Redis reply as str: the client decodes replies, but redis-py types them bytes | str."""
    return value.decode() if isinstance(value, bytes) else value


def _strings(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in reply.items()}


def _parse_request(text: str) -> execution_pb2.PlaceOrderRequest | None:
    if not text:
        return None
    return json_format.Parse(text, execution_pb2.PlaceOrderRequest())
