"""The kill switches, global and per team, in Redis; each change is audited in the same step.

The check script reads the switches itself, so an order checked after an engage is refused on
every replica at once. Execution learns of an engage from the audit stream (`risk:audit`,
kind ``kill_switch``) and cancels the open orders in scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from services.risk import keys
from services.risk.limits import timestamp
from trading.risk.v1 import risk_pb2

_SET_KILL_SWITCH = """
local old = redis.call('HGETALL', KEYS[1])
local previous = {}
for i = 1, #old, 2 do previous[old[i]] = old[i + 1] end
local old_json = ''
if #old > 0 then old_json = cjson.encode(previous) end
redis.call('HSET', KEYS[1], 'engaged', ARGV[1], 'reason', ARGV[2],
  'updated_by', ARGV[3], 'update_time', ARGV[4])
if ARGV[6] ~= '' then redis.call('SADD', KEYS[3], ARGV[6]) end
local new_json = cjson.encode({engaged = ARGV[1], reason = ARGV[2],
  updated_by = ARGV[3], update_time = ARGV[4]})
return redis.call('XADD', KEYS[2], '*', 'kind', 'kill_switch', 'scope', ARGV[7],
  'team', ARGV[6], 'changed_by', ARGV[3], 'change_time', ARGV[4], 'reason', ARGV[2],
  'request_id', ARGV[5], 'old', old_json, 'new', new_json)
"""

GLOBAL = "global"
TEAM = "team"


@dataclass(frozen=True)
class KillSwitch:
    """One switch: `team` is empty for the global one."""

    team: str
    engaged: bool
    reason: str = ""
    updated_by: str = ""
    update_time: datetime | None = None

    @property
    def scope(self) -> str:
        return TEAM if self.team else GLOBAL

    def to_proto(self) -> risk_pb2.KillSwitchState:
        state = risk_pb2.KillSwitchState(
            scope=risk_pb2.KILL_SWITCH_SCOPE_TEAM
            if self.team
            else risk_pb2.KILL_SWITCH_SCOPE_GLOBAL,
            team=self.team,
            engaged=self.engaged,
            reason=self.reason,
            updated_by=self.updated_by,
        )
        if self.update_time is not None:
            state.update_time.CopyFrom(timestamp(self.update_time))
        return state

    @classmethod
    def from_fields(cls, team: str, fields: dict[str, str]) -> KillSwitch:
        when = fields.get("update_time")
        return cls(
            team=team,
            engaged=fields.get("engaged") == "1",
            reason=fields.get("reason", ""),
            updated_by=fields.get("updated_by", ""),
            update_time=datetime.fromisoformat(when) if when else None,
        )


@dataclass(frozen=True)
class KillSwitchChange:
    state: KillSwitch
    change_id: str


class KillSwitchStore:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._script = client.register_script(_SET_KILL_SWITCH)

    async def set(
        self, team: str, engaged: bool, reason: str, changed_by: str, request_id: str
    ) -> KillSwitchChange:
        now = datetime.now(UTC)
        key = keys.kill_team(team) if team else keys.KILL_GLOBAL
        change_id = await self._script(
            keys=[key, keys.AUDIT, keys.KILL_TEAMS],
            args=[
                "1" if engaged else "0",
                reason,
                changed_by,
                now.isoformat(),
                request_id,
                team,
                TEAM if team else GLOBAL,
            ],
        )
        state = KillSwitch(team, engaged, reason, changed_by, now)
        return KillSwitchChange(state, keys.text(change_id))

    async def get_all(self, team: str = "") -> tuple[KillSwitch, list[KillSwitch]]:
        """The global switch and the team switches ever set (only `team`'s when given)."""
        members = await self._client.smembers(keys.KILL_TEAMS)
        teams = [team] if team else sorted(keys.text(t) for t in members)
        pipe = self._client.pipeline(transaction=False)
        pipe.hgetall(keys.KILL_GLOBAL)
        for name in teams:
            pipe.hgetall(keys.kill_team(name))
        results = await pipe.execute()
        global_switch = KillSwitch.from_fields("", _decode(results[0]))
        team_switches = [
            KillSwitch.from_fields(name, _decode(fields))
            for name, fields in zip(teams, results[1:], strict=True)
            if fields
        ]
        return global_switch, team_switches


def state_from_json(team: str, text: str) -> KillSwitch | None:
    """A switch as recorded in the audit trail; None when it had never been set."""
    return KillSwitch.from_fields(team, json.loads(text)) if text else None


def _decode(fields: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {keys.text(k): keys.text(v) for k, v in fields.items()}
