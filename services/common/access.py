"""Who may call what: each service declares one table from RPC name to the groups allowed.

The group names are Kong's acl groups (kong/README.md); `services` is the group of the tokens
the platform's own services mint for calls to each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TRADERS = "traders"
RISK_OFFICERS = "risk-officers"
RESEARCHERS = "researchers"
SIGNAL_PUBLISHERS = "signal-publishers"
ADMINS = "admins"
SERVICES = "services"

ALL_TEAMS = frozenset({TRADERS, RISK_OFFICERS, RESEARCHERS, SIGNAL_PUBLISHERS, ADMINS})

# Methods anyone may call without a token: health probes and schema reflection.
PUBLIC_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


@dataclass(frozen=True)
class AccessTable:
    """The groups allowed per RPC of one gRPC service; an RPC not listed is denied to all."""

    service: str
    rules: Mapping[str, frozenset[str]]

    def allowed_groups(self, full_method: str) -> frozenset[str]:
        prefix = f"/{self.service}/"
        if not full_method.startswith(prefix):
            return frozenset()
        return self.rules.get(full_method[len(prefix) :], frozenset())


def is_public(full_method: str) -> bool:
    return full_method.startswith(PUBLIC_PREFIXES)
