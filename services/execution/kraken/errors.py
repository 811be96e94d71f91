"""Every failure of the Kraken adapter, typed, with a retry class and a gRPC status.

Hierarchy (one base, ``KrakenError``; everything the adapter raises is one of these)::

    KrakenError                      retry_class, grpc_status, kraken_error (the raw string or None)
    ├── KrakenApiError               Kraken answered with an error string (``ERROR_TABLE``)
    │   ├── AuthenticationError      our key, signature, session or token was refused
    │   ├── KeyPermissionError       the key or account may not do this
    │   ├── AccountLockedError       temporary lockout or disabled account: back off for minutes
    │   ├── InvalidNonceError        nonce too low; the request was not executed
    │   ├── InvalidRequestError      malformed arguments, unknown pair or method
    │   ├── OrderRejectedError       the order was refused (funds, minimums, tick, margin, limits)
    │   ├── OrderNotFoundError       the order is unknown or already gone
    │   ├── MarketStateError         market in cancel_only or post_only mode
    │   ├── RateLimitedError         a Kraken rate limiter refused the call (``scope`` says which)
    │   ├── ServiceUnavailableError  Kraken is offline; nothing was executed
    │   ├── QuoteError               Embed quote refused: expired, cancelled, accepted, unfunded
    │   ├── QuoteNotFoundError       Embed ``ENexus:Quote not found``
    │   └── UnrecognizedKrakenError  a string not in the table: typed, fail closed (NEVER_RETRY)
    ├── UnknownOutcomeError          the request may have been executed (timeout, dropped
    │                                connection, 5xx, ``EService:Busy``,
    │                                ``EGeneral:Internal error``): reconcile before resending
    ├── TransportError               the request was certainly not sent (connect failure)
    ├── HttpStatusError              a non-200 answer with no Kraken error string in it
    ├── MalformedResultError         a 200 whose result lacks the documented shape
    ├── StateUnavailableError        Redis unreachable: no nonce, no budget, so nothing was sent
    ├── ConfigurationError           credentials or settings missing or malformed (at start)
    ├── NonceLeaseTimeoutError       strict mode: the key's lease stayed busy past the bounded wait
    └── BudgetExhaustedError         our own leaky bucket is full; ``retry_after`` seconds

The retry class of an error string is the one that holds for a call that changes state (AddOrder).
For an idempotent call (a query, a cancel) an unknown outcome is harmless, so
``KrakenApiError.for_call`` turns UNKNOWN_OUTCOME into SAFE_TO_RETRY there.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import aiohttp
import grpc
import httpx


class RetryClass(enum.Enum):
    """What a caller may do after the error."""

    SAFE_TO_RETRY = "safe_to_retry"
    """Not executed (or harmless to repeat): retry, after a backoff."""
    UNKNOWN_OUTCOME = "unknown_outcome"
    """Possibly executed: reconcile (by ``cl_ord_id``) before anyone resends."""
    NEVER_RETRY = "never_retry"
    """Retrying the same request cannot succeed."""


class RateLimitScope(enum.Enum):
    """Which Kraken limiter answered, so the matching local bucket can be set full."""

    REST = "rest"
    """The REST call counter per API key (``EAPI:Rate limit exceeded`` and kin)."""
    TRADING = "trading"
    """The trading-engine counter per pair (``EOrder:Rate limit exceeded``)."""
    TRADING_DOMAIN = "trading_domain"
    """The account-wide engine counter (``EOrder:Domain rate limit exceeded``)."""
    CONCURRENCY = "concurrency"
    """Too many concurrent requests (``EService:Throttled: <ts>``)."""
    EMBED = "embed"
    """Kraken Embed per-user limits."""


class KrakenError(Exception):
    """Base of every error the Kraken adapter raises."""

    default_retry_class: RetryClass = RetryClass.NEVER_RETRY
    default_grpc_status: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(
        self,
        message: str,
        *,
        retry_class: RetryClass | None = None,
        grpc_status: grpc.StatusCode | None = None,
        kraken_error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_class = retry_class or self.default_retry_class
        self.grpc_status = grpc_status or self.default_grpc_status
        self.kraken_error = kraken_error
        self.retry_after = retry_after

    @property
    def outcome_unknown(self) -> bool:
        return self.retry_class is RetryClass.UNKNOWN_OUTCOME

    def for_call(self, *, idempotent: bool) -> KrakenError:
        """This error as it applies to a call; see the module docstring."""
        if idempotent and self.retry_class is RetryClass.UNKNOWN_OUTCOME:
            self.retry_class = RetryClass.SAFE_TO_RETRY
            self.grpc_status = grpc.StatusCode.UNAVAILABLE
        return self


class KrakenApiError(KrakenError):
    """Kraken answered with an error string; ``kraken_error`` holds it verbatim."""


class AuthenticationError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.INTERNAL


class KeyPermissionError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class AccountLockedError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class InvalidNonceError(KrakenApiError):
    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class InvalidRequestError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.INVALID_ARGUMENT


class OrderRejectedError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class OrderNotFoundError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.NOT_FOUND


class MarketStateError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class RateLimitedError(KrakenApiError):
    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(
        self,
        message: str,
        *,
        scope: RateLimitScope,
        retry_class: RetryClass | None = None,
        kraken_error: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, retry_class=retry_class, kraken_error=kraken_error, retry_after=retry_after
        )
        self.scope = scope


class ServiceUnavailableError(KrakenApiError):
    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class QuoteError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class QuoteNotFoundError(KrakenApiError):
    default_grpc_status = grpc.StatusCode.NOT_FOUND


class UnrecognizedKrakenError(KrakenApiError):
    """A string the table does not know. Fail closed: never retried, reported as INTERNAL."""


class UnknownOutcomeError(KrakenError):
    """The request may have been executed. Raised for Kraken strings and transport failures."""

    default_retry_class = RetryClass.UNKNOWN_OUTCOME
    default_grpc_status = grpc.StatusCode.UNKNOWN


class TransportError(KrakenError):
    """The request never left (connection refused, pool exhausted): safe to retry."""

    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class HttpStatusError(KrakenError):
    """A non-200 answer without a Kraken error string."""

    def __init__(
        self, message: str, *, status: int, retry_class: RetryClass, grpc_status: grpc.StatusCode
    ) -> None:
        super().__init__(message, retry_class=retry_class, grpc_status=grpc_status)
        self.status = status


class MalformedResultError(KrakenError):
    """Kraken's result does not have the documented shape."""


class StateUnavailableError(KrakenError):
    """Redis could not be reached or failed; nothing was sent (design decision 6)."""

    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class ConfigurationError(KrakenError):
    """Credentials or settings are missing or malformed. The message names the variable only."""

    default_grpc_status = grpc.StatusCode.FAILED_PRECONDITION


class NonceLeaseTimeoutError(KrakenError):
    """Strict nonce mode: another holder kept the key's lease past the bounded wait."""

    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.UNAVAILABLE


class BudgetExhaustedError(KrakenError):
    """A local leaky bucket has no room within the bounded wait; ``retry_after`` in seconds."""

    default_retry_class = RetryClass.SAFE_TO_RETRY
    default_grpc_status = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, *, bucket: str, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)
        self.bucket = bucket


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the table: which error a Kraken string becomes."""

    error_class: type[KrakenError]
    retry_class: RetryClass
    grpc_status: grpc.StatusCode
    rate_limit_scope: RateLimitScope | None = None
    dynamic_detail: bool = False
    """The documented text is followed by free text (``EPTL:Insufficient funds…``)."""


_S = grpc.StatusCode
_SAFE = RetryClass.SAFE_TO_RETRY
_UNKNOWN = RetryClass.UNKNOWN_OUTCOME
_NEVER = RetryClass.NEVER_RETRY


def _rate(scope: RateLimitScope, retry: RetryClass = _SAFE) -> ErrorSpec:
    return ErrorSpec(RateLimitedError, retry, _S.RESOURCE_EXHAUSTED, rate_limit_scope=scope)


# The one table. Keys are the documented strings (kraken.md §2.3, §3.4, §4.3, §6.3); a string with
# a ``:<extra>`` suffix (``EGeneral:Internal error:12``) matches its documented prefix.
ERROR_TABLE: dict[str, ErrorSpec] = {
    # Authentication: our credentials or request signing are wrong; an operator must act.
    "EAPI:Invalid key": ErrorSpec(AuthenticationError, _NEVER, _S.INTERNAL),
    "EAPI:Invalid signature": ErrorSpec(AuthenticationError, _NEVER, _S.INTERNAL),
    "EAPI:Invalid token": ErrorSpec(AuthenticationError, _NEVER, _S.INTERNAL),
    "ESession:Invalid session": ErrorSpec(AuthenticationError, _NEVER, _S.INTERNAL),
    "EAPI:Invalid nonce": ErrorSpec(InvalidNonceError, _SAFE, _S.UNAVAILABLE),
    "EGeneral:Permission denied": ErrorSpec(KeyPermissionError, _NEVER, _S.FAILED_PRECONDITION),
    "EAPI:Permission denied": ErrorSpec(KeyPermissionError, _NEVER, _S.FAILED_PRECONDITION),
    "EAuth:Account unconfirmed": ErrorSpec(KeyPermissionError, _NEVER, _S.FAILED_PRECONDITION),
    # Retrying a lockout prolongs it ("typically last approximately 15 minutes").
    "EGeneral:Temporary lockout": ErrorSpec(AccountLockedError, _NEVER, _S.UNAVAILABLE),
    "EAuth:Account temporary disabled": ErrorSpec(AccountLockedError, _NEVER, _S.UNAVAILABLE),
    # Bad input.
    "EGeneral:Invalid arguments": ErrorSpec(InvalidRequestError, _NEVER, _S.INVALID_ARGUMENT),
    "EGeneral:Invalid arguments:Index unavailable": ErrorSpec(
        InvalidRequestError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EAPI:Bad request": ErrorSpec(InvalidRequestError, _NEVER, _S.INVALID_ARGUMENT),
    "EGeneral:Unknown Method": ErrorSpec(InvalidRequestError, _NEVER, _S.UNIMPLEMENTED),
    "EQuery:Unknown asset pair": ErrorSpec(InvalidRequestError, _NEVER, _S.INVALID_ARGUMENT),
    # Kraken may or may not have acted: reconcile (design, the order path, step 6).
    "EGeneral:Internal error": ErrorSpec(UnknownOutcomeError, _UNKNOWN, _S.UNKNOWN),
    "EService:Busy": ErrorSpec(UnknownOutcomeError, _UNKNOWN, _S.UNKNOWN),
    # A default deadline may elapse at the gateway while the engine still works on the order.
    "EService:Deadline elapsed": ErrorSpec(UnknownOutcomeError, _UNKNOWN, _S.DEADLINE_EXCEEDED),
    # Offline: nothing executed.
    "EService:Unavailable": ErrorSpec(ServiceUnavailableError, _SAFE, _S.UNAVAILABLE),
    "EService:Market in cancel_only mode": ErrorSpec(
        MarketStateError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EService:Market in post_only mode": ErrorSpec(
        MarketStateError, _NEVER, _S.FAILED_PRECONDITION
    ),
    # Rate limits: not executed; the caller backs off (our bucket is set full first).
    "EAPI:Rate limit exceeded": _rate(RateLimitScope.REST),
    "EAuth:Rate limit exceeded": _rate(RateLimitScope.REST),
    "EAuth:Too many requests": _rate(RateLimitScope.REST),
    "EGeneral:Too many requests": _rate(RateLimitScope.REST),
    "EService:Throttled": _rate(RateLimitScope.CONCURRENCY),
    "EOrder:Rate limit exceeded": _rate(RateLimitScope.TRADING),
    "EOrder:Domain rate limit exceeded": _rate(RateLimitScope.TRADING_DOMAIN),
    # Order rejections.
    "EOrder:Insufficient funds": ErrorSpec(OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION),
    "EOrder:Order minimum not met": ErrorSpec(OrderRejectedError, _NEVER, _S.INVALID_ARGUMENT),
    "EOrder:Cost minimum not met": ErrorSpec(OrderRejectedError, _NEVER, _S.INVALID_ARGUMENT),
    "EOrder:Tick size check failed": ErrorSpec(OrderRejectedError, _NEVER, _S.INVALID_ARGUMENT),
    # One string for "already gone" and "never existed" (kraken.md §4.3).
    "EOrder:Invalid order": ErrorSpec(OrderNotFoundError, _NEVER, _S.NOT_FOUND),
    "EOrder:Orders limit exceeded": ErrorSpec(OrderRejectedError, _NEVER, _S.RESOURCE_EXHAUSTED),
    "EOrder:Positions limit exceeded": ErrorSpec(OrderRejectedError, _NEVER, _S.RESOURCE_EXHAUSTED),
    "EOrder:Margin allowance exceeded": ErrorSpec(
        OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EOrder:Margin level too low": ErrorSpec(OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION),
    "EOrder:Margin position size exceeded": ErrorSpec(
        OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EOrder:Insufficient margin": ErrorSpec(OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION),
    "EOrder:Cannot open position": ErrorSpec(OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION),
    "EOrder:Cannot open opposing position": ErrorSpec(
        OrderRejectedError, _NEVER, _S.FAILED_PRECONDITION
    ),
    # Embed (Execute Quote, Get Quote), kraken.md §6.3.
    "EPTL:Quote already accepted": ErrorSpec(QuoteError, _NEVER, _S.ALREADY_EXISTS),
    "EPTL:Quote cancelled": ErrorSpec(QuoteError, _NEVER, _S.FAILED_PRECONDITION),
    "EPTL:Price quote expired": ErrorSpec(QuoteError, _NEVER, _S.FAILED_PRECONDITION),
    "EPTL:Quote execution failed": ErrorSpec(QuoteError, _NEVER, _S.ABORTED),
    "EPTL:Insufficient funds for transfer": ErrorSpec(
        QuoteError, _NEVER, _S.FAILED_PRECONDITION, dynamic_detail=True
    ),
    "EPTL:PTL unable to fund transfer for quote": ErrorSpec(
        QuoteError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EPTL:PTL unable to fund order for quote": ErrorSpec(
        QuoteError, _NEVER, _S.FAILED_PRECONDITION
    ),
    "EPTL:User has too many quote executions in progress": _rate(RateLimitScope.EMBED),
    "EPTL:User has reached volume threshold": _rate(RateLimitScope.EMBED, _NEVER),
    "EPTL:Order cancelled. Try again.": ErrorSpec(ServiceUnavailableError, _SAFE, _S.UNAVAILABLE),
    "ENexus:Quote not found": ErrorSpec(QuoteNotFoundError, _NEVER, _S.NOT_FOUND),
}

UNRECOGNIZED = ErrorSpec(UnrecognizedKrakenError, _NEVER, _S.INTERNAL)
UNRECOGNIZED_NOT_FOUND = ErrorSpec(UnrecognizedKrakenError, _NEVER, _S.NOT_FOUND)

# Kraken writes "EService: Throttled: 1700000000" with spaces after the colons (kraken.md §3.1).
_SPACE_AFTER_COLON = re.compile(r":\s+")
_LOOKUP: dict[str, str] = {key.casefold(): key for key in ERROR_TABLE}
_DYNAMIC = [key for key, spec in ERROR_TABLE.items() if spec.dynamic_detail]


def normalize(error: str) -> str:
    return _SPACE_AFTER_COLON.sub(":", error.strip())


def table_key(error: str) -> str | None:
    """The documented string that ``error`` is an instance of, or None.

    Exact match first (case-insensitive), then the string with trailing ``:<extra>`` parts
    dropped one by one, then the prefix of an entry whose detail is free text.
    """
    candidate = normalize(error)
    while True:
        found = _LOOKUP.get(candidate.casefold())
        if found is not None:
            return found
        head, sep, _ = candidate.rpartition(":")
        if not sep or ":" not in head:
            break
        candidate = head
    folded = normalize(error).casefold()
    for key in _DYNAMIC:
        if folded.startswith(key.casefold()):
            return key
    return None


def spec_for(error: str) -> ErrorSpec:
    key = table_key(error)
    return ERROR_TABLE[key] if key is not None else UNRECOGNIZED


def throttled_until(error: str) -> float | None:
    """The unix time in ``EService: Throttled: <ts>``, if present."""
    normalized = normalize(error)
    if table_key(normalized) != "EService:Throttled":
        return None
    _, _, tail = normalized.rpartition(":")
    try:
        return float(tail)
    except ValueError:
        return None


def is_warning(entry: str) -> bool:
    """Kraken's ``W…`` entries in the ``error`` array are warnings, not failures."""
    return entry.startswith("W")


def from_kraken(
    errors: list[str],
    *,
    endpoint: str,
    idempotent: bool,
    now: float | None = None,
    http_status: int = 200,
) -> KrakenError:
    """The typed error for a non-empty Kraken ``error`` array (warnings already removed).

    The first error decides; all of them go into the message, which never holds request data.
    A string the table does not know, answered with HTTP 404, is still a "not found" (Embed
    answers an unknown end user so): NOT_FOUND, never retried, rather than INTERNAL.
    """
    first = errors[0]
    spec = spec_for(first)
    if spec is UNRECOGNIZED and http_status == 404:
        spec = UNRECOGNIZED_NOT_FOUND
    message = f"Kraken {endpoint} failed: {', '.join(errors)}"
    retry_after = None
    until = throttled_until(first)
    if until is not None and now is not None:
        retry_after = max(0.0, until - now)
    error: KrakenError
    if spec.rate_limit_scope is not None:
        error = RateLimitedError(
            message,
            scope=spec.rate_limit_scope,
            retry_class=spec.retry_class,
            kraken_error=first,
            retry_after=retry_after,
        )
    else:
        error = spec.error_class(
            message,
            retry_class=spec.retry_class,
            grpc_status=spec.grpc_status,
            kraken_error=first,
        )
    return error.for_call(idempotent=idempotent)


def from_http_status(status: int, *, endpoint: str, idempotent: bool) -> KrakenError:
    """The typed error for a non-200 answer that carries no Kraken error string.

    5xx and 408 may follow an executed request, so they are unknown outcomes for a call that
    changes state (design, the order path, step 6).
    """
    message = f"Kraken {endpoint} answered HTTP {status}"
    error: KrakenError
    if status == 429:
        error = RateLimitedError(message, scope=RateLimitScope.REST)
    elif status >= 500 or status == 408:
        error = UnknownOutcomeError(message)
    elif status in (401, 403):
        error = HttpStatusError(message, status=status, retry_class=_NEVER, grpc_status=_S.INTERNAL)
    elif status == 404:
        error = HttpStatusError(
            message, status=status, retry_class=_NEVER, grpc_status=_S.NOT_FOUND
        )
    else:
        error = HttpStatusError(
            message, status=status, retry_class=_NEVER, grpc_status=_S.INVALID_ARGUMENT
        )
    return error.for_call(idempotent=idempotent)


def unknown_outcome(message: str, *, idempotent: bool, timeout: bool = False) -> KrakenError:
    """A transport failure after the request may have left: timeout or dropped connection."""
    status = _S.DEADLINE_EXCEEDED if timeout else _S.UNKNOWN
    return UnknownOutcomeError(message, grpc_status=status).for_call(idempotent=idempotent)


# What the HTTP clients raise when a call fails below HTTP: httpx (the Embed client) and
# aiohttp (the Spot client; TimeoutError is its whole-request timeout).
TRANSPORT_FAILURES = (httpx.HTTPError, aiohttp.ClientError, TimeoutError)
TransportFailure = httpx.HTTPError | aiohttp.ClientError | TimeoutError

# Failures in which the request certainly did not leave; any other may have reached Kraken.
# aiohttp's ConnectionTimeoutError is its ``connect`` timeout: waiting for a pooled connection
# or for the TCP connect; InvalidURL is raised before connecting.
_BEFORE_SENDING = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
)


def from_transport(exc: TransportFailure, *, endpoint: str, idempotent: bool) -> KrakenError:
    """The typed error for a transport failure, by whether the request may have reached Kraken."""
    name = type(exc).__name__
    if isinstance(exc, _BEFORE_SENDING):
        return TransportError(f"Kraken {endpoint} not sent: {name}")
    return unknown_outcome(
        f"Kraken {endpoint} sent, no answer: {name}",
        idempotent=idempotent,
        timeout=isinstance(exc, httpx.TimeoutException | TimeoutError),
    )
