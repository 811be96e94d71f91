"""The gRPC server every service runs: health, reflection, the platform interceptor, and shutdown.

Shutdown on SIGTERM or SIGINT: health goes NOT_SERVING, the server takes no new calls, in-flight
calls get `GRPC_SHUTDOWN_GRACE` seconds to finish, and the process exits 0. A second signal ends
the in-flight calls at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from services.common.access import AccessTable
from services.common.addresses import parse_host_port
from services.common.config import ServiceSettings
from services.common.event_loop import run_on
from services.common.identity import TokenVerifier, parse_trusted_keys
from services.common.interceptor import PlatformInterceptor
from services.common.logs import configure_logging
from services.common.metrics import RpcMetrics

log = logging.getLogger(__name__)

Registrar = Callable[[grpc.aio.Server], None]
Hook = Callable[[], Awaitable[None]]


@dataclass
class ServiceDefinition:
    """What one service contributes to the runtime."""

    name: str
    grpc_services: Sequence[str]
    access: AccessTable
    register: Registrar
    on_start: Sequence[Hook] = field(default_factory=tuple)
    on_stop: Sequence[Hook] = field(default_factory=tuple)


class ServiceRuntime:
    """Runs one service's gRPC server until a signal stops it."""

    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.definition = definition
        self.settings = settings
        self.metrics = RpcMetrics()
        self.health = HealthServicer()
        self._stop_requests = 0
        self._stopping = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None

    async def start(self) -> None:
        try:
            trusted = parse_trusted_keys(self.settings.identity_trusted_keys)
        except ValueError as exc:
            raise SystemExit(
                f"configuration error: IDENTITY_TRUSTED_KEYS is malformed: {exc}"
            ) from exc
        verifier = TokenVerifier(trusted, self.settings.identity_audience)
        interceptor = PlatformInterceptor(self.definition.access, verifier, self.metrics)
        server = grpc.aio.server(interceptors=[interceptor])
        self.definition.register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            [
                *self.definition.grpc_services,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            server,
        )
        self.port = server.add_insecure_port(self.settings.grpc_listen_addr)
        if self.port == 0:
            raise SystemExit(f"cannot listen on GRPC_LISTEN_ADDR={self.settings.grpc_listen_addr}")
        for hook in self.definition.on_start:
            await hook()
        await server.start()
        self._server = server
        if self.settings.metrics_port:
            host, _ = parse_host_port(self.settings.grpc_listen_addr)
            self.metrics.serve(self.settings.metrics_port, host)
        for name in ("", *self.definition.grpc_services):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "serving",
            extra={
                "grpc": self.settings.grpc_listen_addr,
                "metrics_port": self.settings.metrics_port,
                "trusted_issuers": sorted(verifier.issuers),
            },
        )

    def request_stop(self) -> None:
        """First call: drain gracefully. Second call: cut in-flight calls short."""
        self._stop_requests += 1
        self._stopping.set()
        if self._stop_requests > 1 and self._server is not None:
            log.warning("second stop signal: cancelling in-flight calls")
            asyncio.get_running_loop().create_task(self._server.stop(0))

    async def wait_and_stop(self) -> None:
        await self._stopping.wait()
        assert self._server is not None  # noqa: S101 - start() ran
        log.info("stopping", extra={"grace_s": self.settings.grpc_shutdown_grace})
        await self.health.enter_graceful_shutdown()
        await self._server.stop(self.settings.grpc_shutdown_grace)
        for hook in self.definition.on_stop:
            await hook()
        log.info("stopped")

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        await self.start()
        await self.wait_and_stop()


def run_service(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """The `main` of every service: logs, then serve until stopped; exits 0 after a clean stop."""
    configure_logging(definition.name, settings.log_level)
    run_on(settings.event_loop, ServiceRuntime(definition, settings).serve())
