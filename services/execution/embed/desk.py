"""The quote desk: what the quote RPCs do, from validation to Kraken and back.

RequestQuote: validate, take the ``client_quote_id`` (a repeat returns the recorded quote), ask
Kraken, dry-run risk (a refusal records the quote REJECTED, never executable). ExecuteQuote:
refuse an expired quote (FAILED_PRECONDITION, request a new one), reserve at risk (so a kill
switch engaged after the request still stops it), record the quote UNKNOWN *before* the PUT goes
out, then record Kraken's answer. Executing twice is safe: Kraken answers ``EPTL:Quote already
accepted`` and the desk returns the current state. A crash between the PUT and its answer leaves
the quote UNKNOWN for the poller (``monitor.py``) to resolve with GET.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.common.identity import Identity
from services.execution.embed.client import KrakenEmbedClient
from services.execution.embed.model import (
    KrakenQuote,
    QuoteRecord,
    now_ms,
    parse_quote,
)
from services.execution.embed.risk_gate import QuoteRiskGate
from services.execution.embed.store import PENDING, QuoteStore
from services.execution.embed.validation import (
    QuoteRequest,
    basis_points,
    quote_id,
    validate_quote_request,
)
from services.execution.kraken.errors import (
    KrakenError,
    QuoteError,
    QuoteNotFoundError,
    RetryClass,
)
from services.execution.orders.desk import DuplicateOrder, OrderNotVisible, sees_all_teams
from services.execution.orders.model import Violation
from services.execution.orders.validation import OrderInputError, client_order_id, decimal_field
from trading.execution.v1 import execution_pb2

logger = logging.getLogger(__name__)

CLIENT_ID_TTL = 7 * 86400
WATCH_BLOCK_MS = 400

_S = execution_pb2
# What an execution refused with an ``EPTL:`` string leaves the quote as.
_REFUSALS: dict[str, int] = {
    "EPTL:Price quote expired": _S.QUOTE_STATUS_EXPIRED,
    "EPTL:Quote cancelled": _S.QUOTE_STATUS_CANCELLED,
    "EPTL:Quote execution failed": _S.QUOTE_STATUS_EXECUTION_FAILED,
    "EPTL:Insufficient funds for transfer": _S.QUOTE_STATUS_EXECUTION_FAILED,
    "EPTL:PTL unable to fund transfer for quote": _S.QUOTE_STATUS_EXECUTION_FAILED,
    "EPTL:PTL unable to fund order for quote": _S.QUOTE_STATUS_EXECUTION_FAILED,
}
ALREADY_ACCEPTED = "EPTL:Quote already accepted"


class EmbedNotConfigured(Exception):
    """No Embed key pair: the quote RPCs cannot work (FAILED_PRECONDITION)."""


class QuoteExpired(Exception):
    """Executing after ``expires`` (FAILED_PRECONDITION): request a new quote."""


class QuoteInProgress(Exception):
    """The first RequestQuote with this id is still with Kraken (UNAVAILABLE, retry)."""


def visible(record: QuoteRecord, identity: Identity) -> bool:
    return sees_all_teams(identity) or record.team == identity.subject


@dataclass(frozen=True)
class Executed:
    record: QuoteRecord
    replayed: bool


class QuoteDesk:
    def __init__(
        self, client: KrakenEmbedClient | None, store: QuoteStore, risk: QuoteRiskGate
    ) -> None:
        self._client = client
        self._store = store
        self._risk = risk

    @property
    def kraken(self) -> KrakenEmbedClient:
        if self._client is None:
            raise EmbedNotConfigured(
                "Kraken Embed is not configured: set KRAKEN_EMBED_API_KEY and "
                "KRAKEN_EMBED_API_SECRET (or their _FILE variants)"
            )
        return self._client

    async def list_assets(self, user: str, tradable: bool | None) -> list[dict[str, Any]]:
        return await self.kraken.list_assets(user, tradable=tradable)

    async def request(self, request: Any, identity: Identity) -> tuple[QuoteRecord, bool]:
        client_quote_id = client_order_id(request.client_quote_id, "client_quote_id")
        wanted = validate_quote_request(request, client_quote_id)
        kraken = self.kraken
        taken = await self._store.claim_client_id(client_quote_id, CLIENT_ID_TTL)
        if taken == PENDING:
            raise QuoteInProgress(
                f"a RequestQuote with client_quote_id {client_quote_id} is in progress; retry"
            )
        if taken is not None:
            return await self._replay(taken, wanted, identity), True
        try:
            kraken_quote = parse_quote(
                await kraken.request_quote(wanted.user, wanted.kraken_body())
            )
            record = _new_record(kraken_quote, wanted, identity)
            decision = await self._risk.check_quote(record, dry_run=True)
        except BaseException:
            await self._store.release_client_id(client_quote_id)
            raise
        if not decision.approved:
            record.violations = decision.violations
            record.advance(_S.QUOTE_STATUS_REJECTED, "refused by risk")
        await self._store.create(record)
        logger.info(
            "quote requested",
            extra={
                "quote_id": record.quote_id,
                "client_quote_id": client_quote_id,
                "team": record.team,
                "status": _S.QuoteStatus.Name(record.status),  # type: ignore[arg-type]
            },
        )
        return record, False

    async def request_and_execute(self, request: Any, identity: Identity) -> RequestedAndExecuted:
        """Request a quote and execute it only if its price is within the caller's bound."""
        if not request.reference_unit_price:
            raise OrderInputError(
                "reference_unit_price",
                "is required (indicative quotes are not supported by this version)",
            )
        reference = decimal_field(request.reference_unit_price, "reference_unit_price")
        if reference <= 0:
            raise OrderInputError("reference_unit_price", "must be greater than zero")
        bound = Decimal(basis_points(request.max_price_move_bps, "max_price_move_bps"))
        record, replayed = await self.request(request, identity)
        move = unit_price_move_bps(record, reference)
        if record.status == _S.QUOTE_STATUS_NEW and not record.execute_sent and move <= bound:
            try:
                record = (await self.execute(record.quote_id, identity)).record
            except QuoteExpired:
                record = await self._must_get(record.quote_id)
        return RequestedAndExecuted(outcome_of(record), record, reference, move, replayed)

    async def get(self, quote_id_text: str, identity: Identity, *, refresh: bool) -> QuoteRecord:
        record = await self.visible(quote_id_text, identity)
        if refresh:
            record = await self.refresh(record.quote_id) or record
        return record

    async def visible(self, quote_id_text: str, identity: Identity) -> QuoteRecord:
        qid = quote_id(quote_id_text)
        record = await self._store.get(qid)
        if record is None or not visible(record, identity):
            raise OrderNotVisible(f"no quote {qid}")
        return record

    async def execute(self, quote_id_text: str, identity: Identity) -> Executed:
        record = await self.visible(quote_id_text, identity)
        kraken = self.kraken
        if record.terminal or record.status == _S.QUOTE_STATUS_ACCEPTED:
            return Executed(record, replayed=record.execute_sent)
        if record.expired_at(now_ms()):
            await self._expire(record.quote_id)
            raise QuoteExpired(
                f"quote {record.quote_id} expired at its expire_time; request a new quote"
            )
        decision = await self._risk.check_quote(record, dry_run=False)
        if not decision.approved:
            rejected = await self._store.update(
                record.quote_id, lambda r: _reject(r, decision.violations)
            )
            return Executed(rejected or record, replayed=False)
        sending = await self._store.update(
            record.quote_id, lambda r: _mark_sending(r, decision.reservation_id)
        )
        assert sending is not None  # noqa: S101 - the record exists: we just read it
        try:
            result = await kraken.execute_quote(record.quote_id, record.user)
        except QuoteError as exc:
            return await self._refused(record.quote_id, exc)
        except KrakenError as exc:
            failure = exc
            if exc.retry_class is RetryClass.UNKNOWN_OUTCOME:
                logger.warning(
                    "quote execution outcome unknown",
                    extra={"quote_id": record.quote_id, "error": type(exc).__name__},
                )
                return Executed(await self.refresh(record.quote_id) or sending, replayed=False)
            # Certainly not executed (rate limit, service down, bad request): back to NEW, the
            # reservation kept for a retry; the poller releases it if the quote expires first.
            await self._store.update(record.quote_id, lambda r: _not_executed(r, failure))
            raise
        after = await self._absorb(record.quote_id, result)
        await self.settle(after)
        return Executed(after, replayed=False)

    async def refresh(self, qid: str) -> QuoteRecord | None:
        """Ask Kraken for the quote and record what it says; None when unknown here."""
        record = await self._store.get(qid)
        if record is None:
            return None
        if record.expired_at(now_ms()):
            return await self._expire(qid)
        if record.terminal:
            return record
        try:
            kraken_quote = parse_quote(await self.kraken.get_quote(qid, record.user))
        except QuoteNotFoundError:
            return record
        updated = await self._store.update(qid, lambda r: r.absorb(kraken_quote))
        if updated is not None:
            await self.settle(updated)
        return updated

    async def apply(
        self, qid: str, kraken_status: str, quote: KrakenQuote | None
    ) -> QuoteRecord | None:
        """A webhook's news about a quote; None when the quote is not ours."""

        def change(record: QuoteRecord) -> bool:
            if quote is not None:
                return record.absorb(quote)
            return record.absorb(_status_only(record, kraken_status))

        return await self._store.update(qid, change)

    async def settle(self, record: QuoteRecord) -> None:
        """Report a terminal quote's outcome to risk once."""
        if not record.terminal or not record.reservation_id or record.reported_outcome:
            return
        outcome = await self._risk.report_quote(record)
        if outcome:
            await self._store.update(record.quote_id, lambda r: _reported(r, outcome))

    async def watch(
        self, qid_text: str, identity: Identity
    ) -> AsyncIterator[tuple[str, QuoteRecord]]:
        record = await self.visible(qid_text, identity)
        qid = record.quote_id
        cursor = "0"
        history = [event async for event in self._store.events(qid, after=cursor, block_ms=None)]
        if history:
            cursor, record = history[-1]
        yield cursor, record
        while not record.terminal:
            got = False
            async for event_id, event in self._store.events(
                qid, after=cursor, block_ms=WATCH_BLOCK_MS
            ):
                got = True
                cursor, record = event_id, event
                yield cursor, record
                if record.terminal:
                    return
            if not got and record.expired_at(now_ms()):
                await self._expire(qid)

    async def _replay(self, taken: str, wanted: QuoteRequest, identity: Identity) -> QuoteRecord:
        record = await self._store.get(taken)
        if record is None or not visible(record, identity):
            raise DuplicateOrder("client_quote_id is already in use")
        same = (
            record.user == wanted.user
            and record.quote_type == wanted.quote_type
            and {record.spend.asset, record.receive.asset}
            == {wanted.amount_asset, wanted.quote_asset}
        )
        if not same:
            raise DuplicateOrder("client_quote_id was already used for a different quote")
        return record

    async def _refused(self, qid: str, exc: QuoteError) -> Executed:
        if exc.kraken_error == ALREADY_ACCEPTED:
            return Executed(await self.refresh(qid) or await self._must_get(qid), replayed=True)
        status: int = _S.QUOTE_STATUS_EXECUTION_FAILED
        for prefix, refusal in _REFUSALS.items():
            if (exc.kraken_error or "").startswith(prefix):
                status = refusal
        after = await self._store.update(
            qid, lambda r: r.advance(status, exc.kraken_error or exc.message)
        )
        record = after or await self._must_get(qid)
        await self.settle(record)
        if status == _S.QUOTE_STATUS_EXPIRED:
            raise QuoteExpired(
                f"quote {qid} expired at Kraken ({exc.kraken_error}); request a new quote"
            )
        return Executed(record, replayed=False)

    async def _absorb(self, qid: str, result: Any) -> QuoteRecord:
        if isinstance(result, dict) and result.get("quote_id"):
            kraken_quote = parse_quote(result)
            after = await self._store.update(qid, lambda r: r.absorb(kraken_quote))
            if after is not None:
                return after
        # The 200 body of Execute is not documented (§6.3): learn the state with GET instead.
        accepted = await self._store.update(qid, lambda r: r.advance(_S.QUOTE_STATUS_ACCEPTED, ""))
        return await self.refresh(qid) or accepted or await self._must_get(qid)

    async def _expire(self, qid: str) -> QuoteRecord:
        def change(record: QuoteRecord) -> bool:
            if not record.expired_at(now_ms()):
                return False
            return record.advance(_S.QUOTE_STATUS_EXPIRED, "not executed before expire_time")

        after = await self._store.update(qid, change) or await self._must_get(qid)
        await self.settle(after)
        return after

    async def _must_get(self, qid: str) -> QuoteRecord:
        record = await self._store.get(qid)
        if record is None:
            raise OrderNotVisible(f"no quote {qid}")
        return record


def _new_record(quote: KrakenQuote, wanted: QuoteRequest, identity: Identity) -> QuoteRecord:
    record = QuoteRecord(
        quote_id=quote.quote_id,
        client_quote_id=wanted.client_quote_id,
        user=wanted.user,
        quote_type=wanted.quote_type,
        team=identity.subject,
        requested_by=identity.subject,
        request_id=identity.request_id or "",
        expires_ms=quote.expires_ms,
        spend=quote.spend,
        receive=quote.receive,
        unit_price=quote.unit_price,
        quoted_spend=quote.quoted_spend,
        quoted_receive=quote.quoted_receive,
        quoted_unit_price=quote.quoted_unit_price,
        fee_bps=wanted.fee_bps,
        spread_bps=wanted.spread_bps,
    )
    record.absorb(quote)
    return record


def _reject(record: QuoteRecord, violations: list[Violation]) -> bool:
    changed = record.advance(_S.QUOTE_STATUS_REJECTED, "refused by risk")
    if changed:
        record.violations = violations
    return changed


def _mark_sending(record: QuoteRecord, reservation_id: str) -> bool:
    record.reservation_id = reservation_id or record.reservation_id
    record.execute_sent = True
    return record.advance(_S.QUOTE_STATUS_UNKNOWN, "execution sent, outcome not known yet")


def _not_executed(record: QuoteRecord, error: KrakenError) -> bool:
    if record.status != _S.QUOTE_STATUS_UNKNOWN:
        return False
    record.status = _S.QUOTE_STATUS_NEW
    record.execute_sent = False
    record.status_reason = f"not executed: {error.kraken_error or type(error).__name__}"
    record.updated_ms = now_ms()
    return True


def _reported(record: QuoteRecord, outcome: int) -> bool:
    record.reported_outcome = outcome
    return False


def _status_only(record: QuoteRecord, kraken_status: str) -> KrakenQuote:
    return KrakenQuote(
        quote_id=record.quote_id,
        kraken_type="",
        kraken_status=kraken_status,
        expires_ms=record.expires_ms,
        spend=record.spend,
        receive=record.receive,
        unit_price=record.unit_price,
        transaction_id=record.transaction_id,
    )


@dataclass(frozen=True)
class RequestedAndExecuted:
    outcome: int
    record: QuoteRecord
    reference: Decimal
    move_bps: Decimal
    replayed: bool


def unit_price_move_bps(record: QuoteRecord, reference: Decimal) -> Decimal:
    """How much worse the quote's unit price is than ``reference``, in bps (negative: better).

    The user buys ``unit_price.asset`` when it is what they receive: a higher price is worse.
    """
    quoted = Decimal(record.unit_price.unit_price)
    move = (quoted - reference) / reference * Decimal(10000)
    buying = record.receive.asset == record.unit_price.asset
    return (move if buying else -move).quantize(Decimal("0.01"))


def outcome_of(record: QuoteRecord) -> int:
    if record.status == _S.QUOTE_STATUS_REJECTED:
        return _S.REQUEST_AND_EXECUTE_OUTCOME_REJECTED
    if record.status in (
        _S.QUOTE_STATUS_EXPIRED,
        _S.QUOTE_STATUS_CANCELLED,
        _S.QUOTE_STATUS_EXECUTION_FAILED,
    ):
        return _S.REQUEST_AND_EXECUTE_OUTCOME_FAILED
    if record.execute_sent:
        return _S.REQUEST_AND_EXECUTE_OUTCOME_EXECUTED
    return _S.REQUEST_AND_EXECUTE_OUTCOME_PRICE_MOVED
