"""Start the execution service: ``python -m services.execution``."""

from __future__ import annotations

import grpc.aio

from services.common.config import load_settings
from services.common.server import ServiceDefinition, run_service
from services.execution.access import EXECUTION_ACCESS
from services.execution.config import ExecutionSettings
from services.execution.servicer import ExecutionServicer
from trading.execution.v1 import execution_pb2_grpc


def register(server: grpc.aio.Server) -> None:
    execution_pb2_grpc.add_ExecutionServiceServicer_to_server(ExecutionServicer(), server)


def main() -> None:
    settings = load_settings(ExecutionSettings)
    run_service(
        ServiceDefinition("execution", [EXECUTION_ACCESS.service], EXECUTION_ACCESS, register),
        settings,
    )


if __name__ == "__main__":
    main()
