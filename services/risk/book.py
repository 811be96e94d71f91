"""The reservation book in Redis: check-and-reserve and settle, each one Lua script.

`RESERVE` evaluates the rules that depend on shared state (kill switch, open orders, team daily
notional, position, reduce-only) and, when nothing failed, reserves the exposure, all in one
atomic step: concurrent checks on any number of replicas cannot together pass a limit.
`SETTLE` applies an outcome's absolute targets (see outcomes.py) guarded by the progress the
caller read, so concurrent reports of one reservation apply in turn and repeats change nothing.

A check of an id that is already reserved answers EXISTS (the same approval again) when it is for
the same order (its fingerprint), and CONFLICT when it is for another: execution asks risk while
it claims the id, so a client reusing an id for a different order must not borrow the first
order's reservation. A reservation closed as NOT_SENT is decided afresh: nothing was sent for it,
and execution freed the id for a retry.

Each approval of a reservation is numbered (its ``grant``: 1 for the check that reserved, one
more for each EXISTS, and on after a NOT_SENT reservation is decided afresh). A NOT_SENT report
names the grant it gives back, and `SETTLE` applies it only while that is still the latest: a
report that arrives late, after a retry of the same order was approved on the same reservation,
must not free the exposure the retry's order now holds.

Amounts travel as integer strings of 10**-8 units (amounts.py); the scripts format every number
they write with ``%.0f`` so large integers never turn into exponent notation (and zero as
"0", never the "-0" HINCRBY refuses).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
import redis.asyncio as aioredis

from services.common.batched_script import BatchedScript
from services.risk import keys
from services.risk.amounts import to_units
from services.risk.outcomes import (
    LAPSED,
    LegState,
    OutcomeReport,
    ReservationState,
    SettleTarget,
    settle_target,
)
from services.risk.rules import Leg

TEAM_DAY_TTL = 40 * 86400

RESERVE = """
local function num(x) return tonumber(x or '0') or 0 end
local function s(x) if x == 0 then return '0' end return string.format('%.0f', x) end
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return {'STALE'} end
local n = tonumber(ARGV[13])
local fingerprint = ARGV[15 + n * 4] or ''
local grant = 1
if redis.call('EXISTS', KEYS[2]) == 1 then
  local r = redis.call('HMGET', KEYS[2], 'notional', 'expire_at', 'limits_version', 'state',
    'outcome', 'fingerprint', 'grant')
  if r[4] == 'closed' and r[5] == 'NOT_SENT' then
    -- Granted afresh: the count goes on, so no report of an earlier grant can match this one.
    grant = num(r[7]) + 1
    redis.call('DEL', KEYS[2])
  elseif r[6] and r[6] ~= '' and r[6] ~= fingerprint then
    return {'CONFLICT'}
  else
    return {'EXISTS', r[1], r[2], r[3], redis.call('HINCRBY', KEYS[2], 'grant', 1)}
  end
end
local failed = {}
local function fail(code, subject, a, b, c)
  for _, v in ipairs({code, subject, a, b, c}) do table.insert(failed, v) end
end
local team = ARGV[10]
local reduce_only = ARGV[4] == '1'
if not reduce_only then
  if redis.call('HGET', KEYS[4], 'engaged') == '1' then
    fail('KILL_SWITCH', 'global', '', '', '')
  end
  if redis.call('HGET', KEYS[5], 'engaged') == '1' then
    fail('KILL_SWITCH', team, '', '', '')
  end
end
local max_open = num(ARGV[8])
local open = num(redis.call('HGET', KEYS[6], 'open_orders'))
if ARGV[9] == '1' and max_open > 0 and open + 1 > max_open then
  fail('MAX_OPEN_ORDERS', team, s(open), s(max_open), '')
end
if ARGV[6] ~= '' then
  local day = redis.call('HMGET', KEYS[7], 'used', 'reserved')
  local used, reserved = num(day[1]), num(day[2])
  if used + reserved + num(ARGV[7]) > num(ARGV[6]) then
    fail('TEAM_DAILY_NOTIONAL', team, s(used), s(reserved), ARGV[6])
  end
end
for i = 1, n do
  local at = 13 + (i - 1) * 4
  local asset, direction = ARGV[at + 1], tonumber(ARGV[at + 2])
  local amount, max = num(ARGV[at + 3]), ARGV[at + 4]
  local p = redis.call('HMGET', KEYS[9 + i], 'position', 'reserved_buy', 'reserved_sell')
  local held, rbuy, rsell = num(p[1]), num(p[2]), num(p[3])
  if reduce_only then
    if i == 1 and direction < 0 and held - rsell - amount < 0 then
      fail('REDUCE_ONLY', asset, s(held), s(rsell), '')
    elseif i == 1 and direction > 0 and held + rbuy + amount > 0 then
      fail('REDUCE_ONLY', asset, s(held), s(rbuy), '')
    end
  elseif max ~= '' then
    local reach = rsell + amount - held
    if direction > 0 then reach = held + rbuy + amount end
    if reach > num(max) then fail('MAX_POSITION', asset, s(reach), s(held), max) end
  end
end
if #failed > 0 or ARGV[3] ~= '1' then
  table.insert(failed, 1, 'DECIDED')
  return failed
end
for i = 1, n do
  local at = 13 + (i - 1) * 4
  local field = 'reserved_sell'
  if tonumber(ARGV[at + 2]) > 0 then field = 'reserved_buy' end
  redis.call('HINCRBY', KEYS[9 + i], field, ARGV[at + 3])
  redis.call('SADD', KEYS[8], ARGV[at + 1])
  redis.call('HSET', KEYS[2], 'asset' .. i, ARGV[at + 1], 'direction' .. i, ARGV[at + 2],
    'amount' .. i, ARGV[at + 3], 'left' .. i, ARGV[at + 3], 'filled' .. i, '0')
end
redis.call('HINCRBY', KEYS[7], 'reserved', ARGV[7])
redis.call('EXPIRE', KEYS[7], ARGV[14 + n * 4])
if ARGV[9] == '1' then redis.call('HINCRBY', KEYS[6], 'open_orders', 1) end
redis.call('SADD', KEYS[9], team)
redis.call('HSET', KEYS[2], 'state', 'open', 'team', team, 'day', ARGV[11], 'is_order', ARGV[9],
  'legs', n, 'notional', ARGV[7], 'notional_left', ARGV[7], 'notional_used', '0',
  'progress', '0', 'limits_version', ARGV[1], 'expire_at', ARGV[5], 'meta', ARGV[12],
  'fingerprint', fingerprint, 'grant', grant)
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
return {'RESERVED', grant}
"""

SETTLE = """
local function num(x) return tonumber(x or '0') or 0 end
local function s(x) if x == 0 then return '0' end return string.format('%.0f', x) end
local r = KEYS[1]
local now = redis.call('HMGET', r, 'state', 'progress', 'legs', 'notional_left',
  'notional_used', 'is_order', 'grant')
if now[1] ~= 'open' then return 0 end
-- A report naming an approval (ARGV[9]) applies only while it is the latest one.
if ARGV[9] ~= '' and (now[7] or '1') ~= ARGV[9] then return -2 end
if now[2] ~= ARGV[1] then return -1 end
for i = 1, tonumber(now[3]) do
  local leg = redis.call('HMGET', r, 'direction' .. i, 'left' .. i, 'filled' .. i)
  local direction, left, filled = tonumber(leg[1]), num(leg[2]), num(leg[3])
  local new_left, new_filled = num(ARGV[8 + 2 * i]), num(ARGV[9 + 2 * i])
  local field = 'reserved_sell'
  if direction > 0 then field = 'reserved_buy' end
  redis.call('HINCRBY', KEYS[4 + i], field, s(new_left - left))
  redis.call('HINCRBY', KEYS[4 + i], 'position', s(direction * (new_filled - filled)))
  redis.call('HSET', r, 'left' .. i, s(new_left), 'filled' .. i, s(new_filled))
end
redis.call('HINCRBY', KEYS[4], 'reserved', s(num(ARGV[3]) - num(now[4])))
redis.call('HINCRBY', KEYS[4], 'used', s(num(ARGV[4]) - num(now[5])))
redis.call('HSET', r, 'notional_left', ARGV[3], 'notional_used', ARGV[4], 'progress', ARGV[8])
if ARGV[2] == '1' then
  redis.call('HSET', r, 'state', 'closed', 'outcome', ARGV[5])
  redis.call('ZREM', KEYS[2], ARGV[6])
  if now[6] == '1' then redis.call('HINCRBY', KEYS[3], 'open_orders', -1) end
  redis.call('EXPIRE', r, ARGV[7])
end
return 1
"""

_SETTLE_ATTEMPTS = 8
# SETTLE's answer when the report names a grant older than the reservation's latest.
_GRANTED_AGAIN = -2


def _encode_meta(meta: Mapping[str, str]) -> str:
    """The reservation's descriptive fields as compact JSON, keys sorted (read by json.loads)."""
    return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True)
class ReservationRequest:
    """Everything the reserve script needs to decide on, and reserve for, one order or quote."""

    reservation_id: str
    team: str
    day: str
    is_order: bool
    legs: Sequence[Leg]
    notional: Decimal | None
    team_daily_limit: Decimal
    max_open_orders: int
    limits_version: int
    expire_at_ms: int
    reserve: bool
    reduce_only: bool = False
    meta: Mapping[str, str] = field(default_factory=dict)
    fingerprint: str = ""
    """What the reservation is for; a later check of the same id for anything else is refused
    (CONFLICT). Empty: not compared."""


@dataclass(frozen=True)
class BookFailure:
    code: str
    subject: str
    figures: list[str]


@dataclass(frozen=True)
class BookDecision:
    """RESERVED, DECIDED (failures, or nothing failed but nothing reserved), EXISTS, CONFLICT
    (the id is reserved for a different order) or STALE."""

    status: str
    failures: list[BookFailure] = field(default_factory=list)
    notional_units: int = 0
    expire_at_ms: int = 0
    limits_version: int = 0
    grant: int = 0
    """RESERVED and EXISTS: which approval of the reservation this is."""


@dataclass(frozen=True)
class SettleResult:
    applied: bool
    remaining_notional_units: int


@dataclass(frozen=True)
class AssetRow:
    asset: str
    position: int
    reserved_buy: int
    reserved_sell: int


@dataclass(frozen=True)
class TeamRow:
    team: str
    used: int
    reserved: int
    open_orders: int


class ReservationBook:
    """Reserves exposure for approved orders and quotes and settles their outcomes."""

    def __init__(self, client: aioredis.Redis, closed_ttl_seconds: int) -> None:
        self._client = client
        self._closed_ttl = closed_ttl_seconds
        self._reserve = BatchedScript(client, RESERVE)
        self._settle = BatchedScript(client, SETTLE)

    async def check(self, request: ReservationRequest) -> BookDecision:
        check_notional = request.notional is not None
        args: list[str | int] = [
            request.limits_version,
            request.reservation_id,
            int(request.reserve),
            int(request.reduce_only),
            request.expire_at_ms,
            to_units(request.team_daily_limit) if check_notional else "",
            to_units(request.notional) if request.notional is not None else 0,
            request.max_open_orders,
            int(request.is_order),
            request.team,
            request.day,
            _encode_meta(dict(request.meta)),
            len(request.legs),
        ]
        for leg in request.legs:
            args += [
                leg.asset,
                leg.direction,
                to_units(leg.amount),
                "" if leg.max_position is None else to_units(leg.max_position),
            ]
        args += [TEAM_DAY_TTL, request.fingerprint]
        reply: list[Any] = await self._reserve(
            keys=[
                keys.LIMITS,
                keys.reservation(request.reservation_id),
                keys.EXPIRY,
                keys.KILL_GLOBAL,
                keys.kill_team(request.team),
                keys.team(request.team),
                keys.team_day(request.team, request.day),
                keys.ASSETS,
                keys.TEAMS,
                *(keys.position(leg.asset) for leg in request.legs),
            ],
            args=args,
        )
        status = reply[0]
        if status == "EXISTS":
            return BookDecision(
                "EXISTS",
                notional_units=int(reply[1]),
                expire_at_ms=int(reply[2]),
                limits_version=int(reply[3]),
                grant=int(reply[4]),
            )
        if status == "RESERVED":
            return BookDecision(status, grant=int(reply[1]))
        failures = [
            BookFailure(reply[i], reply[i + 1], list(reply[i + 2 : i + 5]))
            for i in range(1, len(reply), 5)
        ]
        return BookDecision(status, failures)

    async def state(self, reservation_id: str) -> ReservationState | None:
        raw = await self._client.hgetall(keys.reservation(reservation_id))
        fields = {keys.text(k): keys.text(v) for k, v in raw.items()}
        if not fields:
            return None
        meta = json.loads(fields.get("meta", "{}"))
        legs = tuple(
            LegState(
                asset=fields[f"asset{i}"],
                direction=int(fields[f"direction{i}"]),
                amount=int(fields[f"amount{i}"]),
                left=int(fields[f"left{i}"]),
                filled=int(fields[f"filled{i}"]),
            )
            for i in range(1, int(fields["legs"]) + 1)
        )
        return ReservationState(
            reservation_id=reservation_id,
            kind=meta.get("kind", "order"),
            state=fields["state"],
            team=fields["team"],
            day=fields["day"],
            progress=int(fields["progress"]),
            legs=legs,
            notional=int(fields["notional"]),
            notional_left=int(fields["notional_left"]),
            notional_used=int(fields["notional_used"]),
            price=Decimal(meta["price"]) if meta.get("price") else None,
        )

    async def settle(
        self, reservation_id: str, report: OutcomeReport, notional_currency: str
    ) -> SettleResult | None:
        """Apply a report; None when risk never issued (or has forgotten) the reservation."""
        for _ in range(_SETTLE_ATTEMPTS):
            state = await self.state(reservation_id)
            if state is None:
                return None
            if not state.is_open:
                return SettleResult(False, 0)
            target = settle_target(state, report, notional_currency)
            if target is None:
                return SettleResult(False, state.notional_left)
            applied = await self._apply(state, target, report)
            if applied == _GRANTED_AGAIN:
                return SettleResult(False, state.notional_left)
            if applied >= 0:
                return SettleResult(True, target.notional_left)
        raise RuntimeError(
            f"reservation {reservation_id} kept changing under {_SETTLE_ATTEMPTS} reports"
        )

    async def _apply(
        self, state: ReservationState, target: SettleTarget, report: OutcomeReport
    ) -> int:
        args: list[str | int] = [
            state.progress,
            int(target.terminal),
            target.notional_left,
            target.notional_used,
            report.outcome,
            state.reservation_id,
            self._closed_ttl,
            target.progress,
            report.grant or "",
        ]
        for left, filled in target.legs:
            args += [left, filled]
        result = await self._settle(
            keys=[
                keys.reservation(state.reservation_id),
                keys.EXPIRY,
                keys.team(state.team),
                keys.team_day(state.team, state.day),
                *(keys.position(leg.asset) for leg in state.legs),
            ],
            args=args,
        )
        return int(result)

    async def lapsed(self, now_ms: int, limit: int = 100) -> list[str]:
        """Ids of open reservations whose time to live has passed."""
        found = await self._client.zrangebyscore(keys.EXPIRY, "-inf", now_ms, 0, limit)
        return [keys.text(item) for item in found if isinstance(item, bytes | str)]

    async def release_lapsed(self, reservation_id: str) -> bool:
        result = await self.settle(reservation_id, OutcomeReport(LAPSED), "")
        if result is None:
            await self._client.zrem(keys.EXPIRY, reservation_id)
            return False
        return result.applied

    async def assets(self, only: Sequence[str] = ()) -> list[AssetRow]:
        names = sorted(only) if only else await self._members(keys.ASSETS)
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(keys.position(name), "position", "reserved_buy", "reserved_sell")
        rows = await pipe.execute()
        return [
            AssetRow(name, *(int(v or 0) for v in row))
            for name, row in zip(names, rows, strict=True)
        ]

    async def teams(self, day: str, only: str = "") -> list[TeamRow]:
        names = [only] if only else await self._members(keys.TEAMS)
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(keys.team_day(name, day), "used", "reserved")
            pipe.hget(keys.team(name), "open_orders")
        results = await pipe.execute()
        return [
            TeamRow(
                name,
                int(results[2 * i][0] or 0),
                int(results[2 * i][1] or 0),
                int(results[2 * i + 1] or 0),
            )
            for i, name in enumerate(names)
        ]

    async def _members(self, key: str) -> list[str]:
        return sorted(keys.text(member) for member in await self._client.smembers(key))
