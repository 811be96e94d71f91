"""Typed service configuration, read from the environment once at start.

Each service declares one frozen settings class that extends `ServiceSettings`. `load_settings`
reads it and, when a variable is missing or malformed, exits with one line naming the variable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.addresses import parse_host_port
from services.common.event_loop import EventLoop

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """What every gRPC service reads: where it listens, Redis, identity, logs, metrics."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    grpc_listen_addr: str = Field(description="host:port the gRPC server binds")
    metrics_port: int = Field(ge=0, le=65535, description="Prometheus HTTP port; 0 turns it off")
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    grpc_shutdown_grace: float = Field(default=10.0, gt=0, le=300)
    identity_audience: str = "trading-platform"
    identity_trusted_keys: str = Field(
        min_length=1, description="issuer=/path/to/public.pem, comma separated"
    )
    identity_signing_key_file: Path | None = None
    event_loop: EventLoop = EventLoop.UVLOOP

    @field_validator("grpc_listen_addr")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        parse_host_port(value)
        return value

    @field_validator("log_level")
    @classmethod
    def _valid_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


def describe_error(error: ValidationError) -> str:
    """One line naming the first offending variable and what is wrong with it."""
    first = error.errors()[0]
    variable = str(first["loc"][0]).upper() if first["loc"] else "configuration"
    if first["type"] == "missing":
        return f"configuration error: {variable} is required but not set"
    return f"configuration error: {variable} is malformed: {first['msg']}"


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Read the settings once; on a bad or missing variable print one line and exit 2."""
    try:
        return settings_class()
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        raise SystemExit(2) from exc
