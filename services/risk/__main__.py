"""Start the risk service: ``python -m services.risk``.

A limits file that breaks the schema stops the start with one line naming its line and field.
"""

from __future__ import annotations

import logging
import sys

import grpc.aio
import redis.exceptions

from services.common.config import load_settings
from services.common.redis_client import open_redis
from services.common.server import ServiceDefinition, run_service
from services.risk.access import RISK_ACCESS
from services.risk.audit import AuditTrail
from services.risk.book import ReservationBook
from services.risk.checks import PreTradeCheck
from services.risk.config import RiskSettings
from services.risk.kill_switch import KillSwitchStore
from services.risk.limits_file import LimitsFileError, load_limits_file
from services.risk.limits_store import LimitsStore
from services.risk.servicer import RiskServicer
from services.risk.sweeper import LapsedReservationSweeper
from trading.risk.v1 import risk_pb2_grpc

log = logging.getLogger(__name__)

# How long a closed reservation is kept so that repeated reports and checks stay harmless.
CLOSED_RESERVATION_TTL = 7 * 86400


def build(settings: RiskSettings) -> ServiceDefinition:
    try:
        seed = load_limits_file(settings.risk_limits_file)
    except LimitsFileError as exc:
        print(f"configuration error: RISK_LIMITS_FILE: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    client = open_redis(settings.redis_url, timeout=settings.risk_redis_timeout)
    book = ReservationBook(client, CLOSED_RESERVATION_TTL)
    limits = LimitsStore(client, seed, str(settings.risk_limits_file))
    servicer = RiskServicer(
        PreTradeCheck(limits, book, settings.risk_reservation_ttl),
        limits,
        book,
        KillSwitchStore(client),
        AuditTrail(client),
    )
    sweeper = LapsedReservationSweeper(book, settings.risk_sweep_interval)

    def register(server: grpc.aio.Server) -> None:
        risk_pb2_grpc.add_RiskServiceServicer_to_server(servicer, server)

    async def seed_limits() -> None:
        # Redis down at start is not fatal: checks answer UNAVAILABLE until it is back.
        try:
            stored = await limits.current()
        except redis.exceptions.RedisError as exc:
            log.warning("limits not loaded yet", extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        log.info(
            "limits loaded", extra={"version": stored.version, "updated_by": stored.updated_by}
        )

    async def close_redis() -> None:
        await client.aclose()

    return ServiceDefinition(
        "risk",
        [RISK_ACCESS.service],
        RISK_ACCESS,
        register,
        on_start=(seed_limits, sweeper.start),
        on_stop=(sweeper.stop, close_redis),
    )


def main() -> None:
    settings = load_settings(RiskSettings)
    run_service(build(settings), settings)


if __name__ == "__main__":
    main()
