"""SNS activity since the server started: publishes, deliveries and failures by protocol,
and the most recent delivery failures (for the console). Kept in memory, not stored."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

RECENT_FAILURES = 200  # the console shows the latest; older ones are dropped


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    at: int  # epoch ms
    topic_arn: str
    subscription_arn: str
    protocol: str
    endpoint: str
    reason: str


class SnsCounters:
    __slots__ = ("published", "delivered", "failed", "recent_failures")

    def __init__(self) -> None:
        self.published = 0
        # Keyed by protocol: at most the nine protocols SNS knows.
        self.delivered: defaultdict[str, int] = defaultdict(int)
        self.failed: defaultdict[str, int] = defaultdict(int)
        self.recent_failures: deque[DeliveryFailure] = deque(maxlen=RECENT_FAILURES)

    def failure(self, failure: DeliveryFailure) -> None:
        self.failed[failure.protocol] += 1
        self.recent_failures.append(failure)
