"""Settings of the Embed adapter (``KRAKEN_EMBED_*``), and its secrets, read once at start.

Embed is optional: without ``KRAKEN_EMBED_API_KEY`` (or its ``_FILE``) the quote RPCs answer
FAILED_PRECONDITION and nothing is sent. Host and version header are configurable because
Kraken's two documentation builds disagree on both (``kraken.md`` §6).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.execution.kraken.credentials import KrakenCredentials, read_secret_value
from services.execution.kraken.errors import ConfigurationError


class EmbedSettings(BaseSettings):
    """Where Embed is and how quotes are followed; every field is ``KRAKEN_EMBED_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="KRAKEN_EMBED_", frozen=True, extra="ignore", case_sensitive=False
    )

    api_url: str = Field(default="https://embed.kraken.com", description="Embed base URL")
    version_header: str = Field(default="Kraken-Version", pattern=r"^[A-Za-z][A-Za-z0-9-]*$")
    version: str = Field(default="", description="value of the version header; empty: omit")
    connect_timeout: float = Field(default=3.0, gt=0, le=60)
    http_timeout: float = Field(default=10.0, gt=0, le=120)
    max_attempts: int = Field(default=3, ge=1, le=10, description="per idempotent call")
    poll_interval: float = Field(
        default=2.0, gt=0, le=600, description="seconds between status polls of working quotes"
    )
    webhook_tolerance: int = Field(
        default=300, ge=1, le=3600, description="seconds a webhook timestamp may be off"
    )

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


@dataclass(frozen=True, repr=False)
class EmbedSecrets:
    """The Embed key pair and the webhook secret; either may be absent (then that part is off)."""

    credentials: KrakenCredentials | None
    webhook_secret: SecretStr | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmbedSecrets:
        env = os.environ if environ is None else environ
        has_key = any(
            env.get(name) for name in ("KRAKEN_EMBED_API_KEY", "KRAKEN_EMBED_API_KEY_FILE")
        )
        has_secret = any(
            env.get(name) for name in ("KRAKEN_EMBED_API_SECRET", "KRAKEN_EMBED_API_SECRET_FILE")
        )
        if has_secret and not has_key:
            raise ConfigurationError(
                "KRAKEN_EMBED_API_KEY (or KRAKEN_EMBED_API_KEY_FILE) is required with the secret"
            )
        credentials = (
            KrakenCredentials.from_env(env, prefix="KRAKEN_EMBED_API") if has_key else None
        )
        webhook = None
        if env.get("KRAKEN_EMBED_WEBHOOK_SECRET") or env.get("KRAKEN_EMBED_WEBHOOK_SECRET_FILE"):
            webhook = SecretStr(read_secret_value(env, "KRAKEN_EMBED_WEBHOOK_SECRET"))
            _require_base64(webhook, "KRAKEN_EMBED_WEBHOOK_SECRET")
        return cls(credentials, webhook)

    def __repr__(self) -> str:
        return (
            f"EmbedSecrets(credentials={self.credentials!r}, "
            f"webhook_secret={'**********' if self.webhook_secret else None!r})"
        )


def _require_base64(secret: SecretStr, name: str) -> None:
    try:
        base64.b64decode(secret.get_secret_value(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{name} is not valid base64") from None
