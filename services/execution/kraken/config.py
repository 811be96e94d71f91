"""Settings of the Kraken adapter (``KRAKEN_*``), read once from the environment.

Credentials are not here: they live in ``credentials.py`` so that this object may be logged.
"""

from __future__ import annotations

import enum

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KrakenTier(enum.StrEnum):
    """The account's verification tier; it sets both rate limits (kraken.md §3.1, §3.3)."""

    STARTER = "starter"
    INTERMEDIATE = "intermediate"
    PRO = "pro"


class NonceMode(enum.StrEnum):
    """How private calls on one key are ordered (design decision 2)."""

    WINDOW = "window"
    """No lock; the key has a nonce window at Kraken. ``EAPI:Invalid nonce`` is retried once."""
    STRICT = "strict"
    """A Redis lease per key from taking the nonce until the response arrives."""


class BodyEncoding(enum.StrEnum):
    FORM = "form"
    JSON = "json"


class KrakenSettings(BaseSettings):
    """Where Kraken is and how the adapter paces itself; every field is ``KRAKEN_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="KRAKEN_", frozen=True, extra="ignore", case_sensitive=False
    )

    api_url: str = Field(default="https://api.kraken.com", description="REST base URL")
    tier: KrakenTier = KrakenTier.STARTER
    nonce_mode: NonceMode = NonceMode.WINDOW
    body_encoding: BodyEncoding = BodyEncoding.FORM
    connect_timeout: float = Field(default=3.0, gt=0, le=60)
    http_timeout: float = Field(default=10.0, gt=0, le=120, description="whole request, seconds")
    max_attempts: int = Field(default=3, ge=1, le=10, description="per call, SAFE_TO_RETRY only")
    backoff_base: float = Field(default=0.2, gt=0, le=10)
    budget_max_wait: float = Field(default=2.0, ge=0, le=60)
    nonce_lease_ttl: float = Field(default=30.0, gt=0, le=600)
    nonce_lease_wait: float = Field(default=5.0, ge=0, le=120)
    user_agent: str = "trading-platform-execution/0.1"

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _lease_outlives_request(self) -> KrakenSettings:
        # A strict-mode lease that expires before the response arrives would let the next
        # holder's request overtake this one.
        if self.nonce_lease_ttl <= self.http_timeout:
            raise ValueError("KRAKEN_NONCE_LEASE_TTL must be longer than KRAKEN_HTTP_TIMEOUT")
        return self
