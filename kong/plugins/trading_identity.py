#!/usr/bin/env python3
"""Kong plugin `trading-identity`: stamps every proxied call with the identity token of
docs/identity.md (EdDSA JWT, issuer `kong`) minted from the authenticated consumer, its acl
groups and the request id, after stripping whatever identity the client sent itself.

It runs as its own kong-pdk plugin server (one plugin per server, Kong 3.9), started by Kong:

    trading_identity.py --kong-prefix /var/run/kong --socket-name trading-identity.sock \
        --no-lua-style -g

Fail closed: Kong proxies a request anyway when an external plugin raises or never answers
(reference kong.md §5.4), so every failure here ends the request with `kong.response.exit`
and returns at once. As a second line, the route's request-transformer (priority 801, just
above this plugin's 800) removes any client `authorization` header, so a request that slips
past a dead plugin server reaches the service without a token and is refused there.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PLUGIN_NAME = "trading-identity"
version = "1.0.0"
# Below acl (950) so the consumer and its groups are known, below rate-limiting (910) so a
# throttled call costs no signature, below request-transformer (801) which removes any client
# `authorization` header before this plugin sets the real one.
priority = 800

ALGORITHM = "EdDSA"
DEFAULT_GROUPS = ("traders", "risk-officers", "researchers", "signal-publishers", "admins")
DEFAULT_KEY_PATH = "/run/secrets/kong_issuer_key"
KEY_PATH_ENV = "TRADING_IDENTITY_PRIVATE_KEY_FILE"
MAX_LIFETIME = 60

# Kong's ceiling for kong.request.get_headers(); a request at the ceiling may have been cut
# short, so a header we must strip could be hidden past it: such a request is refused.
MAX_HEADERS = 1000

# Anything upstream could mistake for identity. Key-auth and acl set some of these themselves
# (x-consumer-*, x-credential-identifier); they are read first, then removed too, so the token
# is the only identity a service ever sees.
STRIP_EXACT = frozenset({"authorization", "proxy-authorization", "x-userinfo"})
STRIP_PREFIXES = (
    "x-consumer-",
    "x-credential-",
    "x-identity-",
    "x-authenticated-",
    "x-anonymous-",
)

REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")

Schema = (
    {"private_key_path": {"type": "string", "required": False}},
    {"issuer": {"type": "string", "default": "kong", "required": True}},
    {"audience": {"type": "string", "default": "trading-platform", "required": True}},
    {
        "lifetime_seconds": {
            "type": "integer",
            "default": 30,
            "between": [1, MAX_LIFETIME],
            "required": True,
        }
    },
    {"groups_header": {"type": "string", "default": "x-consumer-groups", "required": True}},
    {"request_id_header": {"type": "string", "default": "x-request-id", "required": True}},
    {
        "known_groups": {
            "type": "array",
            "elements": {"type": "string"},
            "default": list(DEFAULT_GROUPS),
            "required": True,
        }
    },
)


class Rejection(Exception):
    """The request must not go upstream; `status` and `message` go back to the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# The PDK object is built by kong-pdk at run time (attribute access becomes an RPC to Kong);
# these protocols name the few calls this plugin makes, so the flow can be typed and faked.
class ClientPdk(Protocol):
    def get_consumer(self) -> Any: ...


class RequestPdk(Protocol):
    def get_headers(self, max_headers: int) -> Any: ...


class ServiceRequestPdk(Protocol):
    def set_header(self, name: str, value: str) -> Any: ...

    def clear_header(self, name: str) -> Any: ...


class ServicePdk(Protocol):
    @property
    def request(self) -> ServiceRequestPdk: ...


class ResponsePdk(Protocol):
    def exit(self, status: int, body: Mapping[str, str]) -> Any: ...


class LogPdk(Protocol):
    def err(self, *message: str) -> Any: ...


class KongPdk(Protocol):
    @property
    def client(self) -> ClientPdk: ...

    @property
    def request(self) -> RequestPdk: ...

    @property
    def service(self) -> ServicePdk: ...

    @property
    def response(self) -> ResponsePdk: ...

    @property
    def log(self) -> LogPdk: ...


@dataclass(frozen=True)
class Settings:
    """The plugin's configuration after validation."""

    private_key_path: Path
    issuer: str
    audience: str
    lifetime_seconds: int
    groups_header: str
    request_id_header: str
    known_groups: frozenset[str]

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Kong's plugin config; the key path falls back to $TRADING_IDENTITY_PRIVATE_KEY_FILE."""
        env = os.environ if environ is None else environ
        key_path = config.get("private_key_path") or env.get(KEY_PATH_ENV) or DEFAULT_KEY_PATH
        lifetime = int(config.get("lifetime_seconds") or 30)
        if not 0 < lifetime <= MAX_LIFETIME:
            raise ValueError(f"lifetime_seconds must be 1..{MAX_LIFETIME}, got {lifetime}")
        return cls(
            private_key_path=Path(str(key_path)),
            issuer=str(config.get("issuer") or "kong"),
            audience=str(config.get("audience") or "trading-platform"),
            lifetime_seconds=lifetime,
            groups_header=str(config.get("groups_header") or "x-consumer-groups").lower(),
            request_id_header=str(config.get("request_id_header") or "x-request-id").lower(),
            known_groups=frozenset(config.get("known_groups") or DEFAULT_GROUPS),
        )


class SigningKeyCache:
    """The issuer key, read from its file once and again whenever the file changes."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._stamp: tuple[int, int] | None = None
        self._key: Ed25519PrivateKey | None = None

    def get(self, path: Path) -> Ed25519PrivateKey:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._key is None or path != self._path or stamp != self._stamp:
            self._key = load_signing_key(path)
            self._path, self._stamp = path, stamp
        return self._key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} does not hold an Ed25519 private key")
    return key


def header_values(headers: Mapping[str, Any], name: str) -> list[str]:
    """All values of one header from Kong's multimap (a string, or a list of strings)."""
    value = headers.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    raise TypeError(f"header {name!r} has an unexpected value type {type(value).__name__}")


def count_headers(headers: Mapping[str, Any]) -> int:
    return sum(max(1, len(header_values(headers, name))) for name in headers)


def headers_to_strip(names: Iterable[str]) -> list[str]:
    """The identity headers among `names`, lower-cased and sorted."""
    found = {name.lower() for name in names}
    return sorted(name for name in found if name in STRIP_EXACT or name.startswith(STRIP_PREFIXES))


def consumer_subject(consumer: Any) -> str:
    """The token subject: the consumer's username. No consumer means no identity."""
    if consumer is None:
        raise Rejection(401, "Unauthenticated: no consumer")
    if not isinstance(consumer, Mapping):
        raise TypeError(f"consumer is a {type(consumer).__name__}, not a table")
    username = consumer.get("username")
    if not isinstance(username, str) or not username:
        raise Rejection(403, "Forbidden: consumer has no username")
    return username


def parse_groups(values: Sequence[str], known: frozenset[str]) -> list[str]:
    """acl's `x-consumer-groups: a, b` reduced to the platform's known groups, sorted."""
    groups = {part.strip() for value in values for part in value.split(",")}
    allowed = sorted(groups & known)
    if not allowed:
        raise Rejection(403, "Forbidden: consumer is in no platform group")
    return allowed


def request_id(values: Sequence[str]) -> str:
    """The correlation id Kong assigned (or kept from the client), checked for shape."""
    if not values or not values[0]:
        raise RuntimeError("no request id: is the correlation-id plugin enabled?")
    rid = values[0]
    if not REQUEST_ID_PATTERN.fullmatch(rid):
        raise Rejection(400, "Bad request: malformed request id")
    return rid


def mint_token(
    key: Ed25519PrivateKey,
    settings: Settings,
    subject: str,
    groups: Sequence[str],
    rid: str,
    now: float | None = None,
) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": subject,
        "aud": settings.audience,
        "groups": list(groups),
        "rid": rid,
        "iat": issued,
        "exp": issued + settings.lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": settings.issuer})


def stamp_request(kong: KongPdk, settings: Settings, keys: SigningKeyCache) -> None:
    """Read who is calling, strip client identity headers, set the token upstream."""
    subject = consumer_subject(kong.client.get_consumer())
    headers = kong.request.get_headers(MAX_HEADERS)
    if not isinstance(headers, Mapping):
        raise TypeError(f"kong.request.get_headers returned {type(headers).__name__}")
    if count_headers(headers) >= MAX_HEADERS:
        raise Rejection(400, "Bad request: too many headers")
    groups = parse_groups(header_values(headers, settings.groups_header), settings.known_groups)
    rid = request_id(header_values(headers, settings.request_id_header))
    token = mint_token(keys.get(settings.private_key_path), settings, subject, groups, rid)
    for name in headers_to_strip(headers):
        kong.service.request.clear_header(name)
    kong.service.request.set_header("authorization", f"Bearer {token}")


def reject(kong: KongPdk, status: int, message: str) -> None:
    kong.response.exit(status, {"message": message})


class Plugin:
    """One instance per plugin configuration; Kong calls `access` for every request."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        # Never raise here: a failed StartInstance makes Kong skip the plugin (fail open).
        self._settings: Settings | None = None
        self._config_error: str | None = None
        try:
            self._settings = Settings.from_config(config)
        except (TypeError, ValueError) as exc:
            self._config_error = str(exc)
        self._keys = SigningKeyCache()

    def access(self, kong: KongPdk) -> None:
        try:
            if self._settings is None:
                raise RuntimeError(f"invalid plugin configuration: {self._config_error}")
            stamp_request(kong, self._settings, self._keys)
        except Rejection as rejection:
            return reject(kong, rejection.status, rejection.message)
        except Exception as exc:  # any failure must end the request here, never forward
            with contextlib.suppress(Exception):
                kong.log.err(f"{PLUGIN_NAME}: refusing request: {type(exc).__name__}: {exc}")
            return reject(kong, 500, "Identity unavailable")
        return None


if __name__ == "__main__":
    from kong_pdk.cli import start_dedicated_server

    start_dedicated_server(PLUGIN_NAME, Plugin, version, priority, list(Schema))
