"""Records and interface of the asynchronous invocation queue (Invoke with
InvocationType=Event, SNS and destination invocations): durable events, each owned by one
worker at a time through a lease, retried until they succeed or their retries or age run out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class AsyncEvent:
    request_id: str
    account: str
    region: str
    function: str  # unqualified function ARN
    qualifier: str | None  # version or alias the caller named
    payload: bytes
    created_at: int  # epoch ms: the event's age counts from here
    due_at: int
    attempts: int = 0  # invocations of the function made so far
    last_result: bytes | None = None  # JSON: the last attempt's response and error, for records
    id: int = 0


class InvocationStore(Protocol):
    async def enqueue(self, events: list[AsyncEvent]) -> None:
        """Store new events (the 202 is sent after this returns)."""
        ...

    async def claim(self, now: int, limit: int, lease_ms: int) -> list[AsyncEvent]:
        """Take up to ``limit`` due events whose lease is free, leasing them until now+lease."""
        ...

    async def reschedule(self, event: AsyncEvent) -> None:
        """Save attempts, last result and the next due time; release the lease."""
        ...

    async def finish(self, event_id: int) -> None:
        """Remove a settled event."""
        ...

    async def release(self, event_ids: list[int]) -> None:
        """Free these events' leases (their attempts were stopped): due again at once."""
        ...

    async def release_leases(self) -> None:
        """Free every lease (a single-writer backend does this at start: they are a crashed run's)."""
        ...

    async def next_due(self) -> int | None: ...
