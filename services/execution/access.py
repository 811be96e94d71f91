"""Which groups may call each ExecutionService RPC.

Orders and quotes are for traders (and the signal service's automated bindings); risk officers
and admins may read everything and cancel, so that they can stop trading.
"""

from __future__ import annotations

from services.common.access import (
    ADMINS,
    RESEARCHERS,
    RISK_OFFICERS,
    SERVICES,
    TRADERS,
    AccessTable,
)

_TRADE = frozenset({TRADERS, ADMINS, SERVICES})
_CANCEL = frozenset({TRADERS, RISK_OFFICERS, ADMINS, SERVICES})
_READ = frozenset({TRADERS, RISK_OFFICERS, ADMINS, SERVICES})
_QUOTES = frozenset({TRADERS, ADMINS})

EXECUTION_ACCESS = AccessTable(
    "trading.execution.v1.ExecutionService",
    {
        "PlaceOrder": _TRADE,
        "CancelOrder": _CANCEL,
        "CancelAllOrders": _CANCEL,
        "GetOrder": _READ,
        "ListOrders": _READ,
        "WatchOrders": _READ,
        "ReconcileOrder": _CANCEL,
        "GetBalances": _READ,
        "ListPairs": _READ | {RESEARCHERS},
        "ListQuoteAssets": _QUOTES | {RISK_OFFICERS},
        "RequestQuote": _QUOTES,
        "ExecuteQuote": _QUOTES,
        "GetQuote": _QUOTES | {RISK_OFFICERS},
        "WatchQuote": _QUOTES | {RISK_OFFICERS},
        "RequestAndExecuteQuote": _QUOTES,
    },
)
