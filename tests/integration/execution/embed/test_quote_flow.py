"""Embed quotes through execution against the paper exchange: request, execute, follow to the end.

Everything is real: execution signs with the Embed key, the paper exchange verifies, moves the end
user's balances, and signs webhooks that execution verifies.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path

import grpc
import httpx
import pytest

from services.common.kraken_auth import webhook_signature
from tests.integration.execution.embed.conftest import Partner, embed_env, wait_for
from tests.support.paper_exchange import PaperExchange, generate_secret
from tests.support.platform import PlatformKeys, execution_env
from tests.support.redis_server import RedisServer
from tests.support.services import RunningService, running_service
from trading.execution.v1 import execution_pb2 as pb
from trading.risk.v1 import risk_pb2

TERMINAL = {
    pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE,
    pb.QUOTE_STATUS_CANCELLED,
    pb.QUOTE_STATUS_EXECUTION_FAILED,
}


def watch(partner: Partner, quote_id: str) -> list[pb.QuoteEvent]:
    return list(
        partner.stub.WatchQuote(
            pb.WatchQuoteRequest(quote_id=quote_id), metadata=partner.metadata(), timeout=20
        )
    )


def test_full_flow_completes_by_webhook_and_moves_balances(
    partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "1000", "BTC": "0"})

    quote = partner.request(user, amount="100", amount_asset="USD", quote_asset="BTC").quote
    assert quote.status == pb.QUOTE_STATUS_NEW
    assert Decimal(quote.spend.total) == Decimal(100)
    assert Decimal(quote.spend.fee) == Decimal(1)  # 100 bps of 100 USD
    assert quote.receive.asset == "BTC"
    assert Decimal(quote.receive.total) > 0

    executed = partner.execute(quote.quote_id).quote
    assert executed.status in {pb.QUOTE_STATUS_ACCEPTED, pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE}
    events = watch(partner, quote.quote_id)

    assert events[-1].quote.status == pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE
    assert [e.quote.status for e in events].count(pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE) == 1
    balances = paper.embed_balances(user)
    assert Decimal(balances["USD"]) == Decimal(1000) - Decimal(quote.spend.total)
    assert Decimal(balances["BTC"]) == Decimal(quote.receive.total)
    delivered = [d for d in paper.embed_webhooks() if d.get("quote_id") == quote.quote_id]
    assert delivered
    assert all(d["last_status"] == 200 for d in delivered)


def test_flow_is_followed_by_polling_without_webhooks(
    platform_keys: PlatformKeys,
    log_dir: Path,
    paper: PaperExchange,
    risk: RunningService,
) -> None:
    # A second execution on its own Redis: the paper exchange's webhooks go to the first one,
    # which does not know these quotes, so only polling can tell this one the quote completed.
    store = RedisServer()
    store.start()
    env = execution_env(platform_keys, paper, store.url, risk.target, embed_env(paper, 1, "0.3"))
    del env["WEBHOOK_LISTEN_ADDR"]
    try:
        with running_service("services.execution", platform_keys.keys, log_dir, env) as polling:
            client = Partner(platform_keys, polling.target)
            user = paper.embed_create_user({"USD": "500"})
            quote = client.request(user, amount="50").quote
            client.execute(quote.quote_id)
            final = wait_for(
                lambda: (q := client.get(quote.quote_id)).status in TERMINAL and q, timeout=15
            )
            client.channel.close()
    finally:
        store.close()
    assert final.status == pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(500) - Decimal(final.spend.total)


def test_executing_twice_sends_once(partner: Partner, paper: PaperExchange) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote

    first = partner.execute(quote.quote_id)
    second = partner.execute(quote.quote_id)

    assert not first.replayed
    assert second.replayed
    watch(partner, quote.quote_id)
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(200)


def test_expired_quote_is_refused_with_failed_precondition(
    partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote
    paper.embed_expire(quote.quote_id)

    with pytest.raises(grpc.RpcError) as caught:
        partner.execute(quote.quote_id)

    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "request a new quote" in (caught.value.details() or "")
    assert partner.get(quote.quote_id).status == pb.QUOTE_STATUS_EXPIRED
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(300)


def test_insufficient_funds_fails_the_execution(partner: Partner, paper: PaperExchange) -> None:
    user = paper.embed_create_user({"USD": "10"})
    quote = partner.request(user, amount="100").quote

    executed = partner.execute(quote.quote_id).quote

    assert executed.status == pb.QUOTE_STATUS_EXECUTION_FAILED
    assert executed.status_reason.startswith("EPTL:Insufficient funds for transfer")
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(10)


def test_webhook_delivered_three_times_is_applied_once(
    partner: Partner, paper: PaperExchange, execution: RunningService
) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote
    paper.embed_fault("webhook_duplicates", copies=3)

    partner.execute(quote.quote_id)
    events = watch(partner, quote.quote_id)

    def answered() -> list[dict[str, object]] | None:
        mine = [d for d in paper.embed_webhooks() if d.get("quote_id") == quote.quote_id]
        done = len(mine) >= 3 and all(d.get("last_status") == 200 for d in mine)
        return mine if done else None

    deliveries = wait_for(answered)
    event_ids = {d["event_id"] for d in deliveries}
    assert len(deliveries) >= 3
    assert len(event_ids) == 1
    ignored = [
        line
        for line in execution.log().splitlines()
        if "webhook duplicate ignored" in line and next(iter(event_ids)) in line
    ]
    assert len(ignored) == len(deliveries) - 1
    assert [e.quote.status for e in events].count(pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE) == 1
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(200)


def _post_webhook(port: int, body: bytes, secret: str, timestamp: int) -> httpx.Response:
    signature = webhook_signature(secret, timestamp, body)
    return httpx.post(
        f"http://127.0.0.1:{port}/webhooks/kraken-embed",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Event": "quote.cancelled",
            "X-Signature": f"t={timestamp},v1={signature}",
        },
        timeout=5,
    )


def test_forged_or_stale_webhook_is_refused_and_changes_nothing(
    partner: Partner, paper: PaperExchange, webhook_port: int
) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote
    body = json.dumps(
        {
            "event_type": "quote.cancelled",
            "id": f"evt-{uuid.uuid4()}",
            "quote_id": quote.quote_id,
            "status": "quote_cancelled",
        }
    ).encode()
    now = int(time.time())

    forged = _post_webhook(webhook_port, body, generate_secret(), now)
    stale = _post_webhook(webhook_port, body, paper.webhook_secret, now - 3600)

    assert forged.status_code == 401
    assert stale.status_code == 401
    assert partner.get(quote.quote_id).status == pb.QUOTE_STATUS_NEW
    # The same event, properly signed and fresh, is applied: the refusals above were real.
    genuine = _post_webhook(webhook_port, body, paper.webhook_secret, now)
    assert genuine.status_code == 200
    assert partner.get(quote.quote_id).status == pb.QUOTE_STATUS_CANCELLED


def test_kill_switch_stops_execution_of_a_requested_quote(
    partner: Partner, paper: PaperExchange, risk: RunningService
) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote
    officer = partner.risk_stub(risk.target)
    switch = risk_pb2.SetKillSwitchRequest(
        scope=risk_pb2.KILL_SWITCH_SCOPE_TEAM, team=partner.team, engaged=True, reason="test"
    )
    officer.SetKillSwitch(switch, metadata=partner.metadata(["risk-officers"]), timeout=5)
    try:
        executed = partner.execute(quote.quote_id).quote
    finally:
        switch.engaged = False
        officer.SetKillSwitch(switch, metadata=partner.metadata(["risk-officers"]), timeout=5)

    assert executed.status == pb.QUOTE_STATUS_REJECTED
    assert "KILL_SWITCH" in [v.code for v in executed.violations]
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(300)


def test_quote_over_the_team_daily_notional_is_rejected_when_requested(
    platform_keys: PlatformKeys, execution: RunningService, paper: PaperExchange
) -> None:
    small = Partner(platform_keys, execution.target, team="small-team")  # default 100000 USD
    user = paper.embed_create_user({"USD": "200000"})

    quote = small.request(user, amount="150000").quote
    small.channel.close()

    assert quote.status == pb.QUOTE_STATUS_REJECTED
    assert quote.violations


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"amount": "-5"}, "amount"),
        ({"user": "nobody"}, "user"),
        ({"quote_asset": "USD"}, "quote_asset"),
        ({"client_quote_id": "not-a-uuid"}, "client_quote_id"),
    ],
)
def test_bad_quote_request_names_the_field(
    partner: Partner, paper: PaperExchange, fields: dict[str, str], named: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        partner.request(**{"user": "AA00 PAPE RUSE R001", **fields})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (caught.value.details() or "").startswith(f"{named}: ")


def test_assets_are_listed_with_their_status(partner: Partner) -> None:
    reply = partner.stub.ListQuoteAssets(
        pb.ListQuoteAssetsRequest(user="AA00 PAPE RUSE R001"),
        metadata=partner.metadata(),
        timeout=10,
    )
    statuses = {a.name: a.status for a in reply.assets}
    assert statuses["BTC"] == pb.QUOTE_ASSET_STATUS_TRADABLE
    assert pb.QUOTE_ASSET_STATUS_DISABLED in statuses.values()


def test_rate_limited_execution_is_not_sent_and_can_be_retried(
    partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "300"})
    quote = partner.request(user, amount="100").quote
    paper.embed_fault("http_429")

    with pytest.raises(grpc.RpcError) as caught:
        partner.execute(quote.quote_id)

    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert partner.get(quote.quote_id).status == pb.QUOTE_STATUS_NEW
    retried = partner.execute(quote.quote_id).quote
    assert retried.status in {pb.QUOTE_STATUS_ACCEPTED, pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE}


def _request_and_execute(
    partner: Partner, user: str, reference: str, max_move_bps: int
) -> pb.RequestAndExecuteQuoteResponse:
    reply: pb.RequestAndExecuteQuoteResponse = partner.stub.RequestAndExecuteQuote(
        pb.RequestAndExecuteQuoteRequest(
            client_quote_id=str(uuid.uuid4()),
            user=user,
            type=pb.QUOTE_TYPE_SPEND,
            amount="100",
            amount_asset="USD",
            quote_asset="BTC",
            reference_unit_price=reference,
            max_price_move_bps=max_move_bps,
        ),
        metadata=partner.metadata(),
        timeout=15,
    )
    return reply


def test_request_and_execute_honours_the_maximum_price_move(
    partner: Partner, paper: PaperExchange
) -> None:
    user = paper.embed_create_user({"USD": "1000"})
    market = Decimal(partner.request(user, amount="100").quote.unit_price.unit_price)

    within = _request_and_execute(partner, user, format(market, "f"), max_move_bps=50)
    moved = _request_and_execute(partner, user, format(market / 2, "f"), max_move_bps=50)

    assert within.outcome == pb.REQUEST_AND_EXECUTE_OUTCOME_EXECUTED
    assert Decimal(within.price_move_bps) <= 50
    assert moved.outcome == pb.REQUEST_AND_EXECUTE_OUTCOME_PRICE_MOVED
    assert Decimal(moved.price_move_bps) > 50
    assert moved.quote.status == pb.QUOTE_STATUS_NEW
    watch(partner, within.quote.quote_id)
    assert Decimal(paper.embed_balances(user)["USD"]) == Decimal(900)


def test_watching_an_unknown_quote_is_not_found(partner: Partner) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        watch(partner, "QNOSUCHQUOTE")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
