"""JSON log lines carry the request id and caller of the current call."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

from services.common.context import caller_var, request_id_var
from services.common.logs import JsonFormatter


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
