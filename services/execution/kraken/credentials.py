"""The Kraken API key pair, from the environment or ``*_FILE`` paths, masked everywhere it shows.

Execution is the only holder (design decision 7). Neither value is ever logged, put in a repr, or
put in an exception message; code that needs an identifier uses ``key_id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import SecretStr

from services.common.kraken_auth import kraken_signature
from services.execution.kraken.errors import ConfigurationError

_MASK = "**********"


@dataclass(frozen=True, repr=False, eq=False)
class KrakenCredentials:
    """An API key and its base64 secret."""

    api_key: SecretStr
    api_secret: SecretStr

    def __post_init__(self) -> None:
        if not self.api_key.get_secret_value():
            raise ConfigurationError("the Kraken API key is empty")
        if not self.api_secret.get_secret_value():
            raise ConfigurationError("the Kraken API secret is empty")
        try:
            base64.b64decode(self.api_secret.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            # ``from None``: the decoder's message could quote part of the secret.
            raise ConfigurationError("the Kraken API secret is not valid base64") from None

    @classmethod
    def of(cls, api_key: str, api_secret: str) -> KrakenCredentials:
        return cls(SecretStr(api_key), SecretStr(api_secret))

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = "KRAKEN_API"
    ) -> KrakenCredentials:
        """Read ``<prefix>_KEY`` and ``<prefix>_SECRET``, or their ``_FILE`` variants."""
        env = os.environ if environ is None else environ
        return cls.of(
            read_secret_value(env, f"{prefix}_KEY"), read_secret_value(env, f"{prefix}_SECRET")
        )

    @cached_property
    def key_id(self) -> str:
        """A non-secret identifier of the key: 8 hex digits of its SHA-256 (hashed once)."""
        digest = hashlib.sha256(self.api_key.get_secret_value().encode("utf-8")).hexdigest()
        return digest[:8]

    def headers(self, uri_path: str, nonce: int, body: bytes) -> dict[str, str]:
        """``API-Key`` and ``API-Sign`` for exactly these body bytes."""
        signature = kraken_signature(uri_path, nonce, body, self.api_secret.get_secret_value())
        return {"API-Key": self.api_key.get_secret_value(), "API-Sign": signature}

    def __repr__(self) -> str:
        return f"KrakenCredentials(key_id={self.key_id!r}, api_key={_MASK!r}, api_secret={_MASK!r})"

    __str__ = __repr__


def read_secret_value(env: Mapping[str, str], name: str) -> str:
    """``name`` from the environment, or the content of the file ``name``_FILE points at."""
    direct = env.get(name)
    path = env.get(f"{name}_FILE")
    if direct and path:
        raise ConfigurationError(f"set {name} or {name}_FILE, not both")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigurationError(f"{name}_FILE cannot be read: {exc.strerror}") from exc
    if direct:
        return direct.strip()
    raise ConfigurationError(f"{name} (or {name}_FILE) is required but not set")
