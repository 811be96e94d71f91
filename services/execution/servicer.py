"""ExecutionService. Orders land with issue #3 and Embed quotes with issue #7; until then each RPC
answers UNIMPLEMENTED."""

from __future__ import annotations

from services.common.pending import not_built_yet
from trading.execution.v1 import execution_pb2_grpc

_SPOT = "issue #3 (execution: Kraken Spot trading)"
_EMBED = "issue #7 (Embed quote trading)"


class ExecutionServicer(execution_pb2_grpc.ExecutionServiceServicer):
    PlaceOrder = not_built_yet("PlaceOrder", _SPOT)
    CancelOrder = not_built_yet("CancelOrder", _SPOT)
    CancelAllOrders = not_built_yet("CancelAllOrders", _SPOT)
    GetOrder = not_built_yet("GetOrder", _SPOT)
    ListOrders = not_built_yet("ListOrders", _SPOT)
    WatchOrders = not_built_yet("WatchOrders", _SPOT)
    ReconcileOrder = not_built_yet("ReconcileOrder", _SPOT)
    GetBalances = not_built_yet("GetBalances", _SPOT)
    ListPairs = not_built_yet("ListPairs", _SPOT)
    ListQuoteAssets = not_built_yet("ListQuoteAssets", _EMBED)
    RequestQuote = not_built_yet("RequestQuote", _EMBED)
    ExecuteQuote = not_built_yet("ExecuteQuote", _EMBED)
    GetQuote = not_built_yet("GetQuote", _EMBED)
    WatchQuote = not_built_yet("WatchQuote", _EMBED)
    RequestAndExecuteQuote = not_built_yet("RequestAndExecuteQuote", _EMBED)
