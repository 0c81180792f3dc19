"""Records for FIFO-topic publishing: a publication's copies, committed only if its
deduplication id is new (the check and the copies share one transaction)."""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.storage.base import OutboxItem, QueueDelivery


@dataclass
class FifoPublication:
    """One publication to a FIFO topic and every copy it fans out to."""

    dedup_id: str
    message_id: str
    sequence_number: str
    queue_deliveries: list[QueueDelivery] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    records: list[tuple[str, str, str, bytes, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Original:
    """The publication a duplicate repeats: its answer is the original's ids."""

    message_id: str
    sequence_number: str
