"""Read-only views of queues for operators (console, metrics): gauges and peeks.

Nothing here changes a message: a peek leaves receive counts, visibility and receipts as
they were, unlike ReceiveMessage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueueGauges:
    """A queue's depth as the SQS console shows it, and when its oldest message was sent."""

    visible: int
    in_flight: int
    delayed: int
    oldest_sent_at: int | None  # epoch ms; None when the queue is empty


@dataclass(frozen=True, slots=True)
class PeekedMessage:
    message_id: str
    body: str
    attributes: bytes | None  # serialised message attributes, as stored
    sender_id: str
    sent_at: int
    visible_at: int
    receive_count: int
    first_receive_at: int | None
    group_id: str | None
    dedup_id: str | None
    dead_letter_source: str | None


class InspectStore(Protocol):
    async def gauges(self, queue_ids: list[int], now: int) -> dict[int, QueueGauges]:
        """Gauges for each queue, in one storage operation."""
        ...

    async def peek(self, queue_id: int, limit: int) -> list[PeekedMessage]:
        """Up to ``limit`` of a queue's messages, oldest first, whatever their state."""
        ...
