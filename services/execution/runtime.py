"""What execution builds on start and closes on stop: Redis, the Kraken client and its keepers,
the pair catalog, the order store, journal, risk gate, reconciler, desk, kill-switch enforcer
(which follows risk's audit stream in the same Redis) and dead man's switch, and the Embed quote
flow."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from aiohttp import web

from services.common.addresses import parse_host_port
from services.common.calls import CallerCredentials
from services.common.identity import TokenIssuer, load_private_key
from services.common.redis_client import open_redis
from services.execution.config import ExecutionConfig
from services.execution.embed.client import KrakenEmbedClient
from services.execution.embed.desk import QuoteDesk
from services.execution.embed.monitor import QuoteMonitor
from services.execution.embed.risk_gate import QuoteRiskGate
from services.execution.embed.store import QuoteStore
from services.execution.embed.webhooks import WebhookReceiver
from services.execution.kraken.budget import RestBudget, TradingBudget
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.dead_mans_switch import DeadMansSwitch
from services.execution.kraken.nonce import NonceKeeper
from services.execution.orders.deadline import deadline_seconds
from services.execution.orders.desk import OrderDesk
from services.execution.orders.journal import OrderJournal
from services.execution.orders.kill_switch import KillSwitchEnforcer
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
        self._kill_switch: KillSwitchEnforcer | None = None
        self._dead_mans_switch: DeadMansSwitch | None = None
        self._embed: KrakenEmbedClient | None = None
        self._quote_risk: QuoteRiskGate | None = None
        self._quotes: QuoteDesk | None = None
        self._quote_monitor: QuoteMonitor | None = None
        self._webhook_runner: web.AppRunner | None = None

    @property
    def desk(self) -> OrderDesk:
        assert self._desk is not None  # noqa: S101 - start() ran before the server
        return self._desk

    @property
    def quotes(self) -> QuoteDesk:
        assert self._quotes is not None  # noqa: S101 - start() ran before the server
        return self._quotes

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
        self._redis = open_redis(service.redis_url, timeout=timeout)
        credentials = self.config.credentials
        nonces = NonceKeeper(
            self._redis,
            default_mode=kraken.nonce_mode,
            lease_ttl=kraken.nonce_lease_ttl,
            lease_wait=kraken.nonce_lease_wait,
        )
        self._kraken = KrakenSpotClient(
            kraken,
            credentials=credentials,
            nonces=nonces,
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
            self._risk,
            interval=service.execution_reconcile_interval,
            grace=service.execution_reconcile_grace,
        )
        self._desk = OrderDesk(
            self._kraken, self._catalog, self._store, self._journal, self._risk, self._reconciler
        )
        self._reconciler.start()
        if deadline_seconds(service.execution_reconcile_grace) is None:
            logger.warning(
                "AddOrder carries no deadline: EXECUTION_RECONCILE_GRACE is under 10 s, so an"
                " order that reaches Kraken later than the grace could trade after being"
                " recorded as not found",
                extra={"grace_s": service.execution_reconcile_grace},
            )
        self._kill_switch = KillSwitchEnforcer(
            self._redis,
            self._desk,
            self._journal,
            self._reconciler,
            # A blocking read must end well inside the client's socket timeout.
            block_ms=max(50, int(timeout * 500)),
        )
        self._kill_switch.start()
        self._dead_mans_switch = DeadMansSwitch(
            self._kraken,
            self._redis,
            credentials.key_id,
            service.execution_dead_mans_switch_seconds,
        )
        self._dead_mans_switch.start()
        await self._start_quotes(nonces, caller)
        logger.info(
            "execution ready",
            extra={
                "kraken_url": kraken.api_url,
                "kraken_key_id": credentials.key_id,
                "risk_target": service.risk_target,
            },
        )

    async def _start_quotes(self, nonces: NonceKeeper, caller: CallerCredentials) -> None:
        assert self._redis is not None  # noqa: S101 - start() made it
        service, embed, secrets = self.config.service, self.config.embed, self.config.embed_secrets
        if secrets.credentials is not None:
            self._embed = KrakenEmbedClient(embed, secrets.credentials, nonces)
        store = QuoteStore(self._redis)
        self._quote_risk = QuoteRiskGate(service.risk_target, caller, service.risk_timeout)
        self._quotes = QuoteDesk(self._embed, store, self._quote_risk)
        if self._embed is not None:
            self._quote_monitor = QuoteMonitor(self._quotes, store, embed.poll_interval)
            self._quote_monitor.start()
        if service.webhook_listen_addr:
            receiver = WebhookReceiver(
                self._quotes, store, secrets.webhook_secret, embed.webhook_tolerance
            )
            host, port = parse_host_port(service.webhook_listen_addr)
            self._webhook_runner = web.AppRunner(receiver.app(), access_log=None)
            await self._webhook_runner.setup()
            await web.TCPSite(self._webhook_runner, host, port).start()
        logger.info(
            "embed quotes ready" if self._embed else "embed quotes off (no KRAKEN_EMBED_API_KEY)",
            extra={
                "embed_url": embed.api_url,
                "embed_key_id": secrets.credentials.key_id if secrets.credentials else None,
                "webhook_listen_addr": service.webhook_listen_addr or None,
                "webhook_secret_set": secrets.webhook_secret is not None,
            },
        )

    async def stop(self) -> None:
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
        if self._quote_monitor is not None:
            await self._quote_monitor.stop()
        if self._quote_risk is not None:
            await self._quote_risk.close()
        if self._embed is not None:
            await self._embed.aclose()
        if self._dead_mans_switch is not None:
            await self._dead_mans_switch.stop()
        if self._kill_switch is not None:
            await self._kill_switch.stop()
        if self._reconciler is not None:
            await self._reconciler.stop()
        if self._risk is not None:
            await self._risk.close()
        if self._kraken is not None:
            await self._kraken.aclose()
        if self._redis is not None:
            await self._redis.aclose()
