"""tradectl prints aligned tables for people and JSON for scripts."""

from __future__ import annotations

import json

from tradectl.output import emit

ROWS = [{"service": "risk", "status": "SERVING"}, {"service": "execution", "status": "DOWN"}]


def test_table_has_a_header_and_aligned_columns() -> None:
    lines = emit(ROWS, ["service", "status"], as_json=False).splitlines()
    assert lines[0].split() == ["SERVICE", "STATUS"]
    assert lines[1].index("SERVING") == lines[2].index("DOWN") == lines[0].index("STATUS")


def test_json_round_trips() -> None:
    assert json.loads(emit(ROWS, ["service"], as_json=True)) == ROWS
