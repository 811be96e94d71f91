"""Execution service configuration, read once from the environment.

``ExecutionSettings`` holds the service's own variables and, under ``kraken``, the adapter's
``KRAKEN_*`` settings; ``load_execution_settings`` reads both and the Kraken key pair and stops the
start with one line naming the variable when one is missing or malformed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from pydantic import Field, ValidationError, field_validator

from services.common.addresses import parse_host_port
from services.common.config import ServiceSettings, describe_error, load_settings
from services.execution.embed.config import EmbedSecrets, EmbedSettings
from services.execution.kraken.config import KrakenSettings
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import ConfigurationError


class ExecutionSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50051"
    metrics_port: int = 9101
    risk_target: str = "127.0.0.1:50052"
    risk_timeout: float = Field(
        default=1.0, gt=0, le=30, description="deadline of risk.CheckOrder, seconds"
    )
    execution_redis_timeout: float = Field(
        default=1.0, gt=0, le=30, description="seconds to wait for Redis before UNAVAILABLE"
    )
    execution_pairs_refresh: float = Field(
        default=300.0, gt=0, le=86400, description="seconds between AssetPairs refreshes"
    )
    execution_reconcile_interval: float = Field(
        default=2.0, gt=0, le=3600, description="seconds between reconciliation passes"
    )
    execution_reconcile_grace: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="seconds an UNKNOWN order must be missing at Kraken before it is REJECTED",
    )
    execution_dead_mans_switch_seconds: int = Field(
        default=60,
        ge=0,
        lt=86400,
        description="CancelAllOrdersAfter timeout re-armed every third of it while healthy; 0: off",
    )

    webhook_listen_addr: str = Field(
        default="",
        description="host:port of the Embed webhook receiver; empty: no receiver",
    )

    @field_validator("risk_target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        parse_host_port(value)
        return value

    @field_validator("webhook_listen_addr")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        if value:
            parse_host_port(value)
        return value


@dataclass(frozen=True)
class ExecutionConfig:
    """Everything execution reads at start: its settings, Kraken's, and the key pair."""

    service: ExecutionSettings
    kraken: KrakenSettings
    credentials: KrakenCredentials
    embed: EmbedSettings
    embed_secrets: EmbedSecrets


def load_execution_settings() -> ExecutionConfig:
    """Read the settings and the Kraken key pair once; exit 2 naming the variable on error."""
    service = load_settings(ExecutionSettings)
    try:
        kraken = KrakenSettings()
    except ValidationError as exc:
        # KrakenSettings' field names lack the prefix the environment variables carry.
        message = describe_error(exc).replace(": ", ": KRAKEN_", 1)
        print(message, file=sys.stderr)
        raise SystemExit(2) from exc
    try:
        embed = EmbedSettings()
    except ValidationError as exc:
        message = describe_error(exc).replace(": ", ": KRAKEN_EMBED_", 1)
        print(message, file=sys.stderr)
        raise SystemExit(2) from exc
    try:
        credentials = KrakenCredentials.from_env()
        embed_secrets = EmbedSecrets.from_env()
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        raise SystemExit(2) from exc
    if service.identity_signing_key_file is None:
        print(
            "configuration error: IDENTITY_SIGNING_KEY_FILE is required but not set "
            "(execution signs its calls to risk)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return ExecutionConfig(service, kraken, credentials, embed, embed_secrets)
