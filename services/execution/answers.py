"""How every ExecutionService RPC turns the desk's exceptions into gRPC statuses, in one table.

Bad input INVALID_ARGUMENT naming the field; a reused id ALREADY_EXISTS; not the caller's or
unknown NOT_FOUND; risk or Redis unreachable UNAVAILABLE (nothing was sent); an expired quote or
Embed not configured FAILED_PRECONDITION; Kraken errors through the error table's ``grpc_status``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import grpc.aio

from services.execution.embed.desk import EmbedNotConfigured, QuoteExpired, QuoteInProgress
from services.execution.embed.store import QuoteConflict
from services.execution.kraken.errors import KrakenError
from services.execution.orders.desk import DuplicateOrder, OrderNotVisible
from services.execution.orders.risk_gate import RiskUnavailable
from services.execution.orders.validation import OrderInputError

if TYPE_CHECKING:
    Context = grpc.aio.ServicerContext[Any, Any]
else:
    Context = grpc.aio.ServicerContext

T = TypeVar("T")

_S = grpc.StatusCode
_STATUS_OF: tuple[tuple[type[Exception], grpc.StatusCode, str], ...] = (
    (OrderInputError, _S.INVALID_ARGUMENT, ""),
    (PermissionError, _S.PERMISSION_DENIED, ""),
    (DuplicateOrder, _S.ALREADY_EXISTS, ""),
    (OrderNotVisible, _S.NOT_FOUND, ""),
    (RiskUnavailable, _S.UNAVAILABLE, "; nothing was sent"),
    (EmbedNotConfigured, _S.FAILED_PRECONDITION, ""),
    (QuoteExpired, _S.FAILED_PRECONDITION, ""),
    (QuoteInProgress, _S.UNAVAILABLE, ""),
    (QuoteConflict, _S.ABORTED, ""),
)


async def answer(context: Context, handle: Callable[[], Awaitable[T]]) -> T:
    try:
        return await handle()
    except KrakenError as exc:
        detail = exc.message
        if exc.retry_after is not None:
            detail = f"{detail} (retry after {exc.retry_after:.3f}s)"
        await context.abort(exc.grpc_status, detail)
    except tuple(kind for kind, _, _ in _STATUS_OF) as exc:
        for kind, status, suffix in _STATUS_OF:
            if isinstance(exc, kind):
                await context.abort(status, f"{exc}{suffix}")
    raise AssertionError("unreachable: abort raises")  # pragma: no cover


_COMPLETING: set[asyncio.Task[Any]] = set()


async def run_to_completion(work: Coroutine[Any, Any, T]) -> T:
    """``work`` in a task of its own that a cancelled call does not cancel.

    A caller that hangs up or dies mid-PlaceOrder must not cut the desk off between claiming the
    id and recording Kraken's answer: the AddOrder would be dropped in flight or the order left
    PENDING. The task copies the call's context, so identity and request id go with it.
    """
    task = asyncio.ensure_future(work)
    _COMPLETING.add(task)
    task.add_done_callback(_COMPLETING.discard)
    return await asyncio.shield(task)
