"""The Embed quote RPCs of ExecutionService (issue #7); the work is in ``embed/desk.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from services.common.interceptor import current_identity
from services.execution.answers import answer, run_to_completion
from services.execution.embed.model import TERMINAL
from services.execution.embed.validation import user
from services.execution.kraken.errors import KrakenError
from services.execution.orders.model import timestamp_ms
from trading.execution.v1 import execution_pb2

if TYPE_CHECKING:
    import grpc.aio

    from services.execution.runtime import ExecutionRuntime

    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = Any

_ASSET_STATUS = {
    "tradable": execution_pb2.QUOTE_ASSET_STATUS_TRADABLE,
    "disabled": execution_pb2.QUOTE_ASSET_STATUS_DISABLED,
    "soon": execution_pb2.QUOTE_ASSET_STATUS_SOON,
}


class QuoteRpcs:
    _runtime: ExecutionRuntime

    async def ListQuoteAssets(
        self, request: execution_pb2.ListQuoteAssetsRequest, context: Context
    ) -> execution_pb2.ListQuoteAssetsResponse:
        async def handle() -> execution_pb2.ListQuoteAssetsResponse:
            tradable = request.tradable if request.HasField("tradable") else None
            assets = await self._runtime.quotes.list_assets(user(request.user), tradable)
            response = execution_pb2.ListQuoteAssetsResponse()
            for asset in assets:
                decimals = asset.get("decimals")
                response.assets.add(
                    name=str(asset.get("name") or ""),
                    status=_ASSET_STATUS.get(str(asset.get("status")), 0),
                    disabled_against=[str(a) for a in asset.get("disabled_against") or []],
                    decimals=decimals if isinstance(decimals, int) else 0,
                )
            return response

        return await answer(context, handle)

    async def RequestQuote(
        self, request: execution_pb2.RequestQuoteRequest, context: Context
    ) -> execution_pb2.RequestQuoteResponse:
        async def handle() -> execution_pb2.RequestQuoteResponse:
            record, replayed = await run_to_completion(
                self._runtime.quotes.request(request, current_identity())
            )
            return execution_pb2.RequestQuoteResponse(quote=record.to_proto(), replayed=replayed)

        return await answer(context, handle)

    async def ExecuteQuote(
        self, request: execution_pb2.ExecuteQuoteRequest, context: Context
    ) -> execution_pb2.ExecuteQuoteResponse:
        async def handle() -> execution_pb2.ExecuteQuoteResponse:
            done = await run_to_completion(
                self._runtime.quotes.execute(request.quote_id, current_identity())
            )
            return execution_pb2.ExecuteQuoteResponse(
                quote=done.record.to_proto(), replayed=done.replayed
            )

        return await answer(context, handle)

    async def GetQuote(
        self, request: execution_pb2.GetQuoteRequest, context: Context
    ) -> execution_pb2.GetQuoteResponse:
        async def handle() -> execution_pb2.GetQuoteResponse:
            record = await self._runtime.quotes.get(
                request.quote_id, current_identity(), refresh=request.refresh
            )
            return execution_pb2.GetQuoteResponse(quote=record.to_proto())

        return await answer(context, handle)

    async def RequestAndExecuteQuote(
        self, request: execution_pb2.RequestAndExecuteQuoteRequest, context: Context
    ) -> execution_pb2.RequestAndExecuteQuoteResponse:
        async def handle() -> execution_pb2.RequestAndExecuteQuoteResponse:
            done = await run_to_completion(
                self._runtime.quotes.request_and_execute(request, current_identity())
            )
            return execution_pb2.RequestAndExecuteQuoteResponse(
                outcome=done.outcome,  # type: ignore[arg-type]
                quote=done.record.to_proto(),
                reference_unit_price=format(done.reference, "f"),
                price_move_bps=format(done.move_bps, "f"),
                replayed=done.replayed,
            )

        return await answer(context, handle)

    async def WatchQuote(
        self, request: execution_pb2.WatchQuoteRequest, context: Context
    ) -> AsyncIterator[execution_pb2.QuoteEvent]:
        identity = current_identity()
        # The checks (a known quote id, the caller's team) answer before the stream starts.
        await answer(context, lambda: self._runtime.quotes.visible(request.quote_id, identity))
        events = self._runtime.quotes.watch(request.quote_id, identity)
        try:
            async for event_id, record in events:
                yield execution_pb2.QuoteEvent(
                    event_id=event_id,
                    quote=record.to_proto(),
                    event_time=timestamp_ms(record.updated_ms),
                )
                if record.status in TERMINAL:
                    return
        except KrakenError as exc:
            await context.abort(exc.grpc_status, exc.message)
