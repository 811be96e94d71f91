"""JSON log lines carry the request id and caller of the current call."""

from __future__ import annotations

import json
import logging

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
