"""The one server interceptor every service runs: request id, identity, authorization, metrics.

For each call it binds the request id (from `x-request-id`, else the token's, else a new one) and
the caller into the logging context, verifies the bearer token, checks the caller's groups against
the service's `AccessTable`, and records the outcome in `RpcMetrics`. Health and reflection are
open to all so that probes and grpcurl work without a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import grpc
import grpc.aio

from services.common.access import AccessTable, is_public
from services.common.context import (
    REQUEST_ID_HEADER,
    caller_var,
    clean_request_id,
    outcome_logged_var,
    request_id_var,
)
from services.common.identity import Identity, IdentityError, TokenVerifier
from services.common.metrics import RpcMetrics

log = logging.getLogger(__name__)

identity_var: ContextVar[Identity | None] = ContextVar("identity", default=None)

if TYPE_CHECKING:
    # grpc's classes are generic only in the stubs, not at run time.
    Continuation = Callable[
        [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
    ]
    _ServerInterceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _ServerInterceptor = grpc.aio.ServerInterceptor


def current_identity() -> Identity:
    """The verified caller of the current RPC; only valid inside a handler."""
    identity = identity_var.get()
    if identity is None:
        raise RuntimeError("no identity bound: called outside an authenticated RPC")
    return identity


class CallRejected(Exception):
    """The call may not proceed; carries the status to answer with."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


def _metadata_value(metadata: Any, key: str) -> str | None:
    for item in metadata or ():
        if item[0] == key:
            return _text(item[1])
    return None


def _call_headers(metadata: Any) -> tuple[str | None, str | None]:
    """The authorization and request id headers (None when absent), in one pass."""
    authorization = request_id = None
    for item in metadata or ():
        if item[0] == "authorization" and authorization is None:
            authorization = _text(item[1])
        elif item[0] == REQUEST_ID_HEADER and request_id is None:
            request_id = _text(item[1])
    return authorization, request_id


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class PlatformInterceptor(_ServerInterceptor):
    """Authenticates, authorizes, tags logs and measures every RPC of one service."""

    def __init__(self, access: AccessTable, verifier: TokenVerifier, metrics: RpcMetrics) -> None:
        self._access = access
        self._verifier = verifier
        self._metrics = metrics
        # Wrapped handlers by method. Services register their handlers once, before the server
        # starts, so the wrapper of a method is built once rather than on every call; each call
        # reads its own metadata from its context.
        self._wrapped: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method: str = handler_call_details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler  # type: ignore[return-value]  # unknown method: grpc answers UNIMPLEMENTED
        if handler.response_streaming:
            wrapped = _replace_behavior(handler, self._wrap_stream(method, handler))
        else:
            wrapped = _replace_behavior(handler, self._wrap_unary(method, handler))
        self._wrapped[method] = wrapped
        return wrapped

    def authorize(self, method: str, metadata: Any) -> Identity | None:
        """The caller's identity, or None for public methods; raises CallRejected."""
        return self._authorize(method, _metadata_value(metadata, "authorization"))

    def _authorize(self, method: str, header: str | None) -> Identity | None:
        if is_public(method):
            return None
        if not header:
            raise CallRejected(grpc.StatusCode.UNAUTHENTICATED, "missing authorization metadata")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise CallRejected(
                grpc.StatusCode.UNAUTHENTICATED, "authorization must be 'Bearer <token>'"
            )
        try:
            identity = self._verifier.verify(token.strip())
        except IdentityError as exc:
            raise CallRejected(grpc.StatusCode.UNAUTHENTICATED, str(exc)) from exc
        allowed = self._access.allowed_groups(method)
        if not identity.groups & allowed:
            raise CallRejected(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{identity.subject} may not call {method}: needs one of the groups "
                f"{sorted(allowed) or 'none'}",
            )
        return identity

    def _begin(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Bind request id and caller; raises CallRejected when the caller may not proceed."""
        authorization, sent_id = _call_headers(context.invocation_metadata())
        outcome_logged_var.set(False)
        try:
            identity = self._authorize(method, authorization)
        except CallRejected:
            request_id_var.set(clean_request_id(sent_id))
            raise
        identity_var.set(identity)
        if identity is not None:
            caller_var.set(identity.subject)
            if sent_id is None and identity.request_id:
                sent_id = identity.request_id
        request_id = clean_request_id(sent_id)
        request_id_var.set(request_id)
        context.set_trailing_metadata(((REQUEST_ID_HEADER, request_id),))

    def _finish(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], started: float, failed: bool
    ) -> None:
        code = context.code()
        if code is None:
            name = "UNKNOWN" if failed else "OK"
        else:
            name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        elapsed = time.perf_counter() - started
        self._metrics.observe(method, name, elapsed)
        quiet = is_public(method) or (name == "OK" and outcome_logged_var.get())
        level = logging.DEBUG if quiet else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level, "rpc", extra={"method": method, "code": name, "ms": round(elapsed * 1000, 3)}
            )

    def _wrap_unary(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]:
        behavior = _behavior(handler)

        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            failed = True
            try:
                try:
                    self._begin(method, context)
                except CallRejected as rejected:
                    await context.abort(rejected.code, rejected.details)
                response = await behavior(request, context)
                failed = False
                return response
            finally:
                self._finish(method, context, started, failed)

        return unary

    def _wrap_stream(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], AsyncIterator[Any]]:
        behavior = _behavior(handler)

        async def stream(
            request: Any, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            started = time.perf_counter()
            failed = True
            try:
                try:
                    self._begin(method, context)
                except CallRejected as rejected:
                    await context.abort(rejected.code, rejected.details)
                result = behavior(request, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                else:
                    await result
                failed = False
            finally:
                self._finish(method, context, started, failed)

        return stream


def _behavior(handler: grpc.RpcMethodHandler[Any, Any]) -> Any:
    return (
        handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream
    )


def _replace_behavior(
    handler: grpc.RpcMethodHandler[Any, Any], behavior: Any
) -> grpc.RpcMethodHandler[Any, Any]:
    factories = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }
    factory: Any = factories[(handler.request_streaming, handler.response_streaming)]
    new_handler: grpc.RpcMethodHandler[Any, Any] = factory(
        behavior,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
    return new_handler
