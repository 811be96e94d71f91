"""The quote desk's state machine, balances and faults, against a real seeded market."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from services.paper.catalog import find_pair
from services.paper.embed.desk import QuoteDesk
from services.paper.embed.errors import EmbedError
from services.paper.embed.faults import EmbedFaultBook, EmbedFaultKind, EmbedFaultSpec
from services.paper.embed.quote_request import parse_quote_request
from services.paper.embed.quotes import Quote, QuoteStatus
from services.paper.embed.rates import MarketRates
from services.paper.embed.users import UserBook
from services.paper.market import Market

USER = "AA00 PAPE RUSE R001"
OTHER = "AA11 PAPE RUSE R002"
TTL = 30
START = 1_700_000_000.0


class Harness:
    """A desk with a clock the test moves and a record of final quotes."""

    def __init__(self) -> None:
        market = Market(42)
        market.set_price(find_pair("XBTUSD"), Decimal("65000.0"))
        market.set_price(find_pair("XBTEUR"), Decimal("60000.0"))
        self.now = START
        self.final: list[tuple[str, QuoteStatus]] = []
        self.users = UserBook(
            {USER: {"USD": Decimal(1000), "BTC": Decimal(1)}, OTHER: {"USD": Decimal(5)}}
        )
        self.faults = EmbedFaultBook()
        self.desk = QuoteDesk(
            rates=MarketRates(market),
            users=self.users,
            faults=self.faults,
            ttl_seconds=TTL,
            settle_delay=0,
            on_final=self._record,
            clock=lambda: self.now,
        )

    def _record(self, quote: Quote) -> None:
        self.final.append((quote.quote_id, quote.status))

    def spend_usd(self, amount: str = "100", user: str = USER, **extra: str) -> Quote:
        body = {
            "type": "spend",
            "amount": {"asset": "USD", "amount": amount},
            "quote": {"asset": "BTC"},
            "fee_bps": "100",
            "spread_bps": "50",
            **extra,
        }
        return self.desk.request(user, parse_quote_request(json.dumps(body).encode()))

    def fault(self, kind: EmbedFaultKind) -> None:
        self.faults.add(EmbedFaultSpec(kind=kind))

    def balance(self, asset: str, user: str = USER) -> Decimal:
        return self.users.balances(user)[asset]


async def _settle() -> None:
    await asyncio.sleep(0.01)


def _refusal(call: object) -> tuple[int, str]:
    assert callable(call)
    with pytest.raises(EmbedError) as caught:
        call()
    return caught.value.status, caught.value.text


async def test_a_quote_is_new_and_holds_for_the_ttl() -> None:
    desk = Harness()

    quote = desk.spend_usd()

    assert quote.status is QuoteStatus.NEW
    assert quote.expires == int(START) + TTL
    assert quote.transaction_id is None
    assert quote.priced.unit_price.price == Decimal("65325.00")
    assert quote.priced.receive.total == Decimal("0.00151549")
    assert quote.quoted is None


async def test_execute_debits_now_and_credits_at_settlement() -> None:
    desk = Harness()
    quote = desk.spend_usd()

    accepted = desk.desk.execute(quote.quote_id, USER)

    assert accepted.status is QuoteStatus.ACCEPTED
    assert accepted.transaction_id
    assert desk.balance("USD") == Decimal("900.00")
    assert desk.balance("BTC") == Decimal("1")
    await _settle()
    assert quote.status is QuoteStatus.CREDIT_TRANSFER_COMPLETE
    assert desk.balance("BTC") == Decimal("1.00151549")
    assert desk.final == [(quote.quote_id, QuoteStatus.CREDIT_TRANSFER_COMPLETE)]


async def test_executing_twice_is_already_accepted_before_and_after_settlement() -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.desk.execute(quote.quote_id, None)

    assert _refusal(lambda: desk.desk.execute(quote.quote_id, None)) == (
        409,
        "EPTL:Quote already accepted",
    )
    await _settle()
    assert _refusal(lambda: desk.desk.execute(quote.quote_id, None)) == (
        409,
        "EPTL:Quote already accepted",
    )
    assert desk.balance("USD") == Decimal("900.00")


async def test_a_quote_past_expires_is_refused_and_stays_new() -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.now = START + TTL + 1

    assert _refusal(lambda: desk.desk.execute(quote.quote_id, USER)) == (
        409,
        "EPTL:Price quote expired",
    )
    assert quote.status is QuoteStatus.NEW
    assert desk.balance("USD") == Decimal("1000.00")


async def test_expire_now_moves_expires_to_the_present() -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.now = START + 5.5

    desk.desk.expire_now(quote.quote_id)

    assert quote.expires == int(START) + 5
    assert _refusal(lambda: desk.desk.execute(quote.quote_id, USER))[1] == (
        "EPTL:Price quote expired"
    )


async def test_insufficient_balance_names_what_is_missing() -> None:
    desk = Harness()
    quote = desk.spend_usd("10", user=OTHER)

    status, text = _refusal(lambda: desk.desk.execute(quote.quote_id, OTHER))

    assert status == 409
    assert text == "EPTL:Insufficient funds for transfer: USD available 5.00, needed 10.00"
    assert quote.status is QuoteStatus.NEW


async def test_another_users_quote_is_not_found() -> None:
    desk = Harness()
    quote = desk.spend_usd()

    assert _refusal(lambda: desk.desk.execute(quote.quote_id, OTHER)) == (
        404,
        "ENexus:Quote not found",
    )
    assert _refusal(lambda: desk.desk.get("QNOPE", None)) == (404, "ENexus:Quote not found")
    assert _refusal(lambda: desk.desk.get(quote.quote_id, "AA99 NOBO DYHE RE01")) == (
        404,
        "ENexus:User not found",
    )


@pytest.mark.parametrize(
    ("kind", "status", "text"),
    [
        (EmbedFaultKind.HTTP_429, 429, "EPTL:User has too many quote executions in progress"),
        (EmbedFaultKind.HTTP_503, 503, "EPTL:Order cancelled. Try again."),
        (EmbedFaultKind.EXPIRED, 409, "EPTL:Price quote expired"),
    ],
)
async def test_refusal_faults_hit_one_execution_and_leave_the_quote_new(
    kind: EmbedFaultKind, status: int, text: str
) -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.fault(kind)

    assert _refusal(lambda: desk.desk.execute(quote.quote_id, USER)) == (status, text)
    assert quote.status is QuoteStatus.NEW
    assert desk.desk.execute(quote.quote_id, USER).status is QuoteStatus.ACCEPTED


async def test_insufficient_funds_fault_refuses_whatever_the_balance() -> None:
    desk = Harness()
    quote = desk.spend_usd("1")
    desk.fault(EmbedFaultKind.INSUFFICIENT_FUNDS)

    status, text = _refusal(lambda: desk.desk.execute(quote.quote_id, USER))

    assert status == 409
    assert text.startswith("EPTL:Insufficient funds for transfer: ")


async def test_a_quote_fault_is_not_spent_on_a_quote_that_could_not_run() -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.desk.execute(quote.quote_id, USER)
    desk.fault(EmbedFaultKind.EXECUTION_FAILED)

    _refusal(lambda: desk.desk.execute("QNOPE", USER))
    _refusal(lambda: desk.desk.execute(quote.quote_id, USER))

    assert [fault.remaining for fault in desk.faults.all()] == [1]


@pytest.mark.parametrize(
    ("kind", "final", "again"),
    [
        (
            EmbedFaultKind.EXECUTION_FAILED,
            QuoteStatus.QUOTE_EXECUTION_FAILED,
            "EPTL:Quote execution failed",
        ),
        (EmbedFaultKind.CANCELLED, QuoteStatus.QUOTE_CANCELLED, "EPTL:Quote cancelled"),
    ],
)
async def test_failed_or_cancelled_settlement_refunds_the_spend(
    kind: EmbedFaultKind, final: QuoteStatus, again: str
) -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.fault(kind)

    assert desk.desk.execute(quote.quote_id, USER).status is QuoteStatus.ACCEPTED
    assert desk.balance("USD") == Decimal("900.00")
    await _settle()

    assert quote.status is final
    assert desk.balance("USD") == Decimal("1000.00")
    assert desk.balance("BTC") == Decimal("1")
    assert desk.final == [(quote.quote_id, final)]
    assert _refusal(lambda: desk.desk.execute(quote.quote_id, USER)) == (409, again)


async def test_quote_currency_other_than_the_denomination_shows_quoted_figures() -> None:
    desk = Harness()

    same = desk.spend_usd(quote_currency="USD")
    euro = desk.spend_usd(quote_currency="EUR")

    assert same.quoted is None
    assert euro.quoted is not None
    # USD in EUR through BTC: 60000 / 65000; 100 USD shows as 92.31 EUR.
    assert euro.quoted.spend.total == Decimal("92.31")
    assert euro.quoted.unit_price.denomination.name == "EUR"
    # 65325.00 USD x 60000 / 65000 = 60300.00 EUR.
    assert euro.quoted.unit_price.price == Decimal("60300.00")


async def test_close_drops_settlements_still_to_come() -> None:
    desk = Harness()
    quote = desk.spend_usd()
    desk.desk.execute(quote.quote_id, USER)

    desk.desk.close()
    await _settle()

    assert quote.status is QuoteStatus.ACCEPTED
    assert desk.final == []
