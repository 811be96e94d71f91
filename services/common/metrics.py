"""Prometheus metrics per RPC: calls by status and latency, served on the service's HTTP port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

# The labelled children of one method and status code: its call counter and latency histogram.
_Children = tuple[Counter, Histogram]


class RpcMetrics:
    """Counters and a latency histogram labelled by method and gRPC status."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.calls = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, by method and status code.",
            ["grpc_service", "grpc_method", "grpc_code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "grpc_server_handling_seconds",
            "Time from an RPC's start to its completion, by method.",
            ["grpc_service", "grpc_method"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        # Looking the children up by labels (validation, a lock) on every call cost more than
        # observing; methods and codes are few, so each pair's children are kept.
        self._children: dict[tuple[str, str], _Children] = {}

    def observe(self, full_method: str, code: str, seconds: float) -> None:
        children = self._children.get((full_method, code))
        if children is None:
            service, _, method = full_method.strip("/").partition("/")
            children = (
                self.calls.labels(service, method, code),
                self.latency.labels(service, method),
            )
            self._children[(full_method, code)] = children
        calls, latency = children
        calls.inc()
        latency.observe(seconds)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped in-cluster
        start_http_server(port, addr=host, registry=self.registry)
