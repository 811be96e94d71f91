"""A scripted Kraken on a real socket: verifies every signature and counts what reached it.

Each test queues the answers it wants per endpoint; an endpoint with nothing queued answers
success. This proves the client's behaviour on the wire; the paper exchange proves compatibility.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from services.common.kraken_auth import signature_matches
from tests.support.ports import free_port

API_KEY = "test-api-key-0001"
API_SECRET = (
    "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
)

DEFAULT_RESULTS: dict[str, Any] = {
    "Balance": {"ZUSD": "171288.6158", "XXBT": "1011.1908877900"},
    "AddOrder": {
        "descr": {"order": "buy 1.25 XBTUSD @ limit 37500.0"},
        "txid": ["OU22CG-KLAF2-FWUDD7"],
    },
    "CancelOrder": {"count": 1},
    "QueryOrders": {},
    "Ticker": {"XXBTZUSD": {"a": ["30300.10000", "1", "1.000"], "o": "30502.80000", "t": [1, 2]}},
}


@dataclass
class Answer:
    """One scripted answer: a Kraken envelope, an HTTP status, a delay, or a dropped connection.

    ``gate``: the answer waits until the test sets it (the request has arrived by then), so a
    test can order what happens while the call is in flight.
    """

    errors: list[str] = field(default_factory=list)
    result: Any = None
    status: int = 200
    raw: bytes | None = None
    delay: float = 0.0
    drop: bool = False
    gate: asyncio.Event | None = None


@dataclass
class Received:
    path: str
    nonce: int | None
    body: bytes
    content_type: str
    signed_ok: bool


class FakeKraken:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self.script: dict[str, deque[Answer]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None

    def answer(self, endpoint: str, *answers: Answer) -> None:
        self.script[endpoint].extend(answers)

    def count(self, endpoint: str) -> int:
        return sum(1 for r in self.received if r.path.endswith("/" + endpoint))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/0/{kind}/{endpoint}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        body = await request.read()
        nonce: int | None = None
        signed_ok = True
        if request.match_info["kind"] == "private":
            content_type = request.headers.get("Content-Type", "")
            if content_type.startswith("application/json"):
                nonce = int(json.loads(body)["nonce"])
            else:
                nonce = int(dict(parse_qsl(body.decode()))["nonce"])
            signed_ok = request.headers.get("API-Key") == API_KEY and signature_matches(
                request.path, nonce, body, API_SECRET, request.headers.get("API-Sign", "")
            )
        self.received.append(
            Received(request.path, nonce, body, request.headers.get("Content-Type", ""), signed_ok)
        )
        if not signed_ok:
            return web.json_response({"error": ["EAPI:Invalid signature"], "result": {}})
        queued = self.script[endpoint]
        answer = queued.popleft() if queued else Answer(result=DEFAULT_RESULTS.get(endpoint, {}))
        if answer.gate is not None:
            await answer.gate.wait()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if answer.drop:
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(1)
        if answer.raw is not None:
            return web.Response(status=answer.status, body=answer.raw)
        envelope: dict[str, Any] = {"error": answer.errors}
        if not answer.errors:
            envelope["result"] = answer.result
        return web.json_response(envelope, status=answer.status)
