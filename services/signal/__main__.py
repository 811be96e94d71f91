"""Start the signal service: ``python -m services.signal``."""

from __future__ import annotations

import grpc.aio

from services.common.config import load_settings
from services.common.server import ServiceDefinition, run_service
from services.signal.access import SIGNAL_ACCESS
from services.signal.config import SignalSettings
from services.signal.servicer import SignalServicer
from trading.signal.v1 import signal_pb2_grpc


def register(server: grpc.aio.Server) -> None:
    signal_pb2_grpc.add_SignalServiceServicer_to_server(SignalServicer(), server)


def main() -> None:
    settings = load_settings(SignalSettings)
    run_service(
        ServiceDefinition("signal", [SIGNAL_ACCESS.service], SIGNAL_ACCESS, register), settings
    )


if __name__ == "__main__":
    main()
