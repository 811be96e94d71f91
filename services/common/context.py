"""The current call's request id and caller, in context variables that every log line reads."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
MAX_REQUEST_ID_LENGTH = 128

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
caller_var: ContextVar[str | None] = ContextVar("caller", default=None)
# Set by a handler that logged its call's outcome itself (risk's decision, with every detail):
# the interceptor's own line for that call then goes to DEBUG, so a successful call logs once.
outcome_logged_var: ContextVar[bool] = ContextVar("outcome_logged", default=False)


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """The id a client or Kong sent, if it is printable and short, else a fresh one."""
    if value and len(value) <= MAX_REQUEST_ID_LENGTH and value.isprintable():
        return value
    return new_request_id()


def note_outcome_logged() -> None:
    """The current call's outcome is in the log already; see ``outcome_logged_var``."""
    outcome_logged_var.set(True)


def current_request_id() -> str | None:
    return request_id_var.get()
