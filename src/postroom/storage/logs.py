"""Typed records of the CloudWatch Logs storage area (log groups, streams, events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class LogGroupRecord:
    id: int
    account: str
    region: str
    name: str
    created_at: int  # epoch ms
    retention_days: int | None = None
    kms_key_id: str | None = None
    log_group_class: str = "STANDARD"
    deletion_protection: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    stored_bytes: int = 0


@dataclass
class LogStreamRecord:
    id: int
    group_id: int
    name: str
    created_at: int
    first_event_at: int | None = None
    last_event_at: int | None = None
    last_ingestion_at: int | None = None


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One stored event; ``seq`` orders events with equal timestamps and names them."""

    seq: int
    stream_id: int
    timestamp: int
    ingested_at: int
    message: str


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append changed, applied to the cached records once committed."""

    stream_id: int
    first_event_at: int
    last_event_at: int
    ingested_at: int
    added_bytes: int


@dataclass
class Position:
    """A place in (timestamp, seq) order: events strictly after (or before) it."""

    timestamp: int
    seq: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One step of a group scan: the events kept, where the read stopped, and whether it
    reached the end of the range."""

    events: list[LogEvent]
    last: Position | None
    exhausted: bool


# One buffered batch for LogStore.ensure_and_append: (account, region, group, stream, events).
Batch = tuple[str, str, str, str, list[tuple[int, str]]]


class LogStore(Protocol):
    """What the Logs service needs of storage. Groups and streams are cached records the
    store keeps current; events are read from storage in (timestamp, seq) order."""

    groups_by_id: dict[int, LogGroupRecord]
    streams: dict[int, dict[str, LogStreamRecord]]  # group id -> stream name -> stream
    streams_by_id: dict[int, LogStreamRecord]

    def group(self, account: str, region: str, name: str) -> LogGroupRecord | None: ...

    def groups_of(self, account: str, region: str) -> list[LogGroupRecord]: ...

    async def create_group(self, group: LogGroupRecord) -> LogGroupRecord | None: ...

    async def save_group(self, group: LogGroupRecord) -> None: ...

    async def delete_group(self, group: LogGroupRecord) -> None: ...

    def stream(self, group: LogGroupRecord, name: str) -> LogStreamRecord | None: ...

    async def create_stream(self, group: LogGroupRecord, name: str, now: int) -> LogStreamRecord | None: ...

    async def delete_stream(self, group: LogGroupRecord, stream: LogStreamRecord) -> None: ...

    async def append(self, stream: LogStreamRecord, events: list[tuple[int, str]], now: int) -> bool: ...

    async def ensure_and_append(self, batches: list[Batch], now: int) -> None: ...

    async def read_stream(
        self, stream_id: int, start: int | None, end: int | None, bound: Position | None,
        forward: bool, limit: int,
    ) -> list[LogEvent]: ...

    async def scan_group(
        self, group_id: int, stream_ids: set[int] | None, start: int | None, end: int | None,
        after: Position | None, limit: int,
    ) -> ScanResult: ...

    async def expire(self, group: LogGroupRecord, cutoff: int, max_rows: int) -> int: ...
