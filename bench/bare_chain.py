"""Tick-to-trade's floor: the order path DESIGN.md fixes, with nothing else on it.

The tick bench (bench/tick_bench.py) measures the platform beside this chain, on the same paper
exchange and Redis in the same run. The chain has the platform's process boundaries and every
step the design makes mandatory between a ticker and its AddOrder, each done the cheapest way:

- **signal** (``signal``): one WebSocket, subscribed to the pair's ticker only. On a
  ticker that crosses the threshold, one Lua script records the signal once (``SET NX`` of a
  dedupe key, ``XADD``), then PlaceOrder goes to execution, with the client_order_id derived
  from the recorded id.
- **execution** (``execution``): claims the client_order_id (one Lua script, ``SET NX``)
  while it asks risk (CheckOrder over gRPC); once the claim is in, takes a nonce (the platform's
  own nonce script); once risk approves, signs and POSTs AddOrder with aiohttp, as the real
  execution does.
- **risk** (``risk``): one Lua script reserves the order's exposure; it approves.
- after the POST, execution records the outcome (one Lua script: the order's key and one journal
  entry) before it answers, as the order path's step 6 requires. Tick-to-trade ends when the
  AddOrder arrives, so this record is outside it; the order bench (bench/order_bench.py), which
  calls the execution and risk roles alone as its bare order chain, times PlaceOrder's answer,
  so there it counts.

Left out, because the design does not put them between a ticker and its AddOrder: market data
fan-out through Redis, the book, trade and candle channels, identity tokens, logs, metrics, the
rule engine and pair rules. All three processes run on uvloop, as the services do. What the
chain measures is the least that five processes (exchange, signal, execution, risk, Redis)
handing one order along can take on this machine.

Each role is one process, ``BARE_ROLE=<role> python -m bench.bare_chain``, configured by the
same variables as the services (GRPC_LISTEN_ADDR, REDIS_URL, KRAKEN_*, EXECUTION_TARGET,
RISK_TARGET) plus BARE_PAIR and BARE_THRESHOLD for signal. Every role also serves gRPC health,
so the benches' launcher knows when it is up.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import grpc.aio
import redis.asyncio as aioredis
import uvloop
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from services.common.kraken_auth import kraken_signature
from services.execution.kraken.nonce import NEXT_NONCE_LUA
from trading.common.v1 import common_pb2
from trading.execution.v1 import execution_pb2, execution_pb2_grpc
from trading.risk.v1 import risk_pb2, risk_pb2_grpc

NAMESPACE = uuid.UUID("0b6c2d4e-8f1a-4c3b-9d5e-6a7b8c9d0e1f")
PAPER_PAIRS = {"BTC/USD": "XBTUSD", "ETH/USD": "ETHUSD", "SOL/USD": "SOLUSD"}

# KEYS: dedupe key, stream. ARGV: dedupe TTL s, then field, value, ... The id, or "" if seen.
RECORD_LUA = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return '' end
local fields = {}
for i = 2, #ARGV do fields[#fields + 1] = ARGV[i] end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', unpack(fields))
"""
# KEYS: the order's key. ARGV: its fields as JSON. 1 when claimed, 0 when it existed.
CLAIM_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', 86400) then return 1 end
return 0
"""
# KEYS: the order's key, the journal stream. ARGV: the outcome as JSON.
OUTCOME_LUA = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', 'outcome', ARGV[1])
"""
# KEYS: exposure hash, reservation key. ARGV: team, units. The team's new exposure.
RESERVE_LUA = """
redis.call('SET', KEYS[2], ARGV[2], 'EX', 60)
return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
"""


async def health_server(address: str) -> tuple[grpc.aio.Server, HealthServicer]:
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    server.add_insecure_port(address)
    return server, health


async def serving(server: grpc.aio.Server, health: HealthServicer) -> None:
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


class BareRisk(risk_pb2_grpc.RiskServiceServicer):
    def __init__(self, redis: aioredis.Redis) -> None:
        self._reserve = redis.register_script(RESERVE_LUA)

    async def CheckOrder(
        self,
        request: risk_pb2.CheckOrderRequest,
        context: grpc.aio.ServicerContext[risk_pb2.CheckOrderRequest, risk_pb2.CheckOrderResponse],
    ) -> risk_pb2.CheckOrderResponse:
        order = request.order
        units = int(Decimal(order.volume).scaleb(8))
        reservation = f"order:{order.client_order_id}"
        # Not bare:order:<id>: that is execution's claim, which this SET would beat to the key.
        await self._reserve(
            keys=["bare:exposure", f"bare:reservation:{reservation}"], args=[order.team, units]
        )
        return risk_pb2.CheckOrderResponse(approved=True, reservation_id=reservation)


class BareExecution(execution_pb2_grpc.ExecutionServiceServicer):
    def __init__(self, redis: aioredis.Redis, risk_target: str, api_url: str) -> None:
        self._claim = redis.register_script(CLAIM_LUA)
        self._nonce = redis.register_script(NEXT_NONCE_LUA)
        self._outcome = redis.register_script(OUTCOME_LUA)
        self._risk = risk_pb2_grpc.RiskServiceStub(grpc.aio.insecure_channel(risk_target))
        self._api_url = api_url
        self._api_key = os.environ["KRAKEN_API_KEY"]
        self._secret = os.environ["KRAKEN_API_SECRET"]
        self._http: aiohttp.ClientSession | None = None

    async def PlaceOrder(
        self,
        request: execution_pb2.PlaceOrderRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> execution_pb2.PlaceOrderResponse:
        if self._http is None:
            self._http = aiohttp.ClientSession(self._api_url)
        intent = risk_pb2.OrderIntent(
            client_order_id=request.client_order_id,
            team=request.on_behalf_of,
            pair=request.pair,
            side=request.side,
            order_type=request.order_type,
            volume=request.volume,
        )
        checking = asyncio.ensure_future(
            self._risk.CheckOrder(risk_pb2.CheckOrderRequest(order=intent), timeout=1)
        )
        claimed = await self._claim(
            keys=[f"bare:order:{request.client_order_id}"], args=[request.SerializeToString()]
        )
        nonce = int(await self._nonce(keys=["bare:nonce"]))
        decision = await checking
        if not claimed or not decision.approved:
            return execution_pb2.PlaceOrderResponse(
                order=common_pb2.Order(status=common_pb2.ORDER_STATUS_REJECTED)
            )
        path = "/0/private/AddOrder"
        fields = {
            "nonce": nonce,
            "pair": PAPER_PAIRS[request.pair],
            "type": "buy" if request.side == common_pb2.SIDE_BUY else "sell",
            "ordertype": "market",
            "volume": request.volume,
            "cl_ord_id": request.client_order_id,
        }
        if request.order_type == common_pb2.ORDER_TYPE_LIMIT:
            fields |= {"ordertype": "limit", "price": request.limit_price}
        body = urlencode(fields).encode("ascii")
        headers = {
            "API-Key": self._api_key,
            "API-Sign": kraken_signature(path, nonce, body, self._secret),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        async with self._http.post(path, data=body, headers=headers) as reply:
            answer: Any = json.loads(await reply.read())
        if answer["error"]:
            raise RuntimeError(f"AddOrder refused: {answer['error']}")
        txid = answer["result"]["txid"][0]
        await self._outcome(
            keys=[f"bare:order:{request.client_order_id}", "bare:journal"],
            args=[json.dumps({"status": "open", "txid": txid})],
        )
        return execution_pb2.PlaceOrderResponse(
            order=common_pb2.Order(
                client_order_id=request.client_order_id,
                status=common_pb2.ORDER_STATUS_OPEN,
                txid=txid,
            )
        )


class BareSignal:
    """Follows one pair's ticker; a crossing of the threshold is recorded, then ordered."""

    def __init__(self, redis: aioredis.Redis, execution_target: str, pair: str) -> None:
        self._record = redis.register_script(RECORD_LUA)
        channel = grpc.aio.insecure_channel(execution_target)
        self._execution = execution_pb2_grpc.ExecutionServiceStub(channel)
        self._pair = pair
        self._threshold = Decimal(os.environ["BARE_THRESHOLD"])
        self._last: Decimal | None = None
        self._orders: set[asyncio.Task[None]] = set()

    async def run(self, ws_url: str) -> None:
        async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
            params = {"channel": "ticker", "symbol": [self._pair]}
            await ws.send_str(json.dumps({"method": "subscribe", "params": params}))
            async for message in ws:
                update = json.loads(message.data, parse_float=Decimal)
                if update.get("channel") == "ticker":
                    event_ms = time.time_ns() // 1_000_000
                    for ticker in update["data"]:
                        self._on_price(Decimal(ticker["last"]), event_ms)

    def _on_price(self, last: Decimal, event_ms: int) -> None:
        before, self._last = self._last, last
        if before is None:
            return
        if before < self._threshold <= last:
            side = common_pb2.SIDE_BUY
        elif before >= self._threshold > last:
            side = common_pb2.SIDE_SELL
        else:
            return
        # Keyed like the platform's rule signals (<rule>:<event ms>): one signal per crossing.
        task = asyncio.create_task(self._trade(side, last, f"{side}:{event_ms}"))
        self._orders.add(task)
        task.add_done_callback(self._orders.discard)

    async def _trade(self, side: common_pb2.Side.ValueType, price: Decimal, event: str) -> None:
        signal_id = await self._record(
            keys=[f"bare:dedupe:{event}", "bare:signals"],
            args=[3600, "pair", self._pair, "side", str(side), "price", str(price)],
        )
        if not signal_id:
            return
        await self._execution.PlaceOrder(
            execution_pb2.PlaceOrderRequest(
                client_order_id=str(uuid.uuid5(NAMESPACE, str(signal_id))),
                pair=self._pair,
                side=side,
                order_type=common_pb2.ORDER_TYPE_MARKET,
                volume="0.0001",
                on_behalf_of="bench-desk",
            ),
            timeout=3,
        )


ROLES = ("signal", "execution", "risk")


async def main(role: str) -> None:
    redis = aioredis.Redis.from_url(os.environ["REDIS_URL"])
    server, health = await health_server(os.environ["GRPC_LISTEN_ADDR"])
    if role == "risk":
        # Each bare servicer implements the one method the chain calls.
        risk_pb2_grpc.add_RiskServiceServicer_to_server(BareRisk(redis), server)  # type: ignore[abstract]
        await serving(server, health)
    elif role == "execution":
        execution = BareExecution(  # type: ignore[abstract]
            redis, os.environ["RISK_TARGET"], os.environ["KRAKEN_API_URL"]
        )
        execution_pb2_grpc.add_ExecutionServiceServicer_to_server(execution, server)
        await serving(server, health)
    else:
        signal = BareSignal(redis, os.environ["EXECUTION_TARGET"], os.environ["BARE_PAIR"])
        await asyncio.gather(serving(server, health), signal.run(os.environ["KRAKEN_WS_URL"]))


if __name__ == "__main__":
    chosen = os.environ.get("BARE_ROLE", "")
    if chosen not in ROLES:
        raise SystemExit(f"BARE_ROLE must be one of {', '.join(ROLES)}, not {chosen!r}")
    uvloop.run(main(chosen))
