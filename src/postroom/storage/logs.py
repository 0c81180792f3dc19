"""Typed records of the CloudWatch Logs storage area (log groups, streams, events)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
