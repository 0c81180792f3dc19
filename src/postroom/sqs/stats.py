"""Per-queue activity counters (messages sent, received, deleted, moved to a DLQ).

Plain dict increments keyed by queue id: the send path pays one dictionary update, and the
metrics exporter and console read them through ``SqsApi.queue_stats``. They count since the
server started (Prometheus counters may reset) and are not stored.
"""

from __future__ import annotations

from collections import defaultdict


class QueueCounters:
    __slots__ = ("sent", "received", "deleted", "moved_to_dlq")

    def __init__(self) -> None:
        self.sent: defaultdict[int, int] = defaultdict(int)
        self.received: defaultdict[int, int] = defaultdict(int)
        self.deleted: defaultdict[int, int] = defaultdict(int)
        self.moved_to_dlq: defaultdict[int, int] = defaultdict(int)

    def forget(self, queue_id: int) -> None:
        """A deleted queue's series disappear with it (bounded label sets)."""
        for counter in (self.sent, self.received, self.deleted, self.moved_to_dlq):
            counter.pop(queue_id, None)
