"""JSON log lines carry the request id and caller of the current call."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal

from services.common.context import caller_var, request_id_var
from services.common.logs import JsonFormatter, log_off_path


def test_log_line_is_json_with_request_id_caller_and_extras() -> None:
    formatter = JsonFormatter("risk")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.pair = "XBT/USD"
    rid_token = request_id_var.set("rid-42")
    caller_token = caller_var.set("desk-a")
    try:
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(rid_token)
        caller_var.reset(caller_token)
    assert line["msg"] == "hello world"
    assert line["service"] == "risk"
    assert line["request_id"] == "rid-42"
    assert line["caller"] == "desk-a"
    assert line["pair"] == "XBT/USD"


def test_timestamp_is_the_utc_iso_time_to_the_millisecond() -> None:
    formatter = JsonFormatter("risk")
    # Second boundaries and values that round up to the next microsecond or second.
    stamps = [1767225599.9999996, 1767225600.0, 1767225600.0004999, 1767225600.1235, 1.5e9 + 0.999]
    for created in stamps:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        record.created = created
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record))["ts"] == expected


def test_values_json_cannot_hold_are_written_as_text() -> None:
    formatter = JsonFormatter("risk")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.notional = Decimal("1.50")
    record.at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record.units = 2**70  # beyond what orjson writes: the standard module writes the line
    line = json.loads(formatter.format(record))
    assert line["notional"] == "1.50"
    assert line["at"] == "2026-01-02 03:04:05+00:00"
    assert line["units"] == 2**70


class _Lines(logging.Handler):
    """Keeps each formatted line, as the services' stderr handler would write it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("risk"))
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _logger(name: str) -> tuple[logging.Logger, _Lines]:
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    lines = _Lines()
    logger.handlers[:] = [lines]
    return logger, lines


def test_a_line_logged_off_path_is_written_after_the_turn_with_the_calls_request_id() -> None:
    logger, lines = _logger("test.off_path.turn")

    async def call() -> None:
        token = request_id_var.set("rid-7")
        try:
            log_off_path(logger, "order decision", {"approved": True})
        finally:
            request_id_var.reset(token)
        assert lines.lines == []  # nothing formatted or written during this turn
        await asyncio.sleep(0)

    asyncio.run(call())
    assert len(lines.lines) == 1
    line = lines.lines[0]
    assert (line["msg"], line["approved"], line["request_id"]) == ("order decision", True, "rid-7")


def test_a_line_logged_off_path_after_a_delay_keeps_the_time_it_was_logged_at() -> None:
    logger, lines = _logger("test.off_path.delay")

    async def call() -> float:
        logged_at = time.time()
        log_off_path(logger, "signal recorded", {"signal_id": "1-0"}, after=0.3)
        await asyncio.sleep(0.02)
        assert lines.lines == []
        await asyncio.sleep(0.4)
        return logged_at

    logged_at = asyncio.run(call())
    assert [line["signal_id"] for line in lines.lines] == ["1-0"]
    written = datetime.fromisoformat(str(lines.lines[0]["ts"])).timestamp()
    assert abs(written - logged_at) < 0.1  # the record's time, not the write's (300 ms later)


def test_a_line_logged_off_path_without_a_loop_is_written_at_once_and_below_level_not_at_all() -> (
    None
):
    logger, lines = _logger("test.off_path.sync")
    log_off_path(logger, "now", {"n": 1})
    log_off_path(logger, "too fine", {"n": 2}, level=logging.DEBUG)
    assert [line["msg"] for line in lines.lines] == ["now"]
