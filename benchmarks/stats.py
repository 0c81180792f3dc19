"""Counters shared between load-generator processes, and result merging."""

from __future__ import annotations

import math
import multiprocessing
from array import array
from typing import Any

FIELDS = ("sent", "recv", "prod_done", "last_recv")


class Board:
    """Per-process counters readable by every process (lock-free: one writer per slot)."""

    def __init__(self, nprocs: int, shared: bool) -> None:
        n = nprocs * len(FIELDS)
        self.nprocs = nprocs
        self.a: Any = multiprocessing.RawArray("d", n) if shared else [0.0] * n

    def _i(self, proc: int, field: str) -> int:
        return proc * len(FIELDS) + FIELDS.index(field)

    def add(self, proc: int, field: str, value: float) -> None:
        """Add ``value`` to this process's slot."""
        self.a[self._i(proc, field)] += value

    def set(self, proc: int, field: str, value: float) -> None:
        """Set this process's slot."""
        self.a[self._i(proc, field)] = value

    def total(self, field: str) -> float:
        """Sum over processes."""
        k = FIELDS.index(field)
        return sum(self.a[p * len(FIELDS) + k] for p in range(self.nprocs))

    def latest(self, field: str) -> float:
        """Maximum over processes."""
        k = FIELDS.index(field)
        return max(self.a[p * len(FIELDS) + k] for p in range(self.nprocs))


def new_result() -> dict[str, Any]:
    """Empty worker result."""
    return {
        "ops": 0,  # successful requests in the timed window
        "msgs": 0,  # messages moved in the timed window
        "errors": 0,
        "lat": array("d"),  # request latencies, ms
        "rlat": array("d"),  # ReceiveMessage latencies, ms
        "e2e": array("d"),  # end-to-end message latencies, ms
        "sent_ids": array("q"),
        "recv_ids": array("q"),
        "recv_total": 0,
        "last_recv": 0.0,
        "cpu": 0.0,
    }


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum counters, concatenate arrays, take the max of times."""
    out = new_result()
    for r in results:
        for k, v in r.items():
            if isinstance(v, array):
                out[k].extend(v)
            elif k in ("last_recv", "wall"):
                out[k] = max(out.get(k, 0.0), v)
            else:
                out[k] = out.get(k, 0) + v
    return out


def percentile(sorted_values: list[float] | array, q: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q / 100 * len(sorted_values)) - 1))
    return sorted_values[idx]


def p50_p99(values: array) -> tuple[float | None, float | None]:
    """Median and 99th percentile in ms, rounded to microseconds."""
    s = sorted(values)
    p50, p99 = percentile(s, 50), percentile(s, 99)
    return (
        None if p50 is None else round(p50, 3),
        None if p99 is None else round(p99, 3),
    )


def lost_and_duplicated(sent: array, received: array) -> tuple[int, int, int]:
    """``(lost, duplicated, unexpected)``: sent-but-never-received, received more than once,
    received but never confirmed as sent (e.g. a send that timed out yet went through)."""
    sent_set = set(sent)
    seen: set[int] = set()
    dup = 0
    for i in received:
        if i in seen:
            dup += 1
        else:
            seen.add(i)
    lost = len(sent_set - seen)
    unexpected = len(seen - sent_set)
    return lost, dup, unexpected
