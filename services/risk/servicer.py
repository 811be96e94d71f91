"""RiskService. Every RPC answers UNIMPLEMENTED until the risk issue (#4) builds it."""

from __future__ import annotations

from services.common.pending import not_built_yet
from trading.risk.v1 import risk_pb2_grpc

_ISSUE = "issue #4 (risk service)"


class RiskServicer(risk_pb2_grpc.RiskServiceServicer):
    CheckOrder = not_built_yet("CheckOrder", _ISSUE)
    CheckQuote = not_built_yet("CheckQuote", _ISSUE)
    ReportOrderOutcome = not_built_yet("ReportOrderOutcome", _ISSUE)
    GetLimits = not_built_yet("GetLimits", _ISSUE)
    SetLimits = not_built_yet("SetLimits", _ISSUE)
    GetExposure = not_built_yet("GetExposure", _ISSUE)
    SetKillSwitch = not_built_yet("SetKillSwitch", _ISSUE)
    GetKillSwitch = not_built_yet("GetKillSwitch", _ISSUE)
    ListLimitChanges = not_built_yet("ListLimitChanges", _ISSUE)
