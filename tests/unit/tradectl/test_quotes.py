"""`tradectl quote watch` prints each status change as it arrives, not at the stream's end."""

from __future__ import annotations

import json
from collections.abc import Iterator

from tradectl.commands.quotes import _watch_lines
from trading.execution.v1 import execution_pb2 as pb

STATUSES = [
    pb.QUOTE_STATUS_NEW,
    pb.QUOTE_STATUS_ACCEPTED,
    pb.QUOTE_STATUS_CREDIT_TRANSFER_COMPLETE,
]


def _events(pulled: list[int]) -> Iterator[pb.QuoteEvent]:
    for status in STATUSES:
        pulled.append(status)
        yield pb.QuoteEvent(quote=pb.Quote(quote_id="q-1", status=status))


def test_each_event_is_a_line_before_the_next_is_read() -> None:
    pulled: list[int] = []
    lines = _watch_lines(_events(pulled), as_json=False)

    first = next(lines)

    assert pulled == [pb.QUOTE_STATUS_NEW]
    assert first.splitlines()[0].startswith("QUOTE_ID")
    assert "NEW" in first.splitlines()[1]
    assert "ACCEPTED" in next(lines)
    assert pulled == STATUSES[:2]
    last = next(lines)
    assert "CREDIT_TRANSFER_COMPLETE" in last
    assert "QUOTE_ID" not in last  # the titles come once


def test_json_lines_one_per_event() -> None:
    pulled: list[int] = []

    lines = list(_watch_lines(_events(pulled), as_json=True))

    assert [json.loads(line)["quote"]["status"] for line in lines] == [
        pb.QuoteStatus.Name(s) for s in STATUSES
    ]
