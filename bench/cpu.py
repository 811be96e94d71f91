"""CPU time spent by processes over a measured stretch, read from ``/proc`` (Linux).

On a 2-core machine every process of the platform shares the same cores, so the CPU each one
spends per operation says which one bounds throughput, and it is steadier than wall-clock time
when something else runs beside the benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads) so far, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND


class CpuMeter:
    """CPU seconds per named group of processes between ``start`` and ``stop``."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._started: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self._groups.items()}

    def start(self) -> None:
        self._started = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds each group spent since ``start``."""
        now = self._read()
        return {name: now[name] - self._started[name] for name in self._groups}


def per_operation(spent: Mapping[str, float], operations: int) -> str:
    """``name 1.23 ms`` for each group and the total, CPU milliseconds per operation."""
    parts = [f"{name} {seconds / operations * 1000:.2f}" for name, seconds in spent.items()]
    total = sum(spent.values()) / operations * 1000
    return ", ".join(parts) + f" = {total:.2f} ms"
