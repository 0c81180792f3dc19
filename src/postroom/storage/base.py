"""The storage interface every backend implements, and the records it trades in.

Backends own persistence and the atomic state transitions of messages (pick visible
messages and hide them, move to a dead-letter queue, delete by receipt); services own
AWS semantics and validation. All times are epoch milliseconds from the injected clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from postroom.storage.inspect import InspectStore
from postroom.storage.leases import LeaseStore
from postroom.storage.notifier import Notifier
from postroom.storage.sqs_state import SqsStateStore


@dataclass
class QueueRecord:
    """A queue's identity and settings. ``attributes`` holds the explicitly set queue
    attributes as AWS strings; defaults are filled in by the service."""

    id: int
    account: str
    region: str
    name: str
    attributes: dict[str, str]
    tags: dict[str, str]
    created_at: int
    modified_at: int


@dataclass(slots=True)
class NewMessage:
    """A message as the service hands it to storage on send."""

    message_id: str
    body: str
    md5_body: str
    attributes: bytes | None  # serialised message attributes (JSON), None when empty
    md5_attributes: str | None
    system_attributes: bytes | None  # serialised message system attributes
    md5_system_attributes: str | None
    sender_id: str
    sent_at: int
    visible_at: int
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass(slots=True)
class StoredMessage:
    """A message as handed out by a receive: stored fields plus this receipt."""

    seq: int
    message_id: str
    body: str
    md5_body: str
    attributes: bytes | None
    md5_attributes: str | None
    system_attributes: bytes | None
    md5_system_attributes: str | None
    sender_id: str
    sent_at: int
    receive_count: int
    first_receive_at: int | None
    receipt: int
    group_id: str | None
    dedup_id: str | None
    dead_letter_source: str | None


@dataclass(frozen=True, slots=True)
class Redrive:
    """Where a queue's messages go once received ``max_receive_count`` times."""

    dead_letter_queue_id: int
    max_receive_count: int
    source_arn: str


@dataclass(slots=True)
class ReceiveResult:
    messages: list[StoredMessage] = field(default_factory=list)
    # When nothing was visible: when the next hidden message becomes visible, if any.
    next_visible_at: int | None = None
    # How many messages this receive moved to the dead-letter queue.
    moved: int = 0


class VisibilityChange(Enum):
    CHANGED = "changed"
    NOT_IN_FLIGHT = "not_in_flight"
    NOT_FOUND = "not_found"
    LIMIT_EXCEEDED = "limit_exceeded"


@dataclass
class TopicRecord:
    arn: str
    account: str
    region: str
    name: str
    attributes: dict[str, str]
    tags: dict[str, str]
    created_at: int


@dataclass
class SubscriptionRecord:
    arn: str
    topic_arn: str
    owner: str
    protocol: str
    endpoint: str
    attributes: dict[str, str]
    confirmed: bool
    token: str | None
    created_at: int


@dataclass(slots=True)
class QueueDelivery:
    """One copy of a publish for an SQS queue, stored in the publish's transaction."""

    queue_id: int
    fifo: bool
    message: NewMessage
    deduplication_by_group: bool = False
    deduplication_window_ms: int = 0  # FIFO queues only


@dataclass(slots=True)
class OutboxItem:
    """A delivery to make later (HTTP/S, confirmation requests)."""

    subscription_arn: str
    kind: str  # "notification" | "confirmation"
    payload: bytes
    due_at: int
    id: int = 0
    attempts: int = 0
    created_at: int = 0


@dataclass
class MoveTask:
    """A StartMessageMoveTask and its progress."""

    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None
    status: str  # RUNNING, COMPLETED, CANCELLING, CANCELLED, FAILED
    moved: int
    to_move: int
    failure_reason: str | None
    started_at: int


@dataclass(frozen=True, slots=True)
class QueueCounts:
    visible: int
    not_visible: int
    delayed: int


class Storage(Protocol):
    """What every backend provides. Methods that change state return only after the
    change is durable (per the backend's durability setting)."""

    description: str
    inspect: InspectStore  # read-only gauges and peeks for operators
    notifier: Notifier  # notices of committed changes, from this node and the others
    leases: LeaseStore  # who owns which background work
    node_id: str  # this server process, random per start
    exclusive: bool  # no other process uses the store (leases are this node's for the taking)
    sqs_state: SqsStateStore  # SQS rules every node applies (deleted names, purges, attempts)

    async def start(self) -> None: ...
    async def close(self) -> None: ...

    # Queues (reads are served from a cache the backend keeps current).
    # A queue's name is unique per (account, region, name), as on AWS.
    def queue_by_name(self, account: str, region: str, name: str) -> QueueRecord | None: ...
    def queue_by_id(self, queue_id: int) -> QueueRecord | None: ...
    def list_queues(self, account: str, region: str) -> list[QueueRecord]: ...
    def all_queues(self) -> list[QueueRecord]: ...
    async def find_queue(self, account: str, region: str, name: str) -> QueueRecord | None:
        """Look in the database for a queue the cache lacks (another node's new queue)."""
        ...
    async def refreshed(self) -> None:
        """Wait until the refreshes other nodes' notices started are applied."""
        ...
    async def create_queue(
        self, account: str, region: str, name: str, attributes: dict[str, str],
        tags: dict[str, str], now: int,
    ) -> QueueRecord: ...
    async def update_queue(
        self, queue_id: int, *, attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None, now: int,
    ) -> QueueRecord: ...
    async def delete_queue(self, queue_id: int, now: int | None = None) -> None:
        """With ``now``: the queue's name is recorded as deleted then (``sqs_state``)."""
        ...

    # Messages.
    async def send(self, queue_id: int, messages: list[NewMessage]) -> None: ...
    async def send_fifo(
        self, queue_id: int, messages: list[NewMessage], *, now: int, window_ms: int,
        scope_by_group: bool,
    ) -> list[tuple[str, int, bool]]:
        """Store FIFO messages unless their deduplication id was seen within ``window_ms``;
        per message: (message id, sequence number, duplicate)."""
        ...
    async def receive(
        self, queue_id: int, *, now: int, max_messages: int, visibility_ms: int,
        retention_cutoff: int, redrive: Redrive | None, fifo_order: bool = False,
    ) -> ReceiveResult: ...
    async def delete_messages(
        self, queue_id: int, receipts: list[tuple[int, int]], *, fifo_order: bool = False, now: int = 0,
    ) -> set[int]:
        """Delete by receipt; with ``fifo_order``, return the seqs whose receipt expired
        (visibility ended at or before ``now``): those are not deleted."""
        ...
    async def change_visibility(
        self, queue_id: int, changes: list[tuple[int, int, int]], *, now: int, max_total_ms: int,
        allow_expired: bool = False,
    ) -> list[VisibilityChange]:
        """``allow_expired``: a still-current receipt may change a message whose visibility
        already ended (else NOT_IN_FLIGHT)."""
        ...
    async def redelay(self, queue_id: int, delay_ms: int) -> None:
        """Never-received messages become visible ``delay_ms`` after they were sent."""
        ...
    async def purge(self, queue_id: int, *, now: int | None = None, interval_ms: int = 0) -> bool:
        """With ``now``: False (nothing purged) if the queue was purged within ``interval_ms``."""
        ...
    async def counts(self, queue_id: int, now: int) -> QueueCounts: ...
    async def move_messages(
        self, source_id: int, destinations: dict[str, tuple[int, bool]], default_destination: tuple[int, bool] | None,
        limit: int, now: int, task: MoveTask,
    ) -> int | str | None:
        """Move up to ``limit`` visible messages out of a dead-letter queue, each to
        ``default_destination`` or else to its original source; both as (queue id, is
        FIFO), ``destinations`` keyed by source ARN. Adds the count to the stored task in the
        same transaction. Returns how many moved, or a failure reason; None (nothing moved)
        when the stored task is no longer RUNNING."""
        ...
    async def save_move_task(self, task: MoveTask) -> None:
        """Insert or replace; a RUNNING task is announced (notice ``move_tasks``)."""
        ...
    async def finish_move_task(self, handle: str, status: str, reason: str | None) -> bool:
        """Set a RUNNING task's final status; False if it was no longer RUNNING."""
        ...
    async def cancel_move_task(self, handle: str) -> tuple[MoveTask | None, bool]:
        """Cancel a RUNNING task: (the stored task after, whether it was RUNNING)."""
        ...
    async def move_tasks(self) -> list[MoveTask]: ...
    async def expire(self, cutoffs: dict[int, int], now: int, fifo_queues: set[int] | None = None) -> int:
        """Delete messages older than each queue's cutoff and expired deduplication ids."""
        ...
