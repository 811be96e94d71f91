"""``KrakenSpotClient``: Kraken Spot REST over one pooled ``aiohttp.ClientSession``.

A private call takes its rate budget (REST counter per key, or the trading counter per pair for
AddOrder and CancelOrder), then its nonce, builds the body once, signs exactly those bytes and sends
them. Retries happen only for SAFE_TO_RETRY errors, with exponential backoff and jitter; AddOrder
is never resent after an answer that leaves its outcome unknown. No Redis means nothing is sent.

aiohttp, not httpx as the Embed client: on the order path the HTTP client's own work was the
largest part of execution's, and measured side by side on one local server an aiohttp request
took about a third of an httpx request's client CPU (0.33 against 1.2 ms on the 2-core VM).
aiohttp never resends a POST by itself: it retries a request on a kept-alive connection the
server had closed only for idempotent methods, and every private call is a POST.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp

from services.execution.kraken import endpoints
from services.execution.kraken.budget import RestBudget, TradingAction, TradingBudget, trading_cost
from services.execution.kraken.config import KrakenSettings, NonceMode
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.endpoints import Endpoint, Limiter
from services.execution.kraken.errors import (
    TRANSPORT_FAILURES,
    ConfigurationError,
    HttpStatusError,
    InvalidNonceError,
    KrakenError,
    RateLimitedError,
    RateLimitScope,
    RetryClass,
    ServiceUnavailableError,
    TransportError,
    UnknownOutcomeError,
    from_transport,
)
from services.execution.kraken.nonce import NonceKeeper
from services.execution.kraken.orders import OrderRequest, Param
from services.execution.kraken.pooled import PooledHttpClient
from services.execution.kraken.wire import (
    ORDER_DECIMALS,
    PAIR_DECIMALS,
    TRADE_DECIMALS,
    decimal_fields,
    encode_body,
    form_value,
    parse_result,
    to_decimal,
)

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]
T = TypeVar("T")

_MAX_BACKOFF = 5.0
PREPARED_NONCE_MAX_AGE = 0.5
"""Seconds a nonce taken ahead of an AddOrder may wait (for its budget) and still be used."""
_RETRIED_HERE = (ServiceUnavailableError, TransportError, UnknownOutcomeError, HttpStatusError)


@dataclass(frozen=True)
class PreparedSend:
    """What :meth:`KrakenSpotClient.prepare_add_order` took ahead for one AddOrder: its trading
    budget (always) and, in window nonce mode, its nonce."""

    nonce: int | None
    nonce_taken_at: float

    def usable_nonce(self) -> int | None:
        """The nonce taken ahead, unless it is too old to send (then None: take a fresh one)."""
        if self.nonce is None or time.monotonic() - self.nonce_taken_at > PREPARED_NONCE_MAX_AGE:
            return None
        return self.nonce


class KrakenSpotClient(PooledHttpClient):
    """Kraken Spot REST. Public calls need nothing else; private calls need the keepers."""

    def __init__(
        self,
        settings: KrakenSettings,
        *,
        credentials: KrakenCredentials | None = None,
        nonces: NonceKeeper | None = None,
        rest_budget: RestBudget | None = None,
        trading_budget: TradingBudget | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._nonces = nonces
        self._rest_budget = rest_budget
        self._trading_budget = trading_budget
        self._clock = clock
        self._base_url = settings.api_url.rstrip("/")
        # Made on first use: an aiohttp session belongs to the running event loop.
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self._settings.http_timeout, connect=self._settings.connect_timeout
                ),
                # Short keep-alive: a request written to a connection the server already closed
                # fails after sending, which for AddOrder is an unknown outcome.
                connector=aiohttp.TCPConnector(limit=50, keepalive_timeout=5.0),
                headers={"User-Agent": self._settings.user_agent},
                # Kraken's answers carry no cookies worth keeping.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # Public market data.

    async def time(self) -> JsonObject:
        result: JsonObject = await self._public(endpoints.TIME, {})
        return result

    async def system_status(self) -> JsonObject:
        result: JsonObject = await self._public(endpoints.SYSTEM_STATUS, {})
        return result

    async def assets(
        self, asset: Sequence[str] | None = None, *, aclass: str | None = None
    ) -> JsonObject:
        params = _drop_none({"asset": _csv(asset), "aclass": aclass})
        result: JsonObject = await self._public(endpoints.ASSETS, params)
        return result

    async def asset_pairs(
        self, pair: Sequence[str] | None = None, *, info: str | None = None
    ) -> JsonObject:
        params = _drop_none({"pair": _csv(pair), "info": info})
        result: JsonObject = await self._public(endpoints.ASSET_PAIRS, params)
        for record in result.values():
            decimal_fields(record, PAIR_DECIMALS)
        return result

    async def ticker(self, pair: Sequence[str] | None = None) -> JsonObject:
        result: JsonObject = await self._public(endpoints.TICKER, _drop_none({"pair": _csv(pair)}))
        for record in result.values():
            for field in ("a", "b", "c", "v", "p", "l", "h"):
                if field in record:
                    record[field] = [to_decimal(v) for v in record[field]]
            decimal_fields(record, ("o",))
        return result

    async def depth(self, pair: str, *, count: int | None = None) -> JsonObject:
        params = _drop_none({"pair": pair, "count": count})
        result: JsonObject = await self._public(endpoints.DEPTH, params)
        for book in result.values():
            for side in ("asks", "bids"):
                book[side] = [
                    [to_decimal(price), to_decimal(volume), *rest]
                    for price, volume, *rest in book.get(side, [])
                ]
        return result

    async def ohlc(self, pair: str, *, interval: int = 1, since: int | None = None) -> JsonObject:
        params = _drop_none({"pair": pair, "interval": interval, "since": since})
        result: JsonObject = await self._public(endpoints.OHLC, params)
        for key, rows in result.items():
            if key != "last":
                result[key] = [
                    [row[0], *(to_decimal(v) for v in row[1:7]), *row[7:]] for row in rows
                ]
        return result

    # Private: account.

    async def balance(self) -> dict[str, Decimal]:
        result: JsonObject = await self._private(endpoints.BALANCE, {})
        return {asset: to_decimal(amount) for asset, amount in result.items()}

    async def balance_ex(self) -> dict[str, dict[str, Decimal]]:
        result: JsonObject = await self._private(endpoints.BALANCE_EX, {})
        return {
            asset: {name: to_decimal(value) for name, value in fields.items()}
            for asset, fields in result.items()
        }

    async def trade_balance(self, asset: str | None = None) -> dict[str, Decimal]:
        result: JsonObject = await self._private(
            endpoints.TRADE_BALANCE, _drop_none({"asset": asset})
        )
        return {name: to_decimal(value) for name, value in result.items()}

    async def open_orders(
        self, *, trades: bool = False, userref: int | None = None, cl_ord_id: str | None = None
    ) -> JsonObject:
        params = _drop_none({"trades": trades or None, "userref": userref, "cl_ord_id": cl_ord_id})
        result: JsonObject = await self._private(endpoints.OPEN_ORDERS, params)
        _orders_to_decimal(result.get("open", {}))
        return result

    async def closed_orders(
        self,
        *,
        trades: bool = False,
        userref: int | None = None,
        cl_ord_id: str | None = None,
        start: str | int | None = None,
        end: str | int | None = None,
        ofs: int | None = None,
        closetime: str | None = None,
    ) -> JsonObject:
        params = _drop_none(
            {
                "trades": trades or None,
                "userref": userref,
                "cl_ord_id": cl_ord_id,
                "start": start,
                "end": end,
                "ofs": ofs,
                "closetime": closetime,
            }
        )
        result: JsonObject = await self._private(endpoints.CLOSED_ORDERS, params)
        _orders_to_decimal(result.get("closed", {}))
        return result

    async def query_orders(
        self, txid: Sequence[str], *, trades: bool = False, userref: int | None = None
    ) -> JsonObject:
        if not 1 <= len(txid) <= 50:
            raise ValueError("query_orders takes 1 to 50 txids")
        params = _drop_none({"txid": ",".join(txid), "trades": trades or None, "userref": userref})
        result: JsonObject = await self._private(endpoints.QUERY_ORDERS, params)
        _orders_to_decimal(result)
        return result

    async def trades_history(
        self,
        *,
        type: str | None = None,
        trades: bool = False,
        start: str | int | None = None,
        end: str | int | None = None,
        ofs: int | None = None,
    ) -> JsonObject:
        params = _drop_none(
            {"type": type, "trades": trades or None, "start": start, "end": end, "ofs": ofs}
        )
        result: JsonObject = await self._private(endpoints.TRADES_HISTORY, params)
        for trade in result.get("trades", {}).values():
            decimal_fields(trade, TRADE_DECIMALS)
        return result

    # Private: trading.

    async def add_order(
        self, order: OrderRequest, *, prepared: PreparedSend | None = None
    ) -> JsonObject:
        """Place (or with ``validate`` only check) an order. Never resent on an unknown outcome.

        ``prepared``: what :meth:`prepare_add_order` already took for this AddOrder (its trading
        budget, and in window mode its nonce); only a resend (after an invalid nonce) takes them
        again.
        """
        result: JsonObject = await self._private(
            endpoints.ADD_ORDER,
            order.params(),
            pair=order.pair,
            cost=trading_cost(TradingAction.ADD),
            prepared=prepared,
        )
        return result

    async def prepare_add_order(self, pair: str) -> PreparedSend:
        """Take one AddOrder's trading budget ahead of :meth:`add_order`, and in ``window`` nonce
        mode its nonce beside it, so that the caller can do other work while Redis answers.

        A budget taken for an order that is then not sent over-counts by one: Kraken's counter
        is never under-counted. A nonce taken and not used leaves a gap, which Kraken allows; one
        that waited for its budget longer than ``PREPARED_NONCE_MAX_AGE`` is not used (a fresh
        one is taken at sending). In ``strict`` mode the nonce is always taken at sending, under
        the key's lease, so that requests go out in nonce order.
        """
        credentials, nonces = self._private_parts()
        budget = self._take_budget(
            endpoints.ADD_ORDER, credentials.key_id, pair, trading_cost(TradingAction.ADD)
        )
        if nonces.mode_for(credentials.key_id) is not NonceMode.WINDOW:
            await budget
            return PreparedSend(nonce=None, nonce_taken_at=0.0)
        _, nonce = await asyncio.gather(budget, nonces.next_nonce(credentials.key_id))
        return PreparedSend(nonce=nonce, nonce_taken_at=time.monotonic())

    async def cancel_order(
        self,
        *,
        pair: str,
        txid: str | None = None,
        cl_ord_id: str | None = None,
        order_age: float | None = None,
    ) -> JsonObject:
        """Cancel by ``txid`` (or userref) or by ``cl_ord_id``.

        ``pair`` picks the trading counter, ``order_age`` (seconds since placed or amended) its
        cost; unknown age is charged the worst case.
        """
        if (txid is None) == (cl_ord_id is None):
            raise ValueError("cancel_order takes exactly one of txid and cl_ord_id")
        result: JsonObject = await self._private(
            endpoints.CANCEL_ORDER,
            _drop_none({"txid": txid, "cl_ord_id": cl_ord_id}),
            pair=pair,
            cost=trading_cost(TradingAction.CANCEL, order_age),
        )
        return result

    async def cancel_all(self) -> JsonObject:
        result: JsonObject = await self._private(endpoints.CANCEL_ALL, {})
        return result

    async def cancel_all_orders_after(self, timeout: int) -> JsonObject:  # noqa: ASYNC109 - Kraken names it so
        """The dead man's switch: cancel everything ``timeout`` s from now; 0 disables it."""
        if not 0 <= timeout < 86400:
            raise ValueError("timeout must be 0 to 86399 seconds")
        result: JsonObject = await self._private(
            endpoints.CANCEL_ALL_ORDERS_AFTER, {"timeout": timeout}
        )
        return result

    async def rest_budget_free(self) -> float:
        """The share (0 to 1) of this key's REST counter free now, for background work that
        should leave the budget to callers."""
        credentials, _ = self._private_parts()
        assert self._rest_budget is not None  # noqa: S101 - checked by _private_parts
        capacity = self._rest_budget.bucket.limits.capacity
        return max(0.0, capacity - await self._rest_budget.level(credentials.key_id)) / capacity

    # The request path.

    async def _public(self, endpoint: Endpoint, params: Mapping[str, Param]) -> Any:
        query = {k: form_value(v) for k, v in params.items()}

        async def once() -> Any:
            try:
                async with self._http().get(
                    self._base_url + endpoint.path, params=query, allow_redirects=False
                ) as response:
                    status, content = response.status, await response.read()
            except TRANSPORT_FAILURES as exc:
                raise from_transport(
                    exc, endpoint=endpoint.name, idempotent=endpoint.idempotent
                ) from exc
            return self._parse(endpoint, status, content)

        return await self._with_retries(endpoint, once)

    async def _private(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Param],
        *,
        pair: str | None = None,
        cost: float | None = None,
        prepared: PreparedSend | None = None,
    ) -> Any:
        credentials, nonces = self._private_parts()
        key_id = credentials.key_id
        nonce_retried = False

        async def send() -> Any:
            nonlocal prepared
            nonce: int | None = None
            if prepared is not None:
                nonce = prepared.usable_nonce()
                prepared = None  # a resend pays again, as Kraken counts it again
            else:
                await self._take_budget(endpoint, key_id, pair, cost)
            try:
                return await self._send_signed(endpoint, params, credentials, nonces, nonce)
            except RateLimitedError as exc:
                await self._mark_full(exc, key_id, pair)
                raise

        async def once() -> Any:
            nonlocal nonce_retried
            try:
                return await send()
            except InvalidNonceError:
                if nonce_retried or nonces.mode_for(key_id) is not NonceMode.WINDOW:
                    raise
                # Window mode: a request refused for its nonce was not executed (decision 2).
                nonce_retried = True
                logger.info("invalid nonce; retrying once", extra={"endpoint": endpoint.name})
                return await send()

        return await self._with_retries(endpoint, once)

    async def _send_signed(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Param],
        credentials: KrakenCredentials,
        nonces: NonceKeeper,
        prepared_nonce: int | None = None,
    ) -> Any:
        """Sign and send; with ``prepared_nonce`` (window mode, taken ahead) instead of a fresh
        nonce."""
        async with nonces.reserve(credentials.key_id, ahead=prepared_nonce) as nonce:
            body, content_type = encode_body(params, nonce, self._settings.body_encoding)
            headers = credentials.headers(endpoint.path, nonce, body)
            headers["Content-Type"] = content_type
            began = time.monotonic()
            try:
                async with self._http().post(
                    self._base_url + endpoint.path,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    status, content = response.status, await response.read()
            except TRANSPORT_FAILURES as exc:
                raise from_transport(
                    exc, endpoint=endpoint.name, idempotent=endpoint.idempotent
                ) from exc
            finally:
                logger.debug(
                    "kraken private call",
                    extra={
                        "endpoint": endpoint.name,
                        "nonce": nonce,
                        "elapsed_ms": round((time.monotonic() - began) * 1000, 1),
                    },
                )
        return self._parse(endpoint, status, content)

    def _parse(self, endpoint: Endpoint, status: int, content: bytes) -> Any:
        return parse_result(
            status,
            content,
            endpoint=endpoint.name,
            idempotent=endpoint.idempotent,
            now=self._clock(),
        )

    async def _with_retries(self, endpoint: Endpoint, once: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            try:
                return await once()
            except KrakenError as exc:
                # Rate limits, exhausted budgets, busy leases and Redis failures have already
                # waited their bounded time or must fail fast; they go back to the caller.
                retryable = exc.retry_class is RetryClass.SAFE_TO_RETRY and isinstance(
                    exc, _RETRIED_HERE
                )
                logger.info(
                    "kraken call failed",
                    extra={
                        "endpoint": endpoint.name,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                        "kraken_error": exc.kraken_error,
                        "retry_class": exc.retry_class.value,
                        "will_retry": retryable and attempt < self._settings.max_attempts,
                    },
                )
                if not retryable or attempt >= self._settings.max_attempts:
                    raise
            delay = min(_MAX_BACKOFF, self._settings.backoff_base * 2 ** (attempt - 1))
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
            attempt += 1

    async def _take_budget(
        self, endpoint: Endpoint, key_id: str, pair: str | None, cost: float | None
    ) -> None:
        if endpoint.limiter is Limiter.REST:
            assert self._rest_budget is not None  # noqa: S101 - checked by _private_parts
            await self._rest_budget.take(key_id, endpoint.rest_cost)
        elif endpoint.limiter is Limiter.TRADING:
            assert self._trading_budget is not None  # noqa: S101 - checked by _private_parts
            if pair is None or cost is None:
                raise ValueError(f"{endpoint.name} needs the pair and the trading cost")
            await self._trading_budget.take(pair, cost)

    async def _mark_full(self, error: RateLimitedError, key_id: str, pair: str | None) -> None:
        if error.scope in (RateLimitScope.REST, RateLimitScope.CONCURRENCY):
            assert self._rest_budget is not None  # noqa: S101 - checked by _private_parts
            await self._rest_budget.mark_full(key_id)
        elif error.scope in (RateLimitScope.TRADING, RateLimitScope.TRADING_DOMAIN) and pair:
            assert self._trading_budget is not None  # noqa: S101 - checked by _private_parts
            await self._trading_budget.mark_full(pair)

    def _private_parts(self) -> tuple[KrakenCredentials, NonceKeeper]:
        if (
            self._credentials is None
            or self._nonces is None
            or self._rest_budget is None
            or self._trading_budget is None
        ):
            raise ConfigurationError(
                "private Kraken calls need credentials, a nonce keeper and both budgets"
            )
        return self._credentials, self._nonces


def _orders_to_decimal(orders: Mapping[str, Any]) -> None:
    for order in orders.values():
        decimal_fields(order, ORDER_DECIMALS)


def _csv(values: Sequence[str] | None) -> str | None:
    return ",".join(values) if values else None


def _drop_none(params: Mapping[str, Param | None]) -> dict[str, Param]:
    return {k: v for k, v in params.items() if v is not None}
