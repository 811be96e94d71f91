"""KrakenSpotClient on real sockets and Redis: signing, retries, unknown outcomes, fail closed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import grpc
import pytest
from redis.asyncio import Redis

from services.execution.kraken.budget import RestBudget, TradingBudget
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.config import BodyEncoding, KrakenSettings, KrakenTier, NonceMode
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import (
    BudgetExhaustedError,
    InvalidNonceError,
    OrderRejectedError,
    RateLimitedError,
    RetryClass,
    StateUnavailableError,
    TransportError,
    UnknownOutcomeError,
)
from services.execution.kraken.nonce import NonceKeeper
from services.execution.kraken.orders import OrderRequest, OrderType, Side
from tests.integration.execution.kraken.fake_kraken import API_KEY, API_SECRET, Answer, FakeKraken
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration

PAIR = "XXBTZUSD"
ORDER = OrderRequest(
    pair=PAIR,
    side=Side.BUY,
    ordertype=OrderType.LIMIT,
    volume=Decimal("1.25"),
    price=Decimal("37500"),
    cl_ord_id="6d1b345e-2821-40e2-ad83-4ecb18a06876",
)
CREDENTIALS = KrakenCredentials.of(API_KEY, API_SECRET)

ClientFactory = Callable[..., KrakenSpotClient]


@pytest.fixture
async def kraken() -> AsyncIterator[FakeKraken]:
    fake = FakeKraken()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    yield client
    await client.aclose()


@pytest.fixture
async def make_client(kraken: FakeKraken, redis: Redis) -> AsyncIterator[ClientFactory]:
    made: list[KrakenSpotClient] = []

    def make(
        *,
        url: str | None = None,
        mode: NonceMode = NonceMode.WINDOW,
        redis_client: Redis | None = None,
        **settings: object,
    ) -> KrakenSpotClient:
        store = redis_client or redis
        config = KrakenSettings(
            api_url=url or kraken.url,
            backoff_base=0.01,
            http_timeout=settings.pop("http_timeout", 2.0),
            **settings,  # type: ignore[arg-type]
        )
        client = KrakenSpotClient(
            config,
            credentials=CREDENTIALS,
            nonces=NonceKeeper(store, default_mode=mode),
            rest_budget=RestBudget(store, KrakenTier.STARTER, max_wait=0),
            trading_budget=TradingBudget(
                store, KrakenTier.STARTER, account_id=CREDENTIALS.key_id, max_wait=0
            ),
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.mark.parametrize("encoding", [BodyEncoding.FORM, BodyEncoding.JSON])
async def test_signed_balance_returns_decimals(
    make_client: ClientFactory, kraken: FakeKraken, encoding: BodyEncoding
) -> None:
    client = make_client(body_encoding=encoding)

    balance = await client.balance()

    assert balance == {"ZUSD": Decimal("171288.6158"), "XXBT": Decimal("1011.1908877900")}
    assert [r.signed_ok for r in kraken.received] == [True]
    assert kraken.received[0].content_type.startswith(
        "application/json" if encoding is BodyEncoding.JSON else "application/x-www-form"
    )


async def test_add_order_sends_the_order_once_with_cl_ord_id(
    make_client: ClientFactory, kraken: FakeKraken, redis: Redis
) -> None:
    client = make_client()

    result = await client.add_order(ORDER)

    assert result["txid"] == ["OU22CG-KLAF2-FWUDD7"]
    body = kraken.received[0].body.decode()
    assert "cl_ord_id=6d1b345e-2821-40e2-ad83-4ecb18a06876" in body
    assert "volume=1.25" in body
    # AddOrder is counted on the pair's trading counter, not the REST counter.
    assert await client._trading_budget.level(PAIR) == pytest.approx(1, abs=0.1)  # type: ignore[union-attr]
    assert await redis.exists("kraken:budget:rest:{" + CREDENTIALS.key_id + "}") == 0


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=500, raw=b"Internal Server Error"),
        Answer(status=502, raw=b"Bad gateway"),
        Answer(errors=["EService:Busy"]),
        Answer(errors=["EGeneral:Internal error"]),
        Answer(errors=["EService:Deadline elapsed"]),
        Answer(delay=1.5),
        Answer(drop=True),
    ],
    ids=["500", "502", "busy", "internal", "deadline", "timeout", "dropped"],
)
async def test_add_order_with_unknown_outcome_is_never_resent(
    make_client: ClientFactory, kraken: FakeKraken, answer: Answer
) -> None:
    client = make_client(http_timeout=0.5, max_attempts=5)
    kraken.answer("AddOrder", answer)

    with pytest.raises(UnknownOutcomeError) as caught:
        await client.add_order(ORDER)

    assert caught.value.retry_class is RetryClass.UNKNOWN_OUTCOME
    assert kraken.count("AddOrder") == 1


async def test_timeout_on_add_order_reports_deadline_exceeded(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(http_timeout=0.3)
    kraken.answer("AddOrder", Answer(delay=1.0))

    with pytest.raises(UnknownOutcomeError) as caught:
        await client.add_order(ORDER)

    assert caught.value.grpc_status is grpc.StatusCode.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    "answer",
    [Answer(status=503, raw=b"down"), Answer(errors=["EService:Busy"]), Answer(drop=True)],
    ids=["503", "busy", "dropped"],
)
async def test_queries_are_retried_after_an_ambiguous_failure(
    make_client: ClientFactory, kraken: FakeKraken, answer: Answer
) -> None:
    client = make_client()
    kraken.answer("Balance", answer)

    balance = await client.balance()

    assert balance["ZUSD"] == Decimal("171288.6158")
    assert kraken.count("Balance") == 2


async def test_retries_are_bounded(make_client: ClientFactory, kraken: FakeKraken) -> None:
    client = make_client(max_attempts=3)
    kraken.answer("Balance", *(Answer(errors=["EService:Unavailable"]) for _ in range(5)))

    with pytest.raises(Exception, match="EService:Unavailable"):
        await client.balance()

    assert kraken.count("Balance") == 3


async def test_window_mode_retries_an_invalid_nonce_once_with_a_fresh_nonce(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(mode=NonceMode.WINDOW)
    kraken.answer("AddOrder", Answer(errors=["EAPI:Invalid nonce"]))

    await client.add_order(ORDER)

    first, second = kraken.received
    assert first.nonce is not None
    assert second.nonce is not None
    assert second.nonce > first.nonce


async def test_a_prepared_add_order_sends_the_nonce_taken_ahead_and_pays_once(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(mode=NonceMode.WINDOW)

    prepared = await client.prepare_add_order(PAIR)
    await client.add_order(ORDER, prepared=prepared)

    assert prepared.nonce is not None
    assert [r.nonce for r in kraken.received] == [prepared.nonce]
    assert all(r.signed_ok for r in kraken.received)
    assert await client._trading_budget.level(PAIR) == pytest.approx(1, abs=0.1)  # type: ignore[union-attr]


async def test_a_prepared_nonce_that_waited_too_long_is_replaced(
    make_client: ClientFactory, kraken: FakeKraken, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(mode=NonceMode.WINDOW)
    prepared = await client.prepare_add_order(PAIR)
    monkeypatch.setattr(
        "services.execution.kraken.client.PREPARED_NONCE_MAX_AGE", -1.0
    )  # any age is too old

    await client.add_order(ORDER, prepared=prepared)

    assert prepared.nonce is not None
    (sent,) = kraken.received
    assert sent.nonce is not None
    assert sent.nonce > prepared.nonce


async def test_a_prepared_add_order_refused_for_its_nonce_resends_with_a_fresh_one_and_pays_again(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(mode=NonceMode.WINDOW)
    kraken.answer("AddOrder", Answer(errors=["EAPI:Invalid nonce"]))

    prepared = await client.prepare_add_order(PAIR)
    await client.add_order(ORDER, prepared=prepared)

    first, second = kraken.received
    assert first.nonce == prepared.nonce
    assert second.nonce is not None
    assert first.nonce is not None
    assert second.nonce > first.nonce
    assert await client._trading_budget.level(PAIR) == pytest.approx(2, abs=0.1)  # type: ignore[union-attr]


async def test_strict_mode_never_takes_a_nonce_ahead(
    make_client: ClientFactory, kraken: FakeKraken, redis: Redis
) -> None:
    client = make_client(mode=NonceMode.STRICT)

    prepared = await client.prepare_add_order(PAIR)
    await client.add_order(ORDER, prepared=prepared)

    assert prepared.nonce is None
    assert kraken.count("AddOrder") == 1
    assert await redis.exists("kraken:nonce-lease:{" + CREDENTIALS.key_id + "}") == 0


async def test_window_mode_gives_up_after_the_second_invalid_nonce(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(mode=NonceMode.WINDOW)
    kraken.answer("Balance", *(Answer(errors=["EAPI:Invalid nonce"]) for _ in range(3)))

    with pytest.raises(InvalidNonceError):
        await client.balance()

    assert kraken.count("Balance") == 2


async def test_strict_mode_does_not_retry_an_invalid_nonce(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client(mode=NonceMode.STRICT)
    kraken.answer("Balance", Answer(errors=["EAPI:Invalid nonce"]))

    with pytest.raises(InvalidNonceError):
        await client.balance()

    assert kraken.count("Balance") == 1


async def test_strict_mode_releases_the_lease_after_each_call(
    make_client: ClientFactory, kraken: FakeKraken, redis: Redis
) -> None:
    client = make_client(mode=NonceMode.STRICT)

    await client.balance()
    await client.balance()

    assert kraken.count("Balance") == 2
    assert await redis.exists("kraken:nonce-lease:{" + CREDENTIALS.key_id + "}") == 0


async def test_rest_rate_limit_sets_the_bucket_full_and_is_not_retried(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client()
    kraken.answer("Balance", Answer(errors=["EAPI:Rate limit exceeded"]))

    with pytest.raises(RateLimitedError) as caught:
        await client.balance()
    with pytest.raises(BudgetExhaustedError) as exhausted:
        await client.balance()

    assert caught.value.grpc_status is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert kraken.count("Balance") == 1
    assert exhausted.value.retry_after is not None
    assert 2.5 < exhausted.value.retry_after < 3.1  # one unit at 0.33/s


async def test_trading_rate_limit_sets_the_pairs_bucket_full(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client()
    kraken.answer("AddOrder", Answer(errors=["EOrder:Rate limit exceeded"]))

    with pytest.raises(RateLimitedError):
        await client.add_order(ORDER)
    with pytest.raises(BudgetExhaustedError):
        await client.add_order(ORDER)

    assert kraken.count("AddOrder") == 1


async def test_exhausted_budget_sends_nothing(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client()
    for _ in range(7):
        await client.trades_history()  # costs 2 each: 14 of 15

    with pytest.raises(BudgetExhaustedError):
        await client.trades_history()

    assert kraken.count("TradesHistory") == 7


async def test_order_rejection_is_typed_and_not_retried(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client()
    kraken.answer("AddOrder", Answer(errors=["EOrder:Insufficient funds"]))

    with pytest.raises(OrderRejectedError) as caught:
        await client.add_order(ORDER)

    assert caught.value.kraken_error == "EOrder:Insufficient funds"
    assert kraken.count("AddOrder") == 1


async def test_cancel_by_cl_ord_id_is_charged_by_order_age(
    make_client: ClientFactory, kraken: FakeKraken
) -> None:
    client = make_client()

    await client.cancel_order(pair=PAIR, cl_ord_id=ORDER.cl_ord_id, order_age=36)

    assert "cl_ord_id=" in kraken.received[0].body.decode()
    assert await client._trading_budget.level(PAIR) == pytest.approx(4, abs=0.1)  # type: ignore[union-attr]


async def test_connection_refused_is_safe_to_retry_and_bounded(
    make_client: ClientFactory,
) -> None:
    client = make_client(url=f"http://127.0.0.1:{free_port()}", max_attempts=2)

    with pytest.raises(TransportError) as caught:
        await client.add_order(ORDER)

    assert caught.value.retry_class is RetryClass.SAFE_TO_RETRY


@pytest.mark.parametrize("call", ["balance", "add_order", "cancel_all"])
async def test_redis_down_means_nothing_is_sent(
    make_client: ClientFactory, kraken: FakeKraken, call: str
) -> None:
    server = RedisServer()
    server.start()
    store = Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=1)
    client = make_client(redis_client=store)
    await store.ping()
    server.stop()
    try:
        calls = {"balance": client.balance, "cancel_all": client.cancel_all}
        attempt = calls.get(call) or (lambda: client.add_order(ORDER))
        with pytest.raises(StateUnavailableError) as caught:
            await attempt()
    finally:
        await store.aclose()
        server.close()

    assert caught.value.grpc_status is grpc.StatusCode.UNAVAILABLE
    assert kraken.received == []


async def test_public_ticker_needs_no_credentials_and_parses_decimals(
    kraken: FakeKraken,
) -> None:
    async with KrakenSpotClient(KrakenSettings(api_url=kraken.url)) as client:
        ticker = await client.ticker([PAIR])

    assert ticker[PAIR]["a"][0] == Decimal("30300.10000")
    assert ticker[PAIR]["o"] == Decimal("30502.80000")
    assert ticker[PAIR]["t"] == [1, 2]
    assert kraken.received[0].path == "/0/public/Ticker"


async def test_secrets_never_reach_logs_or_errors(
    make_client: ClientFactory, kraken: FakeKraken, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    kraken.answer("AddOrder", Answer(status=500, raw=b"boom"))

    with caplog.at_level(logging.DEBUG), pytest.raises(UnknownOutcomeError) as caught:
        await client.add_order(ORDER)
    await client.balance()

    everything = caplog.text + "".join(repr(r.__dict__) for r in caplog.records)
    for secret in (API_KEY, API_SECRET):
        assert secret not in everything
        assert secret not in str(caught.value)
        assert secret not in repr(caught.value)
