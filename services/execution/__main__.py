"""Start the execution service: ``python -m services.execution``."""

from __future__ import annotations

import grpc.aio

from services.common.server import ServiceDefinition, run_service
from services.execution.access import EXECUTION_ACCESS
from services.execution.config import load_execution_settings
from services.execution.runtime import ExecutionRuntime
from services.execution.servicer import ExecutionServicer
from trading.execution.v1 import execution_pb2_grpc


def main() -> None:
    config = load_execution_settings()
    runtime = ExecutionRuntime(config)

    def register(server: grpc.aio.Server) -> None:
        execution_pb2_grpc.add_ExecutionServiceServicer_to_server(
            ExecutionServicer(runtime), server
        )

    run_service(
        ServiceDefinition(
            "execution",
            [EXECUTION_ACCESS.service],
            EXECUTION_ACCESS,
            register,
            on_start=[runtime.start],
            on_stop=[runtime.stop],
        ),
        config.service,
    )


if __name__ == "__main__":
    main()
