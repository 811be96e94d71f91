"""JSON logs on stderr, one object per line, with the request id and caller of the current call."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from services.common.context import caller_var, request_id_var

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# orjson writes what the standard json module writes for the plain types; everything else (str,
# int, dict and list subclasses, dataclasses, datetimes) is handed to `_plain`, which turns it
# into what `json.dumps(..., default=str)` would have written. Where orjson refuses a value (an
# integer beyond 64 bits) the standard module writes the line. One difference is kept: a plain
# Enum member is written as its value, where the json module wrote ``str(member)``.
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list | tuple):
        return list(value)
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; fields passed with ``extra=`` become keys."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service
        # The formatted date and time of the last second seen: most lines share their second.
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        caller = caller_var.get()
        if caller:
            entry["caller"] = caller
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=_plain, option=_ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:
            return json.dumps(entry, default=str)

    def _timestamp(self, created: float) -> str:
        """``created`` as ``datetime.isoformat(timespec="milliseconds")`` writes it, in UTC."""
        second = int(created)
        # Rounded to the microsecond as datetime.fromtimestamp rounds, then cut to milliseconds.
        micros = round((created - second) * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        cached_second, text = self._second
        if second != cached_second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, text)
        return f"{text}.{micros // 1000:03d}+00:00"


def configure_logging(service: str, level: str) -> None:
    """Route every logger to stderr as JSON at ``level``.

    The JSON carries neither the source line nor thread and process details, so they are not
    collected either (the logging HOWTO's "Optimization" section): risk logs every decision and
    execution every order, and walking the stack for each line was a measurable part of a check.
    """
    logging._srcfile = None  # the documented switch for caller lookup
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def log_off_path(
    logger: logging.Logger,
    message: str,
    extra: Mapping[str, Any],
    *,
    after: float = 0.0,
    level: int = logging.INFO,
) -> None:
    """Log ``message`` off a latency-critical path: formatting and writing the line wait until
    the event loop's current turn is over (``after`` 0), or ``after`` seconds, for a path that
    takes several turns to send what it sends.

    The record, and so the line's time, is made now. The request id and caller are the current
    call's: the loop runs the handler in a copy of the current context. Outside a running loop
    the line is logged at once.
    """
    if not logger.isEnabledFor(level):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        logger.log(level, message, extra=extra)
        return
    record = logger.makeRecord(
        logger.name, level, "(unknown file)", 0, message, (), None, extra=dict(extra)
    )
    if after > 0:
        loop.call_later(after, logger.handle, record)
    else:
        loop.call_soon(logger.handle, record)
