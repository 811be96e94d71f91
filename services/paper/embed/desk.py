"""The quote desk: requests, executes and settles quotes, moving users' balances.

A quote's life::

    new ──execute──▶ accepted ──settle delay──▶ credit_transfer_complete
                        │  (spend debited)          (receive credited)
                        └──(fault)─────────────▶ quote_execution_failed | quote_cancelled
                                                    (spend refunded)

Balances move by exactly the quoted totals. Executing a quote after its ``expires`` is refused
with HTTP 409 ``EPTL:Price quote expired`` and the quote keeps status ``new``: Kraken documents
no status for an expired quote (kraken.md §6.3, §8), so the paper exchange invents none, and a
client reads expiry from ``expires``. A ``user`` given on Get or Execute must be the quote's
owner; another user's quote answers ``ENexus:Quote not found``, as an unknown id does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal

from services.paper.embed import errors
from services.paper.embed.assets import EmbedAsset
from services.paper.embed.errors import EmbedError, conflict, invalid_argument, not_found
from services.paper.embed.faults import QUOTE_FAULTS, REFUSALS, EmbedFaultBook, EmbedFaultKind
from services.paper.embed.ids import new_kraken_id, new_quote_id
from services.paper.embed.pricing import Priced, in_currency, price_quote
from services.paper.embed.quote_request import QuoteRequest
from services.paper.embed.quotes import Quote, QuoteStatus, amount_text
from services.paper.embed.rates import MarketRates
from services.paper.embed.users import UserBook

log = logging.getLogger(__name__)

FinalListener = Callable[[Quote], None]
"""Told of every quote that reaches a final status, to send its webhook."""

Clock = Callable[[], float]
"""Wall-clock Unix seconds; tests pass their own."""

_OUTCOME_OF_FAULT = {
    EmbedFaultKind.EXECUTION_FAILED: QuoteStatus.QUOTE_EXECUTION_FAILED,
    EmbedFaultKind.CANCELLED: QuoteStatus.QUOTE_CANCELLED,
}
_REFUSAL_OF_FAULT = {
    EmbedFaultKind.HTTP_429: (429, errors.TOO_MANY_EXECUTIONS),
    EmbedFaultKind.HTTP_503: (503, errors.ORDER_CANCELLED_TRY_AGAIN),
}
_REFUSAL_OF_STATUS = {
    QuoteStatus.ACCEPTED: errors.QUOTE_ALREADY_ACCEPTED,
    QuoteStatus.CREDIT_TRANSFER_COMPLETE: errors.QUOTE_ALREADY_ACCEPTED,
    QuoteStatus.QUOTE_CANCELLED: errors.QUOTE_CANCELLED,
    QuoteStatus.QUOTE_EXECUTION_FAILED: errors.QUOTE_EXECUTION_FAILED,
}


class QuoteDesk:
    """Every quote of every user, and the settlements still to come."""

    def __init__(
        self,
        *,
        rates: MarketRates,
        users: UserBook,
        faults: EmbedFaultBook,
        ttl_seconds: int,
        settle_delay: float,
        on_final: FinalListener,
        clock: Clock = time.time,
    ) -> None:
        self._rates = rates
        self._users = users
        self._faults = faults
        self._ttl = ttl_seconds
        self._settle_delay = settle_delay
        self._on_final = on_final
        self._clock = clock
        self._quotes: dict[str, Quote] = {}
        self._settlements: dict[str, asyncio.TimerHandle] = {}

    def request(self, user: str, request: QuoteRequest) -> Quote:
        """Price ``request`` for ``user`` now; the quote holds until ``expires``."""
        self._users.require(user)
        priced = price_quote(request, self._rates.quote_price(request))
        quote = Quote(
            quote_id=new_quote_id(),
            user=user,
            type=request.type,
            priced=priced,
            quoted=self._shown_in(priced, request.quote_currency),
            expires=int(self._clock()) + self._ttl,
        )
        self._quotes[quote.quote_id] = quote
        return quote

    def _shown_in(self, priced: Priced, currency: EmbedAsset | None) -> Priced | None:
        if currency is None or currency == priced.unit_price.denomination:
            return None
        rates: dict[EmbedAsset, Decimal] = {}
        for asset in (priced.spend.asset, priced.receive.asset, priced.unit_price.denomination):
            rate = self._rates.rate(asset, currency)
            if rate is None:
                raise invalid_argument("quote_currency")
            rates[asset] = rate
        return in_currency(priced, currency, rates.__getitem__)

    def get(self, quote_id: str, user: str | None) -> Quote:
        """The quote, if it exists and belongs to ``user`` when one is given."""
        if user is not None:
            self._users.require(user)
        quote = self._quotes.get(quote_id)
        if quote is None or (user is not None and quote.user != user):
            raise not_found(errors.QUOTE_NOT_FOUND)
        return quote

    def execute(self, quote_id: str, user: str | None) -> Quote:
        """Accept the quote: debit the spend now, settle after the delay."""
        refusal = self._faults.take(REFUSALS)
        if refusal is not None:
            raise EmbedError(*_REFUSAL_OF_FAULT[refusal.kind])
        quote = self.get(quote_id, user)
        if quote.status in _REFUSAL_OF_STATUS:
            raise conflict(_REFUSAL_OF_STATUS[quote.status])
        if self._clock() >= quote.expires:
            raise conflict(errors.PRICE_QUOTE_EXPIRED)
        fault = self._faults.take(QUOTE_FAULTS)
        kind = None if fault is None else fault.kind
        if kind is EmbedFaultKind.EXPIRED:
            raise conflict(errors.PRICE_QUOTE_EXPIRED)
        spend = quote.priced.spend
        available = self._users.available(quote.user, spend.asset)
        if kind is EmbedFaultKind.INSUFFICIENT_FUNDS or available < spend.total:
            places = spend.asset.decimals
            raise conflict(
                f"{errors.INSUFFICIENT_FUNDS}: {spend.asset.name} available "
                f"{amount_text(available, places)}, needed {amount_text(spend.total, places)}"
            )
        self._users.move(quote.user, spend.asset, -spend.total)
        quote.status = QuoteStatus.ACCEPTED
        quote.transaction_id = new_kraken_id()
        outcome = QuoteStatus.CREDIT_TRANSFER_COMPLETE
        if kind is not None:
            outcome = _OUTCOME_OF_FAULT.get(kind, outcome)
        self._settlements[quote.quote_id] = asyncio.get_running_loop().call_later(
            self._settle_delay, self._settle, quote, outcome
        )
        log.info("quote accepted", extra={"quote_id": quote.quote_id, "outcome": outcome.value})
        return quote

    def _settle(self, quote: Quote, outcome: QuoteStatus) -> None:
        del self._settlements[quote.quote_id]
        if outcome is QuoteStatus.CREDIT_TRANSFER_COMPLETE:
            self._users.move(quote.user, quote.priced.receive.asset, quote.priced.receive.total)
        else:
            self._users.move(quote.user, quote.priced.spend.asset, quote.priced.spend.total)
        quote.status = outcome
        log.info("quote settled", extra={"quote_id": quote.quote_id, "status": outcome.value})
        self._on_final(quote)

    def expire_now(self, quote_id: str) -> Quote:
        """Move the quote's ``expires`` to now, for a test of expiry."""
        quote = self.get(quote_id, None)
        quote.expires = min(quote.expires, int(self._clock()))
        return quote

    def close(self) -> None:
        """Drop the settlements still to come; called at shutdown."""
        for handle in self._settlements.values():
            handle.cancel()
        self._settlements.clear()
