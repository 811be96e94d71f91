"""The paper exchange's aiohttp application: routes, and the task that steps the price path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from services.paper import admin_api, private_api, public_api
from services.paper.config import PaperSettings
from services.paper.rest import EXCHANGE
from services.paper.state import Exchange

log = logging.getLogger(__name__)


async def _tick_forever(exchange: Exchange) -> None:
    pair_ids = list(exchange.market.pairs)
    while True:
        await asyncio.sleep(exchange.settings.paper_tick_interval)
        exchange.market.step()
        for pair_id in pair_ids:
            exchange.engine.settle(pair_id)
        exchange.feed.publish(pair_ids)


async def _price_path(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_tick_forever(app[EXCHANGE]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(settings: PaperSettings) -> web.Application:
    """The exchange: Kraken REST at ``/0/``, WebSocket v2 at ``/v2``, test hooks at ``/_paper/``."""
    exchange = Exchange.build(settings)
    app = web.Application()
    app[EXCHANGE] = exchange
    public_api.add_routes(app)
    private_api.add_routes(app)
    admin_api.add_routes(app, faults_enabled=settings.paper_faults_enabled)
    app.router.add_get("/v2", exchange.feed.handle)
    app.cleanup_ctx.append(_price_path)
    return app
