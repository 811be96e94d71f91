"""How tradectl reaches the platform: directly with the local issuer key, or through Kong.

Local mode (`make run`): each call carries a token signed with `.run/keys/local.pem`.
Kong mode (`--kong HOST:PORT`): each call carries the team's `apikey`; Kong mints the token.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import grpc

from services.common.access import ALL_TEAMS
from services.common.calls import CallerCredentials, Metadata
from services.common.context import REQUEST_ID_HEADER, new_request_id
from services.common.identity import TokenIssuer, load_private_key

DEFAULT_TARGETS = {
    "execution": "127.0.0.1:50051",
    "risk": "127.0.0.1:50052",
    "signal": "127.0.0.1:50053",
}


@dataclass(frozen=True)
class Connection:
    """Targets per service and the metadata each call carries."""

    targets: dict[str, str]
    credentials: CallerCredentials | None
    apikey: str | None

    def metadata(self) -> Metadata:
        if self.credentials is not None:
            return self.credentials.metadata()
        assert self.apikey is not None  # noqa: S101 - one of the two is set by connect()
        return (("apikey", self.apikey), (REQUEST_ID_HEADER, new_request_id()))

    def channel(self, service: str) -> grpc.Channel:
        return grpc.insecure_channel(self.targets[service])

    @property
    def mode(self) -> str:
        return "kong" if self.apikey is not None else "local"


def connect(
    kong: str | None, apikey: str | None, key_file: Path, user: str, groups: list[str] | None
) -> Connection:
    if kong:
        if not apikey:
            raise SystemExit("--kong needs an apikey: pass --apikey or set TRADECTL_APIKEY")
        return Connection({name: kong for name in DEFAULT_TARGETS}, None, apikey)
    targets = {
        name: os.environ.get(f"TRADECTL_{name.upper()}_TARGET", default)
        for name, default in DEFAULT_TARGETS.items()
    }
    if not key_file.exists():
        raise SystemExit(
            f"no local issuer key at {key_file}: start the stack with `make run`, "
            "or call through Kong with --kong and --apikey"
        )
    issuer = TokenIssuer("local", load_private_key(key_file))
    credentials = CallerCredentials(issuer, user, groups or sorted(ALL_TEAMS))
    return Connection(targets, credentials, None)
