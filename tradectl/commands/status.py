"""`tradectl health` and `tradectl status`: is each service up, and what does it serve."""

from __future__ import annotations

import time
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tradectl.connection import Connection

SERVICE_NAMES = {
    "execution": "trading.execution.v1.ExecutionService",
    "risk": "trading.risk.v1.RiskService",
    "signal": "trading.signal.v1.SignalService",
}


def health(connection: Connection, timeout: float = 3.0) -> list[dict[str, Any]]:
    rows = []
    for name, full_name in SERVICE_NAMES.items():
        target = connection.targets[name]
        started = time.perf_counter()
        with connection.channel(name) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                reply = stub.Check(
                    health_pb2.HealthCheckRequest(service=full_name),
                    timeout=timeout,
                    metadata=connection.metadata(),
                )
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as exc:
                status = f"DOWN ({exc.code().name})"
        rows.append(
            {
                "service": name,
                "target": target,
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )
    return rows


def served_services(connection: Connection, name: str, timeout: float = 3.0) -> list[str]:
    """The gRPC services a server lists through reflection."""
    with connection.channel(name) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        replies = stub.ServerReflectionInfo(
            iter([request]), timeout=timeout, metadata=connection.metadata()
        )
        return sorted(s.name for reply in replies for s in reply.list_services_response.service)


def status(connection: Connection) -> list[dict[str, Any]]:
    rows = health(connection)
    for row in rows:
        try:
            row["serves"] = ", ".join(
                s for s in served_services(connection, row["service"]) if s.startswith("trading.")
            )
        except grpc.RpcError as exc:
            row["serves"] = f"unknown ({exc.code().name})"
    return rows
