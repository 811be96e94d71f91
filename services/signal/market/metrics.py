"""Prometheus metrics of the market-data layer, on the registry the service serves."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class MarketMetrics:
    """Feed health: messages, reconnects, checksum mismatches, leases, publishing to Redis."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.messages = Counter(
            "signal_market_ws_messages",
            "WebSocket messages received, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.malformed = Counter(
            "signal_market_ws_malformed",
            "WebSocket messages dropped because they were not the documented shape.",
            registry=self.registry,
        )
        self.connects = Counter(
            "signal_market_ws_connects",
            "WebSocket connections established.",
            registry=self.registry,
        )
        self.disconnects = Counter(
            "signal_market_ws_disconnects",
            "WebSocket connections lost or failed, by reason (stale, closed, error).",
            ["reason"],
            registry=self.registry,
        )
        self.refused_requests = Counter(
            "signal_market_ws_refused_requests",
            "Subscribe and unsubscribe requests the exchange refused, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.checksum_mismatches = Counter(
            "signal_market_book_checksum_mismatches",
            "Book messages whose checksum did not match; each resubscribes the book.",
            ["pair"],
            registry=self.registry,
        )
        self.owned_pairs = Gauge(
            "signal_market_owned_pairs",
            "Pairs whose feed this replica owns.",
            registry=self.registry,
        )
        self.lease_events = Counter(
            "signal_market_lease_events",
            "Feed lease changes, by event (acquired, lost, released).",
            ["event"],
            registry=self.registry,
        )
        self.published = Counter(
            "signal_market_published_events",
            "Market events written to Redis, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.publish_failures = Counter(
            "signal_market_publish_failures",
            "Batches of market events lost because Redis failed.",
            registry=self.registry,
        )
        self.dropped_events = Counter(
            "signal_market_dropped_events",
            "Market events dropped because the queue to Redis was full.",
            registry=self.registry,
        )
