"""Which groups may call each RiskService RPC. Changing limits or the kill switch is for
risk officers alone; the order checks are for the execution service's own token."""

from __future__ import annotations

from services.common.access import ADMINS, RISK_OFFICERS, SERVICES, TRADERS, AccessTable

_READERS = frozenset({TRADERS, RISK_OFFICERS, ADMINS, SERVICES})
_EXECUTION_ONLY = frozenset({SERVICES})

RISK_ACCESS = AccessTable(
    "trading.risk.v1.RiskService",
    {
        "CheckOrder": _EXECUTION_ONLY,
        "CheckQuote": _EXECUTION_ONLY,
        "ReportOrderOutcome": _EXECUTION_ONLY,
        "GetLimits": _READERS,
        "GetExposure": _READERS,
        "GetKillSwitch": _READERS,
        "ListLimitChanges": _READERS,
        "SetLimits": frozenset({RISK_OFFICERS}),
        "SetKillSwitch": frozenset({RISK_OFFICERS}),
    },
)
