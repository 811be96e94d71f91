"""KrakenSpotClient against the paper exchange as a real process: the wire format end to end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from services.execution.kraken.budget import RestBudget, TradingBudget
from services.execution.kraken.client import KrakenSpotClient
from services.execution.kraken.config import BodyEncoding, KrakenSettings, KrakenTier, NonceMode
from services.execution.kraken.credentials import KrakenCredentials
from services.execution.kraken.errors import OrderRejectedError
from services.execution.kraken.nonce import NonceKeeper
from services.execution.kraken.orders import OrderRequest, OrderType, Side
from tests.support.paper_exchange import PaperExchange

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def paper() -> Iterator[PaperExchange]:
    with PaperExchange(tier="starter") as exchange:
        yield exchange


@pytest.fixture(params=[BodyEncoding.FORM, BodyEncoding.JSON], ids=["form", "json"])
async def client(
    request: pytest.FixtureRequest, paper: PaperExchange, redis_url: str
) -> AsyncIterator[KrakenSpotClient]:
    redis = Redis.from_url(redis_url)
    credentials = KrakenCredentials.of(paper.api_key, paper.api_secret)
    settings = KrakenSettings(
        api_url=paper.url, tier=KrakenTier.STARTER, body_encoding=request.param
    )
    kraken = KrakenSpotClient(
        settings,
        credentials=credentials,
        nonces=NonceKeeper(redis, default_mode=NonceMode.STRICT),
        rest_budget=RestBudget(redis, settings.tier),
        trading_budget=TradingBudget(redis, settings.tier, account_id=credentials.key_id),
    )
    yield kraken
    await kraken.aclose()
    await redis.aclose()


async def test_signed_balance(client: KrakenSpotClient) -> None:
    balance = await client.balance()

    assert balance
    assert all(isinstance(amount, Decimal) for amount in balance.values())


async def test_validate_only_add_order_returns_a_description_and_no_txid(
    client: KrakenSpotClient,
) -> None:
    order = OrderRequest(
        pair="XBTUSD",
        side=Side.BUY,
        ordertype=OrderType.LIMIT,
        volume=Decimal("0.001"),
        price=Decimal("1000.0"),
        cl_ord_id=str(uuid.uuid4()),
        validate=True,
    )

    result = await client.add_order(order)

    assert "order" in result["descr"]
    assert "txid" not in result


async def test_order_lifecycle_by_cl_ord_id(client: KrakenSpotClient) -> None:
    cl_ord_id = str(uuid.uuid4())
    order = OrderRequest(
        pair="XBTUSD",
        side=Side.BUY,
        ordertype=OrderType.LIMIT,
        volume=Decimal("0.001"),
        price=Decimal("1000.0"),
        cl_ord_id=cl_ord_id,
        oflags=("post",),
    )

    placed = await client.add_order(order)
    open_orders = await client.open_orders(cl_ord_id=cl_ord_id)
    cancelled = await client.cancel_order(pair="XXBTZUSD", cl_ord_id=cl_ord_id, order_age=1)
    queried = await client.query_orders(placed["txid"])

    (txid,) = placed["txid"]
    assert list(open_orders["open"]) == [txid]
    assert open_orders["open"][txid]["vol"] == Decimal("0.001")
    assert cancelled["count"] == 1
    assert queried[txid]["status"] == "canceled"


async def test_an_order_under_the_minimum_is_rejected_with_a_typed_error(
    client: KrakenSpotClient,
) -> None:
    order = OrderRequest(
        pair="XBTUSD",
        side=Side.BUY,
        ordertype=OrderType.LIMIT,
        volume=Decimal("0.00000001"),
        price=Decimal("1000.0"),
    )

    with pytest.raises(OrderRejectedError) as caught:
        await client.add_order(order)

    assert caught.value.kraken_error == "EOrder:Order minimum not met"


async def test_public_pairs_and_ticker(client: KrakenSpotClient) -> None:
    pairs = await client.asset_pairs(["XBTUSD"])
    ticker = await client.ticker(["XBTUSD"])

    (pair,) = pairs.values()
    assert isinstance(pair["ordermin"], Decimal)
    (quote,) = ticker.values()
    assert isinstance(quote["a"][0], Decimal)
