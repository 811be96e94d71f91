"""What execution builds on start and closes on stop: Redis, the Kraken client and its keepers,
the pair catalog, the order store, journal, risk gate, reconciler and desk."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis

from services.common.calls import CallerCredentials
from services.common.identity import TokenIssuer, load_private_key
from services.execution.config import ExecutionConfig
from services.execution.kraken.budget import RestBudget, TradingBudget
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.nonce import NonceKeeper
from services.execution.orders.desk import OrderDesk
from services.execution.orders.journal import OrderJournal
from services.execution.orders.pairs import PairCatalog
from services.execution.orders.reconciler import Reconciler
from services.execution.orders.risk_gate import RiskGate
from services.execution.orders.store import OrderStore

logger = logging.getLogger(__name__)

SERVICE_NAME = "execution"


class ExecutionRuntime:
    def __init__(self, config: ExecutionConfig) -> None:
        self.config = config
        self._redis: aioredis.Redis | None = None
        self._kraken: KrakenSpotClient | None = None
        self._risk: RiskGate | None = None
        self._reconciler: Reconciler | None = None
        self._desk: OrderDesk | None = None
        self._catalog: PairCatalog | None = None
        self._store: OrderStore | None = None
        self._journal: OrderJournal | None = None

    @property
    def desk(self) -> OrderDesk:
        assert self._desk is not None  # noqa: S101 - start() ran before the server
        return self._desk

    @property
    def kraken(self) -> KrakenSpotClient:
        assert self._kraken is not None  # noqa: S101
        return self._kraken

    @property
    def catalog(self) -> PairCatalog:
        assert self._catalog is not None  # noqa: S101
        return self._catalog

    @property
    def store(self) -> OrderStore:
        assert self._store is not None  # noqa: S101
        return self._store

    @property
    def journal(self) -> OrderJournal:
        assert self._journal is not None  # noqa: S101
        return self._journal

    @property
    def reconciler(self) -> Reconciler:
        assert self._reconciler is not None  # noqa: S101
        return self._reconciler

    async def start(self) -> None:
        service, kraken = self.config.service, self.config.kraken
        timeout = service.execution_redis_timeout
        self._redis = aioredis.Redis.from_url(
            service.redis_url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        credentials = self.config.credentials
        self._kraken = KrakenSpotClient(
            kraken,
            credentials=credentials,
            nonces=NonceKeeper(
                self._redis,
                default_mode=kraken.nonce_mode,
                lease_ttl=kraken.nonce_lease_ttl,
                lease_wait=kraken.nonce_lease_wait,
            ),
            rest_budget=RestBudget(self._redis, kraken.tier, max_wait=kraken.budget_max_wait),
            trading_budget=TradingBudget(
                self._redis,
                kraken.tier,
                account_id=credentials.key_id,
                max_wait=kraken.budget_max_wait,
            ),
        )
        key_file = service.identity_signing_key_file
        assert key_file is not None  # noqa: S101 - load_execution_settings checked it
        issuer = TokenIssuer(
            SERVICE_NAME, load_private_key(key_file), audience=service.identity_audience
        )
        caller = CallerCredentials(issuer, f"service:{SERVICE_NAME}", ["services"])
        self._risk = RiskGate(service.risk_target, caller, service.risk_timeout)
        self._catalog = PairCatalog(self._kraken, service.execution_pairs_refresh)
        self._store = OrderStore(self._redis)
        self._journal = OrderJournal(self._redis)
        self._reconciler = Reconciler(
            self._kraken,
            self._store,
            self._journal,
            self._risk,
            interval=service.execution_reconcile_interval,
            grace=service.execution_reconcile_grace,
        )
        self._desk = OrderDesk(
            self._kraken, self._catalog, self._store, self._journal, self._risk, self._reconciler
        )
        self._reconciler.start()
        logger.info(
            "execution ready",
            extra={
                "kraken_url": kraken.api_url,
                "kraken_key_id": credentials.key_id,
                "risk_target": service.risk_target,
            },
        )

    async def stop(self) -> None:
        if self._reconciler is not None:
            await self._reconciler.stop()
        if self._risk is not None:
            await self._risk.close()
        if self._kraken is not None:
            await self._kraken.aclose()
        if self._redis is not None:
            await self._redis.aclose()
