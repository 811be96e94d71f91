"""The error table covers every Kraken error string in the reference, and classifies them right."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import aiohttp.client_reqrep
import grpc
import httpx
import pytest

from services.execution.kraken import errors
from services.execution.kraken.errors import (
    ERROR_TABLE,
    KrakenError,
    RateLimitedError,
    RateLimitScope,
    RetryClass,
    UnknownOutcomeError,
    UnrecognizedKrakenError,
)

REPO_ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "kraken.md"

# Kraken error strings are `E<Category>:<message>[:<extra>]` (kraken.md §2.2).
ANY_ERROR_START = re.compile(r"\bE[A-Z][A-Za-z]*:")
BACKTICKED_ERROR = re.compile(r"`(E[A-Z][A-Za-z]*:[^`]*)`")
OPTIONAL_PART = re.compile(r"\[(:?<[^>\]]*>)\]")
PLACEHOLDER = re.compile(r"\[[^\]]*\]|<[^>]*>")
SAMPLE_VALUE = "1700000000"


def reference_text() -> str:
    if not REFERENCE.exists():
        pytest.fail(f"the Kraken reference is missing at {REFERENCE}")
    return REFERENCE.read_text(encoding="utf-8")


def documented_strings() -> list[str]:
    return sorted(set(BACKTICKED_ERROR.findall(reference_text())))


def concrete_forms(documented: str) -> list[str]:
    """What Kraken actually sends for a documented string with optional parts and placeholders."""
    without_optional = OPTIONAL_PART.sub("", documented)
    with_optional = OPTIONAL_PART.sub(lambda m: m.group(1), documented)
    return sorted({PLACEHOLDER.sub(SAMPLE_VALUE, s) for s in (without_optional, with_optional)})


def documented_base(documented: str) -> str:
    """The documented string without its placeholders: the table key it must map to."""
    base = PLACEHOLDER.sub("", OPTIONAL_PART.sub("", documented))
    return errors.normalize(base).rstrip(":").strip()


def test_reference_lists_the_errors_we_expect_to_parse() -> None:
    found = documented_strings()

    assert len(found) >= 50
    assert "EAPI:Invalid nonce" in found
    assert "ENexus:Quote not found" in found
    assert "EService: Throttled: [UNIX timestamp]" in found


@pytest.mark.parametrize("documented", documented_strings())
def test_every_documented_error_maps_to_its_own_entry(documented: str) -> None:
    for concrete in concrete_forms(documented):
        key = errors.table_key(concrete)

        assert key is not None, f"{concrete!r} (documented as {documented!r}) is not in the table"
        assert key.casefold() == documented_base(documented).casefold()
        assert errors.spec_for(concrete) is not errors.UNRECOGNIZED


def test_every_error_mentioned_outside_backticks_is_covered_too() -> None:
    text = reference_text()
    backticked_starts = {m.start(1) for m in BACKTICKED_ERROR.finditer(text)}

    uncovered = [
        text[m.start() : m.start() + 60]
        for m in ANY_ERROR_START.finditer(text)
        if m.start() not in backticked_starts
        and not any(text[m.start() :].casefold().startswith(k.casefold()) for k in ERROR_TABLE)
    ]

    assert uncovered == []


def test_every_table_entry_is_documented() -> None:
    documented = {documented_base(s).casefold() for s in documented_strings()}

    undocumented = [key for key in ERROR_TABLE if key.casefold() not in documented]

    assert undocumented == []


INDEX_UNAVAILABLE = "EGeneral:Invalid arguments:Index unavailable"
NO_FUNDS = "EPTL:Insufficient funds for transfer"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("EService: Throttled: 1700000000", "EService:Throttled"),
        ("EService:Throttled:1700000000", "EService:Throttled"),
        ("EService:Throttled", "EService:Throttled"),
        ("EGeneral:Internal error:1234", "EGeneral:Internal error"),
        ("EGeneral:Invalid arguments:volume", "EGeneral:Invalid arguments"),
        (INDEX_UNAVAILABLE, INDEX_UNAVAILABLE),
        ("EGeneral:Unknown method", "EGeneral:Unknown Method"),
        (f"{NO_FUNDS} (need 12.5 USD)", NO_FUNDS),
        (f"{NO_FUNDS}: need 12.5 USD", NO_FUNDS),
    ],
)
def test_variants_match_their_documented_prefix(raw: str, key: str) -> None:
    assert errors.table_key(raw) == key


@pytest.mark.parametrize("raw", ["EFunding:Unknown thing", "EOrder:Something new", "garbage", ""])
def test_unknown_strings_fail_closed_and_stay_typed(raw: str) -> None:
    error = errors.from_kraken([raw], endpoint="AddOrder", idempotent=False)

    assert isinstance(error, UnrecognizedKrakenError)
    assert isinstance(error, KrakenError)
    assert error.retry_class is RetryClass.NEVER_RETRY
    assert error.grpc_status is grpc.StatusCode.INTERNAL
    assert error.kraken_error == raw


@pytest.mark.parametrize("http_status", [200, 400, 409, 500])
def test_unknown_strings_stay_internal_unless_answered_404(http_status: int) -> None:
    unknown = ["ENexus:User not found"]
    error = errors.from_kraken(unknown, endpoint="RequestQuote", idempotent=False, http_status=404)
    other = errors.from_kraken(
        unknown, endpoint="RequestQuote", idempotent=False, http_status=http_status
    )

    assert isinstance(error, UnrecognizedKrakenError)
    assert error.grpc_status is grpc.StatusCode.NOT_FOUND
    assert error.retry_class is RetryClass.NEVER_RETRY
    assert "ENexus:User not found" in error.message
    assert other.grpc_status is grpc.StatusCode.INTERNAL


def test_a_known_string_keeps_its_entry_on_a_404() -> None:
    error = errors.from_kraken(
        ["EPTL:Price quote expired"], endpoint="ExecuteQuote", idempotent=False, http_status=404
    )

    assert error.grpc_status is grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(
    "raw", ["EService:Busy", "EGeneral:Internal error", "EGeneral:Internal error:77"]
)
def test_ambiguous_failures_are_unknown_outcome_for_add_order(raw: str) -> None:
    error = errors.from_kraken([raw], endpoint="AddOrder", idempotent=False)

    assert isinstance(error, UnknownOutcomeError)
    assert error.retry_class is RetryClass.UNKNOWN_OUTCOME


def test_ambiguous_failures_are_safe_to_retry_for_a_query() -> None:
    error = errors.from_kraken(["EService:Busy"], endpoint="Balance", idempotent=True)

    assert error.retry_class is RetryClass.SAFE_TO_RETRY
    assert error.grpc_status is grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("raw", "scope"),
    [
        ("EAPI:Rate limit exceeded", RateLimitScope.REST),
        ("EGeneral:Too many requests", RateLimitScope.REST),
        ("EAuth:Too many requests", RateLimitScope.REST),
        ("EService: Throttled: 1700000000", RateLimitScope.CONCURRENCY),
        ("EOrder:Rate limit exceeded", RateLimitScope.TRADING),
        ("EOrder:Domain rate limit exceeded", RateLimitScope.TRADING_DOMAIN),
    ],
)
def test_rate_limits_are_resource_exhausted_with_their_scope(
    raw: str, scope: RateLimitScope
) -> None:
    error = errors.from_kraken([raw], endpoint="Balance", idempotent=True)

    assert isinstance(error, RateLimitedError)
    assert error.scope is scope
    assert error.grpc_status is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_throttled_carries_the_time_to_wait() -> None:
    error = errors.from_kraken(
        ["EService: Throttled: 1700000010"], endpoint="Balance", idempotent=True, now=1700000000.0
    )

    assert error.retry_after == pytest.approx(10.0)


def test_lockout_is_never_retried() -> None:
    error = errors.from_kraken(["EGeneral:Temporary lockout"], endpoint="Balance", idempotent=True)

    assert error.retry_class is RetryClass.NEVER_RETRY


def test_invalid_nonce_is_safe_to_retry_because_nothing_was_executed() -> None:
    error = errors.from_kraken(["EAPI:Invalid nonce"], endpoint="AddOrder", idempotent=False)

    assert isinstance(error, errors.InvalidNonceError)
    assert error.retry_class is RetryClass.SAFE_TO_RETRY


def test_the_first_error_decides_and_the_message_lists_all() -> None:
    error = errors.from_kraken(
        ["EOrder:Insufficient funds", "EGeneral:Internal error"],
        endpoint="AddOrder",
        idempotent=False,
    )

    assert isinstance(error, errors.OrderRejectedError)
    assert "EGeneral:Internal error" in str(error)


@pytest.mark.parametrize(
    ("status", "idempotent", "retry_class"),
    [
        (500, False, RetryClass.UNKNOWN_OUTCOME),
        (502, False, RetryClass.UNKNOWN_OUTCOME),
        (503, False, RetryClass.UNKNOWN_OUTCOME),
        (408, False, RetryClass.UNKNOWN_OUTCOME),
        (500, True, RetryClass.SAFE_TO_RETRY),
        (429, False, RetryClass.SAFE_TO_RETRY),
        (400, False, RetryClass.NEVER_RETRY),
        (401, True, RetryClass.NEVER_RETRY),
    ],
)
def test_http_status_without_a_kraken_string(
    status: int, idempotent: bool, retry_class: RetryClass
) -> None:
    error = errors.from_http_status(status, endpoint="AddOrder", idempotent=idempotent)

    assert error.retry_class is retry_class


@pytest.mark.parametrize(
    ("timeout", "status"),
    [(True, grpc.StatusCode.DEADLINE_EXCEEDED), (False, grpc.StatusCode.UNKNOWN)],
)
def test_transport_failure_after_sending_is_unknown_outcome(
    timeout: bool, status: grpc.StatusCode
) -> None:
    error = errors.unknown_outcome("dropped", idempotent=False, timeout=timeout)

    assert error.retry_class is RetryClass.UNKNOWN_OUTCOME
    assert error.grpc_status is status


def test_every_table_row_is_consistent() -> None:
    for key, spec in ERROR_TABLE.items():
        assert issubclass(spec.error_class, KrakenError), key
        if spec.rate_limit_scope is not None:
            assert spec.grpc_status is grpc.StatusCode.RESOURCE_EXHAUSTED, key
        if spec.retry_class is RetryClass.UNKNOWN_OUTCOME:
            assert spec.error_class is UnknownOutcomeError, key


def _all_subclasses(base: type[httpx.HTTPError]) -> list[type[httpx.HTTPError]]:
    found: list[type[httpx.HTTPError]] = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


HTTPX_TRANSPORT_ERRORS = _all_subclasses(httpx.TransportError)
NOT_SENT = {httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout}


def test_httpx_transport_errors_are_all_enumerated() -> None:
    assert {httpx.ReadTimeout, httpx.WriteError, httpx.RemoteProtocolError} <= set(
        HTTPX_TRANSPORT_ERRORS
    )


@pytest.mark.parametrize("exc_class", HTTPX_TRANSPORT_ERRORS, ids=lambda c: c.__name__)
def test_every_httpx_transport_error_is_mapped_by_whether_it_was_sent(
    exc_class: type[httpx.HTTPError],
) -> None:
    error = errors.from_transport(exc_class("boom"), endpoint="AddOrder", idempotent=False)

    if exc_class in NOT_SENT:
        assert isinstance(error, errors.TransportError)
        assert error.retry_class is RetryClass.SAFE_TO_RETRY
    else:
        assert isinstance(error, UnknownOutcomeError)
        assert error.retry_class is RetryClass.UNKNOWN_OUTCOME


def _aiohttp_failure(exc_class: type[Exception]) -> Exception:
    """One instance of each aiohttp failure the Spot client can meet, built as aiohttp does."""
    key = aiohttp.client_reqrep.ConnectionKey("api.kraken.com", 443, True, True, None, None, None)
    if issubclass(exc_class, aiohttp.ClientConnectorError):
        return exc_class(key, OSError(111, "Connection refused"))
    if issubclass(exc_class, aiohttp.InvalidURL):
        return exc_class("not a url")
    return exc_class("boom")


AIOHTTP_NOT_SENT = [
    aiohttp.ClientConnectorError,
    aiohttp.ClientConnectorDNSError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.InvalidURL,
]
AIOHTTP_MAYBE_SENT = [
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientConnectionResetError,
    aiohttp.ClientOSError,
    aiohttp.SocketTimeoutError,
    aiohttp.ClientPayloadError,
    aiohttp.ClientConnectionError,
    TimeoutError,  # the whole-request timeout
]


@pytest.mark.parametrize(
    ("exc_class", "sent"),
    [(c, False) for c in AIOHTTP_NOT_SENT] + [(c, True) for c in AIOHTTP_MAYBE_SENT],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_aiohttp_failures_are_mapped_by_whether_the_request_may_have_left(
    exc_class: type[Exception], sent: bool
) -> None:
    exc = _aiohttp_failure(exc_class)
    assert isinstance(exc, errors.TRANSPORT_FAILURES)

    error = errors.from_transport(exc, endpoint="AddOrder", idempotent=False)

    if sent:
        assert isinstance(error, UnknownOutcomeError)
        assert error.retry_class is RetryClass.UNKNOWN_OUTCOME
    else:
        assert isinstance(error, errors.TransportError)
        assert error.retry_class is RetryClass.SAFE_TO_RETRY


def test_an_aiohttp_timeout_after_sending_is_a_deadline() -> None:
    error = errors.from_transport(TimeoutError(), endpoint="AddOrder", idempotent=False)
    assert error.grpc_status is grpc.StatusCode.DEADLINE_EXCEEDED
    read = errors.from_transport(
        aiohttp.SocketTimeoutError("slow"), endpoint="AddOrder", idempotent=False
    )
    assert read.grpc_status is grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_read_timeout_on_a_query_is_safe_to_retry() -> None:
    error = errors.from_transport(httpx.ReadTimeout("slow"), endpoint="Balance", idempotent=True)

    assert error.retry_class is RetryClass.SAFE_TO_RETRY
