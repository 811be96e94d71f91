"""The path every REST call takes: injected faults, the call itself, the envelope, the counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from services.paper import errors
from services.paper.errors import KrakenError
from services.paper.faults import FaultKind, FaultSpec
from services.paper.rate_limits import TRADING_CALLS
from services.paper.state import Exchange
from services.paper.wire import JsonValue, failed, ok

log = logging.getLogger(__name__)

EXCHANGE = web.AppKey("exchange", Exchange)

Call = Callable[[], Awaitable[JsonValue]]


def _fault_response(spec: FaultSpec, endpoint: str) -> web.Response:
    if spec.kind is FaultKind.HTTP_5XX:
        return web.Response(
            status=spec.status,
            text=f"<html><body>{spec.status}</body></html>",
            content_type="text/html",
        )
    text = {
        FaultKind.SERVICE_UNAVAILABLE: errors.SERVICE_UNAVAILABLE,
        FaultKind.SERVICE_BUSY: errors.SERVICE_BUSY,
        FaultKind.RATE_LIMIT_STORM: (
            errors.ORDER_RATE_LIMIT if endpoint in TRADING_CALLS else errors.REST_RATE_LIMIT
        ),
    }.get(spec.kind, spec.error)
    return failed(text)


def _drop(request: web.Request) -> None:
    """Close the connection under the response, so the client sees it dropped with no answer."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def respond(request: web.Request, endpoint: str, call: Call) -> web.Response:
    """Run ``call`` for ``endpoint`` under any injected fault, in Kraken's envelope."""
    exchange = request.app[EXCHANGE]
    exchange.stats.calls[endpoint] += 1
    delay = exchange.faults.latency(endpoint)
    if delay:
        exchange.stats.faults[FaultKind.LATENCY.value] += 1
        await asyncio.sleep(float(delay))
    fault = exchange.faults.take(endpoint)
    if fault is not None:
        exchange.stats.faults[fault.kind.value] += 1
        log.info("fault injected", extra={"endpoint": endpoint, "kind": fault.kind.value})
        if fault.kind is not FaultKind.DROP_AFTER_ACCEPT:
            return _fault_response(fault, endpoint)
    try:
        response = ok(await call())
    except KrakenError as exc:
        exchange.stats.errors[exc.text] += 1
        log.info("call refused", extra={"endpoint": endpoint, "error": exc.text})
        response = failed(exc.text)
    if fault is not None:
        _drop(request)
    return response
