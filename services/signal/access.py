"""Which groups may call each SignalService RPC.

Market data and signals are readable by every team; external signals are posted by
signal-publishers; rules are for researchers and traders; bindings, which place orders, for
traders alone.
"""

from __future__ import annotations

from services.common.access import (
    ADMINS,
    RESEARCHERS,
    RISK_OFFICERS,
    SERVICES,
    SIGNAL_PUBLISHERS,
    TRADERS,
    AccessTable,
)

_READ = frozenset({TRADERS, RESEARCHERS, RISK_OFFICERS, SIGNAL_PUBLISHERS, ADMINS, SERVICES})
_RULES = frozenset({TRADERS, RESEARCHERS, ADMINS})
_BINDINGS = frozenset({TRADERS, ADMINS})

SIGNAL_ACCESS = AccessTable(
    "trading.signal.v1.SignalService",
    {
        "GetTicker": _READ,
        "StreamTickers": _READ,
        "StreamSignals": _READ,
        "PublishSignal": frozenset({SIGNAL_PUBLISHERS, ADMINS}),
        "CreateRule": _RULES,
        "ListRules": _RULES | {RISK_OFFICERS},
        "DeleteRule": _RULES,
        "CreateBinding": _BINDINGS,
        "ListBindings": _BINDINGS | {RISK_OFFICERS},
        "PauseBinding": _BINDINGS | {RISK_OFFICERS},
        "ResumeBinding": _BINDINGS,
        "DeleteBinding": _BINDINGS,
    },
)
