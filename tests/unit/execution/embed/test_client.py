"""The Embed client signs exactly what it sends (kraken.md §6.1) and maps Embed errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from services.execution.embed.client import KrakenEmbedClient
from services.execution.embed.config import EmbedSettings
from services.execution.kraken.config import NonceMode
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import QuoteError, QuoteNotFoundError, RateLimitedError

SECRET = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
USER = "AA00 TEST EXAM PLE1"


class CountingNonces:
    """Stands in for the Redis nonce keeper: increasing nonces, window mode."""

    def __init__(self) -> None:
        self.last = 1616492376593

    def mode_for(self, key_id: str) -> NonceMode:
        return NonceMode.WINDOW

    @asynccontextmanager
    async def reserve(self, key_id: str) -> AsyncIterator[int]:
        self.last += 1
        yield self.last


def _expected_sign(uri: str, nonce: str, body: bytes) -> str:
    # The documented algorithm, written out independently of the code under test.
    inner = hashlib.sha256(nonce.encode() + body).digest()
    mac = hmac.new(base64.b64decode(SECRET), uri.encode() + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def _client(handler: httpx.MockTransport, **settings: object) -> KrakenEmbedClient:
    return KrakenEmbedClient(
        EmbedSettings(api_url="http://embed.test", **settings),  # type: ignore[arg-type]
        KrakenCredentials.of("embed-key", SECRET),
        CountingNonces(),  # type: ignore[arg-type]
        transport=handler,
    )


async def test_get_signs_path_with_query_and_no_body() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": {"assets": [{"name": "BTC"}]}})

    async with _client(httpx.MockTransport(handle), version="2025-04-15") as client:
        assets = await client.list_assets(USER, tradable=True)
    assert assets == [{"name": "BTC"}]
    request = seen[0]
    uri = request.url.raw_path.decode()
    assert uri == "/b2b/quotes/assets?user=AA00+TEST+EXAM+PLE1&tradable=true"
    assert request.content == b""
    assert request.headers["API-Key"] == "embed-key"
    assert request.headers["API-Nonce"] == "1616492376594"
    assert request.headers["API-Sign"] == _expected_sign(uri, "1616492376594", b"")
    assert request.headers["Kraken-Version"] == "2025-04-15"


async def test_post_signs_the_json_bytes_sent() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"result": {"quote_id": "Q1"}})

    body = {"type": "spend", "amount": {"asset": "EUR", "amount": "50"}, "quote": {"asset": "BTC"}}
    async with _client(httpx.MockTransport(handle)) as client:
        await client.request_quote(USER, body)
    request = seen[0]
    assert request.content == json.dumps(body).encode()
    assert request.headers["Content-Type"] == "application/json"
    uri = request.url.raw_path.decode()
    assert request.headers["API-Sign"] == _expected_sign(
        uri, request.headers["API-Nonce"], request.content
    )
    assert "Kraken-Version" not in request.headers


async def test_quote_already_accepted_is_a_quote_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(409, json={"error": ["EPTL:Quote already accepted"]})

    async with _client(httpx.MockTransport(handle)) as client:
        with pytest.raises(QuoteError) as caught:
            await client.execute_quote("Q1", USER)
    assert caught.value.kraken_error == "EPTL:Quote already accepted"


async def test_errors_key_is_read_like_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"errors": ["ENexus:Quote not found"]})

    async with _client(httpx.MockTransport(handle), max_attempts=1) as client:
        with pytest.raises(QuoteNotFoundError):
            await client.get_quote("Q1", USER)


async def test_too_many_executions_is_a_rate_limit() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, json={"error": ["EPTL:User has too many quote executions in progress"]}
        )

    async with _client(httpx.MockTransport(handle)) as client:
        with pytest.raises(RateLimitedError):
            await client.execute_quote("Q1", USER)


async def test_get_is_retried_after_a_503_but_execute_is_not() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if len(calls) == 1:
            return httpx.Response(503, text="busy")
        return httpx.Response(200, json={"result": {"quote_id": "Q1"}})

    async with _client(httpx.MockTransport(handle)) as client:
        await client.get_quote("Q1", USER)
    assert calls == ["GET", "GET"]
