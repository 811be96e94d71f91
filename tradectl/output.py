"""Human tables or JSON for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    widths = {c: max([len(c), *(len(str(r.get(c, ""))) for r in rows)]) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def stream_line(
    row: Mapping[str, Any], columns: Sequence[str], widths: dict[str, int], *, header: bool
) -> str:
    """One row of a table printed as it streams (``watch``): each column as wide as the widest
    value seen so far, the titles above the first row."""
    for column in columns:
        widths[column] = max(widths.get(column, len(column)), len(str(row.get(column, ""))))
    cells = "  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns).rstrip()
    if not header:
        return cells
    title = "  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()
    return f"{title}\n{cells}"


def emit(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], as_json: bool) -> str:
    if as_json:
        return json.dumps(list(rows), indent=2, default=str)
    return render_table(rows, columns)
