"""Reading the audit trail: the Redis stream `risk:audit` that every limits and kill-switch
change appends to in the same script that makes the change (limits_store.py, kill_switch.py).

Stream ids are Redis-time milliseconds, so a time window is an id range and a page token is
the last id returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from google.protobuf.timestamp_pb2 import Timestamp

from services.risk import keys
from services.risk.errors import InvalidArgument
from services.risk.kill_switch import state_from_json
from services.risk.limits import StoredLimits, parse_limits, timestamp
from trading.risk.v1 import risk_pb2

DEFAULT_PAGE = 50
MAX_PAGE = 500
KINDS = {
    risk_pb2.LIMIT_CHANGE_KIND_LIMITS: "limits",
    risk_pb2.LIMIT_CHANGE_KIND_KILL_SWITCH: "kill_switch",
}


@dataclass(frozen=True)
class AuditQuery:
    start_ms: int | None
    end_ms: int | None
    kind: str | None
    page_size: int
    page_token: str


class AuditTrail:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client

    async def changes(self, query: AuditQuery) -> tuple[list[risk_pb2.LimitChange], str]:
        """Newest first; the second value is the next page token, empty on the last page."""
        upper = f"({query.page_token}" if query.page_token else "+"
        if query.end_ms is not None and not query.page_token:
            upper = f"({query.end_ms}-0"
        lower = "-" if query.start_ms is None else f"{query.start_ms}-0"
        found: list[tuple[str, dict[str, str]]] = []
        while len(found) <= query.page_size:
            entries = await self._client.xrevrange(
                keys.AUDIT, upper, lower, count=query.page_size + 1
            )
            batch = [
                (keys.text(entry_id), {keys.text(k): keys.text(v) for k, v in fields.items()})
                for entry_id, fields in entries or []
                if entry_id is not None and fields is not None
            ]
            if not batch:
                break
            found += [e for e in batch if query.kind is None or e[1].get("kind") == query.kind]
            upper = f"({batch[-1][0]}"
        page = found[: query.page_size]
        token = page[-1][0] if len(found) > query.page_size else ""
        return [change_to_proto(entry_id, fields) for entry_id, fields in page], token


def parse_query(request: risk_pb2.ListLimitChangesRequest) -> AuditQuery:
    token = request.page.page_token
    if token and not _is_stream_id(token):
        raise InvalidArgument("page.page_token", "is not a token from a previous response")
    if request.kind and request.kind not in KINDS:
        raise InvalidArgument("kind", f"unknown kind {request.kind}")
    size = request.page.page_size or DEFAULT_PAGE
    if size < 0:
        raise InvalidArgument("page.page_size", "must not be negative")
    return AuditQuery(
        start_ms=_ms(request.start_time) if request.HasField("start_time") else None,
        end_ms=_ms(request.end_time) if request.HasField("end_time") else None,
        kind=KINDS.get(request.kind),
        page_size=min(size, MAX_PAGE),
        page_token=token,
    )


def change_to_proto(entry_id: str, fields: dict[str, str]) -> risk_pb2.LimitChange:
    change = risk_pb2.LimitChange(
        change_id=entry_id,
        changed_by=fields.get("changed_by", ""),
        reason=fields.get("reason", ""),
        request_id=fields.get("request_id", ""),
    )
    when = datetime.fromisoformat(fields["change_time"])
    change.change_time.CopyFrom(timestamp(when))
    if fields.get("kind") == "limits":
        change.kind = risk_pb2.LIMIT_CHANGE_KIND_LIMITS
        if fields.get("old"):
            old = StoredLimits(
                parse_limits(json.loads(fields["old"])), int(fields["old_version"]), "", when
            )
            change.old_limits.CopyFrom(old.to_proto())
            change.old_limits.ClearField("update_time")
        new = StoredLimits(
            parse_limits(json.loads(fields["new"])),
            int(fields["new_version"]),
            change.changed_by,
            when,
        )
        change.new_limits.CopyFrom(new.to_proto())
    else:
        change.kind = risk_pb2.LIMIT_CHANGE_KIND_KILL_SWITCH
        team = fields.get("team", "")
        old_state = state_from_json(team, fields.get("old", ""))
        new_state = state_from_json(team, fields.get("new", ""))
        if old_state is not None:
            change.old_kill_switch.CopyFrom(old_state.to_proto())
        if new_state is not None:
            change.new_kill_switch.CopyFrom(new_state.to_proto())
    return change


def _ms(stamp: Timestamp) -> int:
    return int(stamp.ToMilliseconds())


def _is_stream_id(token: str) -> bool:
    first, sep, second = token.partition("-")
    return bool(sep) and first.isdigit() and second.isdigit()
