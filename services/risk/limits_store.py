"""The limits document in Redis: versioned, changed atomically with its audit record.

The limits file seeds Redis when Redis holds no document yet; from then on the stored document
(changed by SetLimits) is the truth every replica reads. Each replica caches the document and
learns it is stale from the check script, which compares versions on every check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from services.risk import keys
from services.risk.errors import VersionConflict
from services.risk.limits import Limits, StoredLimits, parse_limits

# Replaces the document when the stored version is the expected one (0: any), or, in seed mode,
# only when there is none; appends the audit record in the same step.
_SET_LIMITS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if ARGV[7] == '1' and current > 0 then return {0, current, ''} end
local expected = tonumber(ARGV[1])
if expected > 0 and expected ~= current then return {-1, current, ''} end
local old = redis.call('HGET', KEYS[1], 'doc') or ''
local version = current + 1
redis.call('HSET', KEYS[1], 'version', version, 'doc', ARGV[2],
  'updated_by', ARGV[3], 'update_time', ARGV[4])
local id = redis.call('XADD', KEYS[2], '*', 'kind', 'limits', 'changed_by', ARGV[3],
  'change_time', ARGV[4], 'reason', ARGV[5], 'request_id', ARGV[6],
  'old', old, 'old_version', current, 'new', ARGV[2], 'new_version', version)
return {1, version, id}
"""


@dataclass(frozen=True)
class LimitsChange:
    stored: StoredLimits
    change_id: str


class LimitsStore:
    """Reads, seeds and replaces the limits document; `current` is served from a cache."""

    def __init__(self, client: aioredis.Redis, seed: Limits, seed_source: str) -> None:
        self._client = client
        self._seed = seed
        self._seed_source = seed_source
        self._script = client.register_script(_SET_LIMITS)
        self._cached: StoredLimits | None = None

    async def current(self) -> StoredLimits:
        """The cached document, read (and seeded from the file if Redis has none) on first use."""
        if self._cached is None:
            return await self.reload()
        return self._cached

    async def reload(self) -> StoredLimits:
        stored = await self._read()
        if stored is None:
            await self._write(
                self._seed,
                "service:risk",
                f"seeded from {self._seed_source}",
                "",
                0,
                seed_only=True,
            )
            stored = await self._read()
        if stored is None:
            raise RuntimeError("limits vanished from Redis right after seeding")
        self._cached = stored
        return stored

    async def replace(
        self, limits: Limits, changed_by: str, reason: str, request_id: str, expected_version: int
    ) -> LimitsChange:
        stored, change_id = await self._write(
            limits, changed_by, reason, request_id, expected_version, seed_only=False
        )
        self._cached = stored
        return LimitsChange(stored, change_id)

    async def _write(
        self,
        limits: Limits,
        changed_by: str,
        reason: str,
        request_id: str,
        expected_version: int,
        seed_only: bool,
    ) -> tuple[StoredLimits, str]:
        now = datetime.now(UTC)
        doc = json.dumps(limits.to_data(), sort_keys=True)
        outcome, version, change_id = await self._script(
            keys=[keys.LIMITS, keys.AUDIT],
            args=[
                expected_version,
                doc,
                changed_by,
                now.isoformat(),
                reason,
                request_id,
                int(seed_only),
            ],
        )
        if int(outcome) < 0:
            raise VersionConflict(
                f"expected_version {expected_version} is stale: the limits are at version "
                f"{int(version)}; read them again and retry"
            )
        return StoredLimits(limits, int(version), changed_by, now), keys.text(change_id)

    async def _read(self) -> StoredLimits | None:
        fields = await self._client.hgetall(keys.LIMITS)
        if not fields:
            return None
        values = {keys.text(k): keys.text(v) for k, v in fields.items()}
        return StoredLimits(
            limits=parse_limits(json.loads(values["doc"])),
            version=int(values["version"]),
            updated_by=values["updated_by"],
            update_time=datetime.fromisoformat(values["update_time"]),
        )
