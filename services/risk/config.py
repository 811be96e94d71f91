"""Risk service configuration, read once from the environment."""

from __future__ import annotations

from services.common.config import ServiceSettings


class RiskSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50052"
    metrics_port: int = 9102
