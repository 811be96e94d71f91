"""Rules in Redis, shared by every replica.

Keys:
    signal:rules                    hash: rule id → the Rule proto as JSON
    signal:rules:by_creation        sorted set: rule id, scored by the version its create took
    signal:rules:version            counter, advanced by every create and delete (engines reload)
    signal:bindings:rule:<id>       set of the bindings a rule triggers (written by bindings/store)

Create and delete are one script each, so a rule is never deleted while a binding uses it, and
listing order is creation order even for rules created within one millisecond.
"""

from __future__ import annotations

import logging
from typing import cast

import redis.asyncio as aioredis
from google.protobuf import json_format

from services.signal.rules.model import Rule
from services.signal.rules.validation import parse_stored
from services.signal.signals.errors import FailedPrecondition, NotFound
from trading.signal.v1 import signal_pb2

log = logging.getLogger(__name__)

RULES = "signal:rules"
BY_CREATION = "signal:rules:by_creation"
VERSION = "signal:rules:version"


def rule_bindings_key(rule_id: str) -> str:
    return f"signal:bindings:rule:{rule_id}"


# KEYS: rules hash, creation order, version. ARGV: rule id, the rule as JSON.
_CREATE = """
local seq = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
return seq
"""

# KEYS: rules hash, the rule's bindings set, version, creation order. ARGV: rule id.
_DELETE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return {'missing', 0}
end
local used = redis.call('SCARD', KEYS[2])
if used > 0 then
  return {'in_use', used}
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('INCR', KEYS[3])
return {'deleted', 0}
"""


def _decode(text: str) -> Rule:
    return parse_stored(json_format.Parse(text, signal_pb2.Rule()))


class RuleStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._create = client.register_script(_CREATE)
        self._delete = client.register_script(_DELETE)

    async def create(self, rule: Rule) -> None:
        text = json_format.MessageToJson(rule.to_proto(), indent=None)
        await self._create(keys=[RULES, BY_CREATION, VERSION], args=[rule.id, text])
        log.info(
            "rule created",
            extra={"rule_id": rule.id, "pair": rule.pair, "kind": type(rule.kind).__name__},
        )

    async def get(self, rule_id: str) -> Rule | None:
        text = await self._client.hget(RULES, rule_id)
        return None if text is None else _decode(str(text))

    async def all(self) -> list[Rule]:
        """Every rule, in the order they were created."""
        # Without WITHSCORES ZRANGE answers members only; redis-py types every variant.
        ids = cast(list[str], await self._client.zrange(BY_CREATION, 0, -1))
        if not ids:
            return []
        stored = await self._client.hmget(RULES, ids)
        return [_decode(str(text)) for text in stored if text is not None]

    async def version(self) -> int:
        return int(await self._client.get(VERSION) or 0)

    async def delete(self, rule_id: str) -> None:
        """Delete a rule; NotFound, or FailedPrecondition while a binding uses it."""
        outcome, used = await self._delete(
            keys=[RULES, rule_bindings_key(rule_id), VERSION, BY_CREATION], args=[rule_id]
        )
        if outcome == "missing":
            raise NotFound(f"no rule {rule_id}")
        if outcome == "in_use":
            raise FailedPrecondition(
                f"rule {rule_id} is used by {used} binding(s); delete them first"
            )
        log.info("rule deleted", extra={"rule_id": rule_id})
