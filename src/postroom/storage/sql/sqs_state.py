"""SQS state shared by every node (see storage/sqs_state.py), in SQL."""

from __future__ import annotations

from postroom.storage.sql.txn import Committer, Connection, Txn


class SqlSqsStateStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def deleted_at(self, account: str, region: str, name: str) -> int | None:
        row = await self._committer.run(lambda conn, txn: conn.execute(
            "SELECT deleted_at FROM sqs_deleted_queues WHERE account=? AND region=? AND name=?",
            (account, region, name),
        ).fetchone(), drain=True)
        return None if row is None else int(row[0])

    async def receive_attempt(self, queue_id: int, attempt_id: str, now: int) -> bytes | None:
        row = await self._committer.run(lambda conn, txn: conn.execute(
            "SELECT answer FROM sqs_receive_attempts WHERE queue_id=? AND attempt_id=? AND expires_at>?",
            (queue_id, attempt_id, now),
        ).fetchone(), drain=True)
        return None if row is None else bytes(row[0])

    async def save_receive_attempt(self, queue_id: int, attempt_id: str, expires_at: int, answer: bytes) -> None:
        # drain: the receive it answers already ran, and a retry must find the same answer.
        await self._committer.run(lambda conn, txn: conn.execute(
            "INSERT INTO sqs_receive_attempts (queue_id, attempt_id, expires_at, answer) VALUES (?,?,?,?)"
            " ON CONFLICT (queue_id, attempt_id) DO UPDATE SET expires_at=excluded.expires_at,"
            " answer=excluded.answer",
            (queue_id, attempt_id, expires_at, answer),
        ), drain=True)

    async def expire(self, now: int, deleted_before: int, purged_before: int) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM sqs_receive_attempts WHERE expires_at<=?", (now,))
            conn.execute("DELETE FROM sqs_deleted_queues WHERE deleted_at<?", (deleted_before,))
            conn.execute("DELETE FROM sqs_purges WHERE purged_at<?", (purged_before,))

        await self._committer.run(op, drain=True)


def record_deletion(conn: Connection, queue_id: int, now: int) -> None:
    """Remember a queue's name as deleted at ``now`` and drop its per-queue state (called
    inside the delete's transaction, before the queue's row goes)."""
    conn.execute(
        "INSERT INTO sqs_deleted_queues (account, region, name, deleted_at)"
        " SELECT account, region, name, ? FROM queues WHERE id=?"
        " ON CONFLICT (account, region, name) DO UPDATE SET deleted_at=excluded.deleted_at",
        (now, queue_id),
    )
    conn.execute("DELETE FROM sqs_purges WHERE queue_id=?", (queue_id,))
    conn.execute("DELETE FROM sqs_receive_attempts WHERE queue_id=?", (queue_id,))


def claim_purge(conn: Connection, queue_id: int, now: int, interval_ms: int) -> bool:
    """Record a purge at ``now`` unless the queue was purged less than ``interval_ms`` ago
    (AWS: one purge per 60 s); True if this purge may go ahead. Atomic with the purge."""
    cursor = conn.execute(
        "INSERT INTO sqs_purges (queue_id, purged_at) VALUES (?,?) ON CONFLICT (queue_id)"
        " DO UPDATE SET purged_at=excluded.purged_at WHERE sqs_purges.purged_at<=?",
        (queue_id, now, now - interval_ms),
    )
    return cursor.rowcount > 0
