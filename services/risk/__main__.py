"""Start the risk service: ``python -m services.risk``."""

from __future__ import annotations

import grpc.aio

from services.common.config import load_settings
from services.common.server import ServiceDefinition, run_service
from services.risk.access import RISK_ACCESS
from services.risk.config import RiskSettings
from services.risk.servicer import RiskServicer
from trading.risk.v1 import risk_pb2_grpc


def register(server: grpc.aio.Server) -> None:
    risk_pb2_grpc.add_RiskServiceServicer_to_server(RiskServicer(), server)


def main() -> None:
    settings = load_settings(RiskSettings)
    run_service(ServiceDefinition("risk", [RISK_ACCESS.service], RISK_ACCESS, register), settings)


if __name__ == "__main__":
    main()
