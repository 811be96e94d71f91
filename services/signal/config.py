"""Signal service configuration, read once from the environment."""

from __future__ import annotations

from pydantic import field_validator

from services.common.addresses import parse_host_port
from services.common.config import ServiceSettings


class SignalSettings(ServiceSettings):
    grpc_listen_addr: str = "127.0.0.1:50053"
    metrics_port: int = 9103
    execution_target: str = "127.0.0.1:50051"

    @field_validator("execution_target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        parse_host_port(value)
        return value
