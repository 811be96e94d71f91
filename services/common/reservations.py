"""Risk's reservation ids: a contract between risk, which issues them, and execution.

Execution writes an order's reservation id into the order when it claims the id, before risk
has answered, so that placement that dies after sending is still reported to risk by
reconciliation. Both sides derive the id here, so they cannot drift apart.
"""

from __future__ import annotations

ORDER_PREFIX = "order:"
QUOTE_PREFIX = "quote:"


def order_reservation_id(client_order_id: str) -> str:
    """The reservation risk issues when it approves an order."""
    return f"{ORDER_PREFIX}{client_order_id}"


def quote_reservation_id(quote_id: str) -> str:
    """The reservation risk issues when it approves an Embed quote."""
    return f"{QUOTE_PREFIX}{quote_id}"
