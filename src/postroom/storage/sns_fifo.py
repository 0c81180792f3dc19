"""Records for FIFO-topic publishing: a publication's copies, committed only if its
deduplication id is new (the check and the copies share one transaction), and its
sequence number, checked against the topic's last one in that same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from postroom.storage.base import OutboxItem, QueueDelivery

# AWS's SequenceNumber has 20 digits; storage keeps the part below this (a 64-bit integer).
SEQUENCE_BASE = 10**19


def sequence_number(offset: int) -> str:
    """The 20-digit SequenceNumber for ``offset`` (0 < offset < 9 * 10**19)."""
    return str(SEQUENCE_BASE + offset)


def sequence_offset(number: str) -> int:
    return int(number) - SEQUENCE_BASE


@dataclass
class FifoPublication:
    """One publication to a FIFO topic and every copy it fans out to."""

    dedup_id: str
    message_id: str
    sequence_number: str
    queue_deliveries: list[QueueDelivery] = field(default_factory=list)
    outbox: list[OutboxItem] = field(default_factory=list)
    records: list[tuple[str, str, str, bytes, int]] = field(default_factory=list)  # storage.topics.Record


@dataclass(frozen=True)
class Original:
    """The publication a duplicate repeats: its answer is the original's ids."""

    message_id: str
    sequence_number: str
