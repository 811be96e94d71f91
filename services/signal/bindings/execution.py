"""Signal's calls to execution, with signal's own service token and a deadline on each.

PlaceOrder for automated orders; ListPairs for a pair's decimals and tick (cached); GetBalances
for balance-fraction sizing. Errors are execution's gRPC errors, left to the caller to classify.
"""

from __future__ import annotations

import time
from decimal import Decimal

import grpc.aio

from services.common.calls import CallerCredentials
from services.signal.bindings.sizing import SizingError
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc

# Pair rules change rarely (Kraken AssetPairs); execution itself refreshes them every few minutes.
PAIRS_TTL = 300.0


class ExecutionClient:
    def __init__(self, target: str, credentials: CallerCredentials, timeout: float) -> None:
        self._channel = grpc.aio.insecure_channel(target)
        self._stub = execution_pb2_grpc.ExecutionServiceStub(self._channel)
        self._credentials = credentials
        self._timeout = timeout
        self._pairs: dict[str, tuple[float, common_pb2.Pair]] = {}

    async def close(self) -> None:
        await self._channel.close(None)

    async def place(
        self, request: execution_pb2.PlaceOrderRequest
    ) -> execution_pb2.PlaceOrderResponse:
        reply: execution_pb2.PlaceOrderResponse = await self._stub.PlaceOrder(
            request, timeout=self._timeout, metadata=self._credentials.metadata()
        )
        return reply

    async def pair(self, pair: str) -> common_pb2.Pair:
        cached = self._pairs.get(pair)
        if cached is not None and time.monotonic() - cached[0] < PAIRS_TTL:
            return cached[1]
        reply = await self._stub.ListPairs(
            execution_pb2.ListPairsRequest(pairs=[pair]),
            timeout=self._timeout,
            metadata=self._credentials.metadata(),
        )
        if not reply.pairs:
            raise SizingError(f"execution trades no pair {pair}")
        rules = reply.pairs[0]
        self._pairs[pair] = (time.monotonic(), rules)
        return rules

    async def available(self, asset: str) -> Decimal:
        reply = await self._stub.GetBalances(
            execution_pb2.GetBalancesRequest(assets=[asset]),
            timeout=self._timeout,
            metadata=self._credentials.metadata(),
        )
        return sum(
            (Decimal(b.available) for b in reply.balances if b.asset == asset and b.available),
            Decimal(0),
        )
