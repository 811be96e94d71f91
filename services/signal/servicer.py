"""SignalService. Every RPC answers UNIMPLEMENTED until the signal issue (#5) builds it."""

from __future__ import annotations

from services.common.pending import not_built_yet
from trading.signal.v1 import signal_pb2_grpc

_ISSUE = "issue #5 (signal service)"


class SignalServicer(signal_pb2_grpc.SignalServiceServicer):
    GetTicker = not_built_yet("GetTicker", _ISSUE)
    StreamTickers = not_built_yet("StreamTickers", _ISSUE)
    PublishSignal = not_built_yet("PublishSignal", _ISSUE)
    StreamSignals = not_built_yet("StreamSignals", _ISSUE)
    CreateRule = not_built_yet("CreateRule", _ISSUE)
    ListRules = not_built_yet("ListRules", _ISSUE)
    DeleteRule = not_built_yet("DeleteRule", _ISSUE)
    CreateBinding = not_built_yet("CreateBinding", _ISSUE)
    ListBindings = not_built_yet("ListBindings", _ISSUE)
    PauseBinding = not_built_yet("PauseBinding", _ISSUE)
    ResumeBinding = not_built_yet("ResumeBinding", _ISSUE)
    DeleteBinding = not_built_yet("DeleteBinding", _ISSUE)
