"""What an outcome report does to a reservation: the target figures the settle script applies.

Reports carry cumulative fills, so the targets are absolute (filled so far, still reserved), not
deltas: a repeated or reordered report computes the same or an older target and changes nothing.
The largest fill ever reported wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from services.risk.amounts import SCALE, ceil_units, to_units
from services.risk.errors import InvalidArgument

NOT_SENT = "NOT_SENT"
REJECTED = "REJECTED"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
EXPIRED = "EXPIRED"
# Not reported by anyone: the reservation outlived its time to live without a final report.
LAPSED = "LAPSED"

TERMINAL = frozenset({NOT_SENT, REJECTED, FILLED, CANCELED, EXPIRED, LAPSED})
NOTHING_TRADED = frozenset({NOT_SENT, REJECTED})


@dataclass(frozen=True)
class LegState:
    asset: str
    direction: int
    amount: int
    left: int
    filled: int


@dataclass(frozen=True)
class ReservationState:
    """A reservation as stored (amounts in units of 10**-8)."""

    reservation_id: str
    kind: str
    state: str
    team: str
    day: str
    progress: int
    legs: tuple[LegState, ...]
    notional: int
    notional_left: int
    notional_used: int
    price: Decimal | None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclass(frozen=True)
class OutcomeReport:
    """A report as parsed from ReportOrderOutcome (amounts as Decimals, None when empty)."""

    outcome: str
    filled_volume: Decimal | None = None
    average_price: Decimal | None = None
    spend_asset: str = ""
    spend_amount: Decimal | None = None
    receive_asset: str = ""
    receive_amount: Decimal | None = None
    grant: int = 0
    """The approval the report is about (book.py); 0 when not given: applies to any."""


@dataclass(frozen=True)
class SettleTarget:
    terminal: bool
    progress: int
    legs: tuple[tuple[int, int], ...]  # (left, filled) per leg
    notional_left: int
    notional_used: int


def settle_target(
    state: ReservationState, report: OutcomeReport, notional_currency: str
) -> SettleTarget | None:
    """The figures after the report; None when it changes nothing (a repeat or older news)."""
    if state.kind == "quote":
        target = _quote_target(state, report, notional_currency)
    else:
        target = _order_target(state, report)
    if not target.terminal and target.progress == state.progress:
        return None
    return target


def _order_target(state: ReservationState, report: OutcomeReport) -> SettleTarget:
    base, quote = state.legs[0], state.legs[1]
    reported = report.filled_volume
    if reported is None and report.outcome == FILLED:
        reported = Decimal(base.amount) / SCALE
    reported_units = to_units(reported) if reported is not None else 0
    if report.outcome in NOTHING_TRADED and reported_units > 0:
        raise InvalidArgument("filled_volume", f"must be 0 for outcome {report.outcome}")
    if reported_units > base.amount:
        raise InvalidArgument(
            "filled_volume",
            f"{reported} is more than the order's volume {Decimal(base.amount) / SCALE}",
        )
    filled = max(reported_units, base.filled)
    quote_filled = quote.filled
    if filled > base.filled:
        if report.average_price is None or report.average_price <= 0:
            raise InvalidArgument("average_price", "is required when filled_volume grows")
        quote_filled = to_units(
            (Decimal(filled) / SCALE * report.average_price).quantize(
                Decimal(1) / SCALE, rounding=ROUND_HALF_EVEN
            )
        )
    terminal = report.outcome in TERMINAL
    base_left = 0 if terminal else base.amount - filled
    price = state.price or Decimal(0)
    quote_left = 0 if terminal else min(quote.left, ceil_units(Decimal(base_left) / SCALE * price))
    return SettleTarget(
        terminal=terminal,
        progress=filled,
        legs=((base_left, filled), (quote_left, quote_filled)),
        notional_left=quote_left,
        notional_used=quote_filled,
    )


def _quote_target(
    state: ReservationState, report: OutcomeReport, notional_currency: str
) -> SettleTarget:
    if report.outcome == PARTIALLY_FILLED:
        raise InvalidArgument("outcome", "an Embed quote is filled whole or not at all")
    receive, spend = state.legs[0], state.legs[1]
    if report.outcome != FILLED:
        return SettleTarget(
            terminal=True,
            progress=state.progress,
            legs=((0, receive.filled), (0, spend.filled)),
            notional_left=0,
            notional_used=state.notional_used,
        )
    if report.receive_amount is None or report.spend_amount is None:
        raise InvalidArgument("quote_fill", "spend_amount and receive_amount are required")
    if (report.receive_asset, report.spend_asset) != (receive.asset, spend.asset):
        raise InvalidArgument(
            "quote_fill",
            f"assets {report.spend_asset}->{report.receive_asset} differ from the checked "
            f"quote's {spend.asset}->{receive.asset}",
        )
    received, spent = to_units(report.receive_amount), to_units(report.spend_amount)
    used = state.notional
    if spend.asset == notional_currency:
        used = spent
    elif receive.asset == notional_currency:
        used = received
    return SettleTarget(
        terminal=True,
        progress=received,
        legs=((0, received), (0, spent)),
        notional_left=0,
        notional_used=used,
    )
