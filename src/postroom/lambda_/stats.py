"""Invocation activity per function since the server started: counts, a duration
histogram and the latest invocations (for the console). Kept in memory, not stored."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from postroom.metrics.histogram import DURATION_BUCKETS_S, Histogram

RECENT_INVOCATIONS = 20


@dataclass(frozen=True, slots=True)
class InvocationSummary:
    at: int  # epoch ms, when it finished
    request_id: str
    version: str
    duration_ms: float
    error: str | None  # the function error ("Unhandled"), None on success
    error_type: str | None


class FunctionCounters:
    __slots__ = ("invocations", "errors", "throttles", "duration", "recent")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.duration = Histogram(DURATION_BUCKETS_S)
        self.recent: deque[InvocationSummary] = deque(maxlen=RECENT_INVOCATIONS)


class LambdaCounters:
    """Per unqualified function ARN; a deleted function's entry goes with it."""

    def __init__(self) -> None:
        self.functions: dict[str, FunctionCounters] = {}

    def of(self, function_arn: str) -> FunctionCounters:
        found = self.functions.get(function_arn)
        if found is None:
            found = self.functions[function_arn] = FunctionCounters()
        return found

    def forget(self, function_arn: str) -> None:
        self.functions.pop(function_arn, None)
