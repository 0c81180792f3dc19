"""Interface of SNS storage: topics and subscriptions (cached, written through), the
publishes' copies, the HTTP/S delivery outbox and the delivery records.

Several nodes may share the store: a node's caches follow the others' changes within
milliseconds (notices), and a publish names the subscriptions it fanned out to, so the
store refuses it (StaleRecord) if another node changed them meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from postroom.storage.base import OutboxItem, QueueDelivery, SubscriptionRecord, TopicRecord
from postroom.storage.sns_fifo import FifoPublication, Original

# (subscription ARN, protocol, endpoint, payload, time): a delivery kept for inspection.
Record = tuple[str, str, str, bytes, int]


@dataclass(frozen=True)
class Audience:
    """The confirmed subscriptions of a topic a publish fanned out to, as the node saw them."""

    topic_arn: str
    subscription_arns: frozenset[str]


class TopicStore(Protocol):
    topics: dict[str, TopicRecord]  # by ARN; a write-through cache of every topic
    subscriptions: dict[str, SubscriptionRecord]  # by ARN; every subscription

    async def load(self) -> None: ...

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        ...

    async def find_topic(self, arn: str) -> TopicRecord | None:
        """Read a topic and its subscriptions again from the store (another node's change)."""
        ...

    async def find_subscription(self, arn: str) -> SubscriptionRecord | None: ...

    async def save_topic(self, topic: TopicRecord) -> None: ...

    async def delete_topic(self, arn: str) -> None:
        """Delete a topic with its subscriptions and FIFO state."""
        ...

    async def save_subscription(self, sub: SubscriptionRecord, outbox: list[OutboxItem] | None = None) -> None:
        """Save a subscription; ``outbox`` items (its confirmation request) in the same commit."""
        ...

    async def delete_subscription(self, arn: str, outbox: list[OutboxItem] | None = None) -> None: ...

    async def publish(
        self, queue_deliveries: list[QueueDelivery], outbox: list[OutboxItem], records: list[Record], now: int,
        *, audience: Audience | None = None,
    ) -> None:
        """Commit every copy of one publish (or batch) in one transaction. ``audience``: the
        subscriptions the copies were made for; if the topic's confirmed subscriptions in
        the store are not those, nothing is written and StaleRecord("subscriptions",
        topic ARN) is raised (read the topic again and fan out anew)."""
        ...

    async def publish_fifo(
        self, topic_arn: str, publications: list[FifoPublication], now: int, window_ms: int,
        *, audience: Audience | None = None,
    ) -> list[Original | None]:
        """Commit the copies of each publication whose deduplication id is new; a repeat
        answers the original's ids. StaleRecord("sns_sequence", ...) if another node took
        the sequence numbers, StaleRecord("subscriptions", ...) as for ``publish``."""
        ...

    async def due_outbox(self, now: int, limit: int) -> list[OutboxItem]: ...

    async def next_outbox_due(self) -> int | None: ...

    async def finish_outbox(
        self, item_id: int, *, retry_at: int | None = None,
        dead_letter: list[QueueDelivery] | None = None, now: int = 0,
    ) -> None: ...

    async def records(self, limit: int = 1000, account: str | None = None) -> list[dict[str, object]]: ...
