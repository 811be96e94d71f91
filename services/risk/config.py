"""Risk service configuration, read once from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.config import ServiceSettings

EXAMPLE_LIMITS = Path(__file__).resolve().with_name("limits.example.yaml")


class RiskSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50052"
    metrics_port: int = 9102
    risk_limits_file: Path = Field(
        default=EXAMPLE_LIMITS,
        description="limits YAML that seeds Redis when Redis holds no limits yet",
    )
    risk_reservation_ttl: int = Field(
        default=7 * 86400,
        ge=60,
        le=40 * 86400,
        description="seconds an open reservation lives without a final outcome report",
    )
    risk_sweep_interval: float = Field(
        default=5.0, gt=0, le=3600, description="seconds between sweeps for lapsed reservations"
    )
    risk_redis_timeout: float = Field(
        default=0.5, gt=0, le=30, description="seconds risk waits for Redis before UNAVAILABLE"
    )
