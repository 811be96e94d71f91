"""Kill switch to cancels: execution follows risk's audit stream and, when a switch is engaged,
cancels the working orders in its scope.

Risk appends every kill-switch change to the Redis stream ``risk:audit`` (kind ``kill_switch``;
``team`` empty for the global switch; ``new`` the switch as JSON, ``engaged`` "1" or "0"). Every
replica follows the stream. For each engagement one replica at a time holds the lease
``execution:kill-switch:{<entry id>}`` and sweeps: CancelOrder for each working order of the scope
(by txid, else ``cl_ord_id``), a ``KILL_SWITCH_CANCEL`` journal entry, then reconciliation, which
journals the CANCELED event; all under the request id of the SetKillSwitch call and the caller
``kill-switch:<officer>``. Sweeps repeat until no working order of the scope is left, because an
order risk approved just before the engage may still be on its way to Kraken; the lease is then
marked done. A replica that dies mid-sweep stops renewing its lease and another one takes over;
a release stops the sweep of its scope on every replica.

Reduce-only orders are left working: they can only shrink a position, which is what the switch is
for, and risk keeps admitting new ones while it is engaged.

At start the newest kill-switch change of each scope among the last ``CATCH_UP_ENTRIES`` entries
of the stream is applied, so an engage made while execution was down is enforced too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.common.context import caller_var, new_request_id, request_id_var
from services.execution.kraken.errors import KrakenError, StateUnavailableError
from services.execution.orders.desk import OrderDesk
from services.execution.orders.journal import KILL_SWITCH_CANCEL, OrderJournal
from services.execution.orders.model import STAGE_SENT, OrderRecord
from services.execution.orders.reconciler import Reconciler

logger = logging.getLogger(__name__)

AUDIT_STREAM = "risk:audit"
CATCH_UP_ENTRIES = 1000
DONE = "done"
DONE_TTL_MS = 24 * 3600 * 1000

_REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError)

# KEYS: lease. ARGV: this replica's id, lease ms. Returns 'done', 'ours' (taken or renewed) or
# 'busy' (another replica holds it).
_TAKE_LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == 'done' then return 'done' end
if holder and holder ~= ARGV[1] then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 'ours'
"""

# KEYS: lease. ARGV: this replica's id, ms to remember the engagement as done.
_FINISH_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
  return 1
end
return 0
"""


def lease_key(entry_id: str) -> str:
    return f"execution:kill-switch:{{{entry_id}}}"


@dataclass(frozen=True)
class KillSwitchChange:
    """One kill-switch entry of the audit stream."""

    entry_id: str
    team: str
    """Empty for the global switch."""
    engaged: bool
    changed_by: str
    request_id: str
    reason: str

    @property
    def scope(self) -> str:
        return f"team {self.team}" if self.team else "global"

    def covers(self, record: OrderRecord) -> bool:
        """Whether the switch cancels this order."""
        return (not self.team or record.team == self.team) and not record.reduce_only


def parse_change(entry_id: str, fields: Mapping[str, Any]) -> KillSwitchChange | None:
    """The kill-switch change an audit entry records; None for other kinds or a bad entry."""
    if fields.get("kind") != "kill_switch":
        return None
    try:
        new = json.loads(fields.get("new") or "{}")
    except ValueError:
        logger.warning("unreadable kill-switch entry", extra={"entry_id": entry_id})
        return None
    if not isinstance(new, dict):
        return None
    return KillSwitchChange(
        entry_id=entry_id,
        team=str(fields.get("team", "")),
        engaged=str(new.get("engaged", "0")) == "1",
        changed_by=str(fields.get("changed_by", "")),
        request_id=str(fields.get("request_id", "")),
        reason=str(fields.get("reason", "")),
    )


class _LeaseLost(Exception):
    """Another replica holds the engagement now (this one was too slow to renew)."""


class KillSwitchEnforcer:
    """Follows ``risk:audit`` and sweeps the scope of every engaged switch, one replica each."""

    def __init__(
        self,
        redis: Redis,
        desk: OrderDesk,
        journal: OrderJournal,
        reconciler: Reconciler,
        *,
        block_ms: int = 500,
        lease: float = 10.0,
        sweep_interval: float = 0.25,
        max_sweep_interval: float = 5.0,
    ) -> None:
        self._redis = redis
        self._desk = desk
        self._journal = journal
        self._reconciler = reconciler
        self._block_ms = block_ms
        self._lease_ms = int(lease * 1000)
        self._sweep_interval = sweep_interval
        self._max_sweep_interval = max_sweep_interval
        self.replica_id = uuid.uuid4().hex
        self._take_lease = redis.register_script(_TAKE_LEASE_LUA)
        self._finish = redis.register_script(_FINISH_LUA)
        self._follower: asyncio.Task[None] | None = None
        self._sweeps: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        self._follower = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        tasks = [t for t in (self._follower, *self._sweeps.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sweeps.clear()

    async def _follow(self) -> None:
        last = await self._catch_up()
        while True:
            try:
                batches: Any = await self._redis.xread(
                    {AUDIT_STREAM: last}, count=100, block=self._block_ms
                )
            except _REDIS_FAILURES:
                logger.warning("kill-switch follower cannot read risk:audit; retrying")
                await asyncio.sleep(1.0)
                continue
            for _stream, entries in batches or []:
                for entry_id, fields in entries:
                    last = str(entry_id)
                    change = parse_change(last, fields)
                    if change is not None:
                        self._apply(change)

    async def _catch_up(self) -> str:
        """Apply the newest change of each scope; the stream id to follow from."""
        while True:
            try:
                entries: Any = await self._redis.xrevrange(AUDIT_STREAM, count=CATCH_UP_ENTRIES)
                break
            except _REDIS_FAILURES:
                logger.warning("kill-switch follower cannot read risk:audit; retrying")
                await asyncio.sleep(1.0)
        newest: dict[str, KillSwitchChange] = {}
        for entry_id, fields in entries:
            change = parse_change(str(entry_id), fields)
            if change is not None and change.team not in newest:
                newest[change.team] = change
        for change in newest.values():
            if change.engaged:
                self._apply(change)
        return str(entries[0][0]) if entries else "0"

    def _apply(self, change: KillSwitchChange) -> None:
        running = self._sweeps.pop(change.team, None)
        if running is not None:
            running.cancel()
        logger.info(
            "kill switch engaged" if change.engaged else "kill switch released",
            extra={
                "scope": change.scope,
                "entry_id": change.entry_id,
                "changed_by": change.changed_by,
                "reason": change.reason,
            },
        )
        if change.engaged:
            task = asyncio.get_running_loop().create_task(self._enforce(change))
            self._sweeps[change.team] = task
            task.add_done_callback(lambda done: self._forget(change.team, done))

    def _forget(self, team: str, task: asyncio.Task[None]) -> None:
        if self._sweeps.get(team) is task:
            del self._sweeps[team]

    async def _enforce(self, change: KillSwitchChange) -> None:
        """Sweep once this replica holds the engagement's lease; wait while another does."""
        request_id_var.set(change.request_id or new_request_id())
        caller_var.set(f"kill-switch:{change.changed_by}")
        key = lease_key(change.entry_id)
        while True:
            try:
                holder = str(
                    await self._take_lease(keys=[key], args=[self.replica_id, self._lease_ms])
                )
                if holder == DONE:
                    return
                if holder != "busy":
                    await self._sweep(change, key)
                    await self._finish(keys=[key], args=[self.replica_id, DONE_TTL_MS])
                    logger.info(
                        "kill-switch sweep done",
                        extra={"scope": change.scope, "entry_id": change.entry_id},
                    )
                    return
            except _LeaseLost:
                logger.warning(
                    "kill-switch lease lost to another replica",
                    extra={"scope": change.scope, "entry_id": change.entry_id},
                )
            except (*_REDIS_FAILURES, StateUnavailableError):
                logger.warning(
                    "kill-switch sweep interrupted: Redis unavailable; retrying",
                    extra={"scope": change.scope},
                )
            except Exception:
                logger.exception(
                    "kill-switch sweep failed; retrying", extra={"scope": change.scope}
                )
            await asyncio.sleep(self._lease_ms / 3000)

    async def _sweep(self, change: KillSwitchChange, key: str) -> None:
        """Cancel the scope's working orders until none is left."""
        # The state each order was in when its cancel went out: sent again only once it moved
        # (e.g. an UNKNOWN order found open with a txid).
        asked: dict[str, tuple[int, str]] = {}
        renewed = time.monotonic()
        interval = self._sweep_interval
        while True:
            working = await self._desk.working(change.covers)
            if not working:
                return
            cancelled: list[str] = []
            for record in working:
                if time.monotonic() - renewed > self._lease_ms / 3000:
                    await self._renew(key)
                    renewed = time.monotonic()
                if record.stage != STAGE_SENT:
                    continue  # AddOrder in flight or not sent yet: its answer comes first
                state = (record.status, record.txid)
                if asked.get(record.client_order_id) == state:
                    continue
                try:
                    await self._desk.send_cancel(record)
                except KrakenError as exc:
                    logger.warning(
                        "kill-switch cancel failed; next sweep retries",
                        extra={"client_order_id": record.client_order_id, "error": str(exc)},
                    )
                    continue
                asked[record.client_order_id] = state
                cancelled.append(record.client_order_id)
                await self._journal_quietly(record)
            if cancelled:
                await self._reconciler.reconcile_many(cancelled, force=True)
            logger.info(
                "kill-switch sweep",
                extra={"scope": change.scope, "working": len(working), "cancels": len(cancelled)},
            )
            await self._renew(key)
            renewed = time.monotonic()
            await asyncio.sleep(interval)
            interval = min(interval * 2, self._max_sweep_interval)

    async def _renew(self, key: str) -> None:
        holder = str(await self._take_lease(keys=[key], args=[self.replica_id, self._lease_ms]))
        if holder != "ours":
            raise _LeaseLost

    async def _journal_quietly(self, record: OrderRecord) -> None:
        try:
            await self._journal.append(KILL_SWITCH_CANCEL, record)
        except StateUnavailableError:
            logger.warning(
                "kill-switch cancel not journaled",
                extra={"client_order_id": record.client_order_id},
            )
