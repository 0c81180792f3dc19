"""Typed interface of the SQS rules kept in storage so that every node applies them:
recently deleted queue names, last purges and FIFO ReceiveRequestAttemptId answers.

The deletion of a name and the purge mark are written by the store's ``delete_queue`` and
``purge`` in the same transaction as the change itself; this sub-store reads them, keeps
the attempt answers and expires what is no longer needed."""

from __future__ import annotations

from typing import Protocol


class SqsStateStore(Protocol):
    async def deleted_at(self, account: str, region: str, name: str) -> int | None:
        """When queue ``name`` of ``account`` in ``region`` was last deleted (epoch ms), if recorded."""
        ...

    async def receive_attempt(self, queue_id: int, attempt_id: str, now: int) -> bytes | None:
        """The stored answer of a receive attempt still valid at ``now``."""
        ...

    async def save_receive_attempt(self, queue_id: int, attempt_id: str, expires_at: int, answer: bytes) -> None:
        ...

    async def expire(self, now: int, deleted_before: int, purged_before: int) -> None:
        """Forget attempts expired at ``now`` and deletions and purges older than the cutoffs."""
        ...
