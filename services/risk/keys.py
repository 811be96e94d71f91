"""Names of every Redis key risk uses; all start with ``risk:`` (see services/risk/README.md)."""

from __future__ import annotations

LIMITS = "risk:limits"
AUDIT = "risk:audit"
KILL_GLOBAL = "risk:kill:global"
KILL_TEAMS = "risk:kill:teams"
ASSETS = "risk:assets"
TEAMS = "risk:teams"
EXPIRY = "risk:reservations:expiry"


def kill_team(team: str) -> str:
    return f"risk:kill:team:{team}"


def position(asset: str) -> str:
    return f"risk:position:{asset}"


def team(team: str) -> str:
    return f"risk:team:{team}"


def team_day(team: str, day: str) -> str:
    return f"risk:team:{team}:day:{day}"


def reservation(reservation_id: str) -> str:
    return f"risk:reservation:{reservation_id}"


def text(value: bytes | str) -> str:
    """A Redis reply as str: the client decodes replies, but redis-py types them bytes | str."""
    return value.decode() if isinstance(value, bytes) else value
