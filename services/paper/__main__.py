"""``python -m services.paper``: read the environment, then serve until interrupted.

Spot (REST and WebSocket) listens on ``PAPER_PORT``; Embed, when its key pair is set, on
``PAPER_EMBED_PORT``. Both run in one event loop and share one market. SIGINT or SIGTERM
stops both cleanly, as ``web.run_app`` would: listeners closed, then each app's cleanup.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from aiohttp import web

from services.common.event_loop import run_on
from services.paper import logs
from services.paper.app import build_app
from services.paper.config import ConfigError, PaperSettings, load_settings
from services.paper.embed.app import build_embed_app
from services.paper.rest import EXCHANGE

log = logging.getLogger("services.paper")


async def _serve(settings: PaperSettings) -> None:
    spot = build_app(settings)
    apps = [("spot", spot, settings.paper_port)]
    if settings.embed_enabled:
        embed = build_embed_app(settings, spot[EXCHANGE].market)
        apps.append(("embed", embed, settings.paper_embed_port))
    else:
        log.info("embed not started: KRAKEN_EMBED_API_KEY is not set")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runners: list[web.AppRunner] = []
    try:
        for name, app, port in apps:
            runner = web.AppRunner(app, access_log=None)
            runners.append(runner)
            await runner.setup()
            await web.TCPSite(runner, settings.paper_host, port).start()
            log.info("listening", extra={"server": name, "addresses": runner.addresses})
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def main() -> int:
    logs.configure()
    try:
        settings = load_settings()
    except ConfigError as exc:
        log.error("cannot start", extra={"reason": str(exc)})
        return 2
    log.info(
        "paper exchange starting",
        extra={
            "host": settings.paper_host,
            "port": settings.paper_port,
            "embed_port": settings.paper_embed_port if settings.embed_enabled else None,
            "embed_webhooks": settings.paper_embed_webhook_url is not None,
            "tier": settings.paper_tier.value,
            "nonce_window": settings.paper_nonce_window,
            "seed": settings.paper_seed,
        },
    )
    run_on(settings.event_loop, _serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
