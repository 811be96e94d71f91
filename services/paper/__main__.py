"""``python -m services.paper``: read the environment, then serve until interrupted."""

from __future__ import annotations

import logging
import sys

from aiohttp import web

from services.paper import logs
from services.paper.app import build_app
from services.paper.config import ConfigError, load_settings

log = logging.getLogger("services.paper")


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
            "tier": settings.paper_tier.value,
            "nonce_window": settings.paper_nonce_window,
            "seed": settings.paper_seed,
        },
    )
    web.run_app(
        build_app(settings),
        host=settings.paper_host,
        port=settings.paper_port,
        print=None,
        access_log=None,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
