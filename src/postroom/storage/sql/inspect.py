"""SqlInspectStore: gauges and peeks for operators, as index range reads."""

from __future__ import annotations

from postroom.storage.inspect import PeekedMessage, QueueGauges
from postroom.storage.sql.txn import Committer, Connection, Txn

_EMPTY = QueueGauges(0, 0, 0, None)


class SqlInspectStore:
    def __init__(self, committer: Committer) -> None:
        self._committer = committer

    async def gauges(self, queue_ids: list[int], now: int) -> dict[int, QueueGauges]:
        totals = self._committer.totals

        def op(conn: Connection, txn: Txn) -> dict[int, QueueGauges]:
            out: dict[int, QueueGauges] = {}
            for queue_id in queue_ids:
                total = totals.get(queue_id, 0)
                if total <= 0:
                    out[queue_id] = _EMPTY  # empty queues cost no query
                    continue
                # Both reads are index ranges: the hidden part (visible_at > now) and the
                # first entry of (queue_id, sent_at).
                hidden, delayed = conn.execute(
                    "SELECT COUNT(*), COUNT(*) - COUNT(first_receive_at) FROM messages"
                    " WHERE queue_id=? AND visible_at>?",
                    (queue_id, now),
                ).fetchone()
                oldest = conn.execute(
                    "SELECT MIN(sent_at) FROM messages WHERE queue_id=?", (queue_id,)
                ).fetchone()[0]
                out[queue_id] = QueueGauges(max(total - hidden, 0), hidden - delayed, delayed, oldest)
            return out

        return await self._committer.run(op, drain=True)  # read-only: works on a full disk

    async def peek(self, queue_id: int, limit: int) -> list[PeekedMessage]:
        def op(conn: Connection, txn: Txn) -> list[PeekedMessage]:
            rows = conn.execute(
                "SELECT message_id, body, attributes, sender_id, sent_at, visible_at, receive_count,"
                " first_receive_at, group_id, dedup_id, dead_letter_source FROM messages"
                " WHERE queue_id=? ORDER BY sent_at, seq LIMIT ?",
                (queue_id, limit),
            ).fetchall()
            return [PeekedMessage(*row) for row in rows]

        return await self._committer.run(op, drain=True)  # read-only: works on a full disk
