"""The Embed flow as real processes: paper exchange (Spot and Embed), Redis, risk, execution.

Execution's webhook receiver listens on a port picked before the paper exchange starts, so the
paper exchange can sign and deliver its webhooks there, as Kraken would through Kong.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.support.paper_exchange import PaperExchange
from tests.support.platform import PlatformKeys, execution_env
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.execution.v1 import execution_pb2, execution_pb2_grpc
from trading.risk.v1 import risk_pb2_grpc

SETTLE_DELAY = "0.6"


@pytest.fixture(scope="module")
def webhook_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def paper(webhook_port: int) -> Iterator[PaperExchange]:
    with PaperExchange(
        nonce_window=1000,
        webhook_url=f"http://127.0.0.1:{webhook_port}/webhooks/kraken-embed",
        extra_env={"PAPER_EMBED_SETTLE_DELAY": SETTLE_DELAY, "PAPER_EMBED_QUOTE_TTL": "30"},
    ) as exchange:
        yield exchange


def embed_env(paper: PaperExchange, webhook_port: int, poll: str = "0.3") -> dict[str, str]:
    return {
        "KRAKEN_EMBED_API_URL": paper.embed_url,
        "KRAKEN_EMBED_API_KEY": paper.embed_api_key,
        "KRAKEN_EMBED_API_SECRET": paper.embed_api_secret,
        "KRAKEN_EMBED_WEBHOOK_SECRET": paper.webhook_secret,
        "KRAKEN_EMBED_POLL_INTERVAL": poll,
        "WEBHOOK_LISTEN_ADDR": f"127.0.0.1:{webhook_port}",
    }


@pytest.fixture(scope="module")
def execution(
    platform_keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    risk_redis: RedisServer,
    risk: RunningService,
    webhook_port: int,
) -> Iterator[RunningService]:
    env = execution_env(
        platform_keys,
        paper,
        risk_redis.url,
        risk.target,
        # A long poll interval: completion must come from the webhook, not from polling.
        embed_env(paper, webhook_port, poll="30"),
    )
    with running_service("services.execution", platform_keys.keys, log_dir, env) as service:
        yield service


class Partner:
    """The partner-facing team calling execution with a locally minted token."""

    def __init__(self, keys: PlatformKeys, target: str, team: str = "partner-app") -> None:
        self._issuer = keys.keys.issuer()
        self.team = team
        self.channel = grpc.insecure_channel(target)
        self.stub = execution_pb2_grpc.ExecutionServiceStub(self.channel)

    def metadata(self, groups: list[str] | None = None) -> tuple[tuple[str, str], ...]:
        token = self._issuer.mint(self.team, groups or ["traders"])
        return (("authorization", f"Bearer {token}"),)

    def request(self, user: str = "", **fields: Any) -> execution_pb2.RequestQuoteResponse:
        values: dict[str, Any] = {
            "client_quote_id": str(uuid.uuid4()),
            "user": user,
            "type": execution_pb2.QUOTE_TYPE_SPEND,
            "amount": "100",
            "amount_asset": "USD",
            "quote_asset": "BTC",
            "fee_bps": 100,
        }
        values.update(fields)
        reply: execution_pb2.RequestQuoteResponse = self.stub.RequestQuote(
            execution_pb2.RequestQuoteRequest(**values), metadata=self.metadata(), timeout=15
        )
        return reply

    def execute(self, quote_id: str) -> execution_pb2.ExecuteQuoteResponse:
        reply: execution_pb2.ExecuteQuoteResponse = self.stub.ExecuteQuote(
            execution_pb2.ExecuteQuoteRequest(quote_id=quote_id),
            metadata=self.metadata(),
            timeout=15,
        )
        return reply

    def get(self, quote_id: str, refresh: bool = False) -> execution_pb2.Quote:
        reply = self.stub.GetQuote(
            execution_pb2.GetQuoteRequest(quote_id=quote_id, refresh=refresh),
            metadata=self.metadata(),
            timeout=15,
        )
        quote: execution_pb2.Quote = reply.quote
        return quote

    def risk_stub(self, target: str) -> risk_pb2_grpc.RiskServiceStub:
        return risk_pb2_grpc.RiskServiceStub(grpc.insecure_channel(target))


@pytest.fixture
def partner(platform_keys: PlatformKeys, execution: RunningService) -> Iterator[Partner]:
    client = Partner(platform_keys, execution.target)
    yield client
    client.channel.close()


def wait_for(probe: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """``probe()`` once it returns something truthy; fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)
