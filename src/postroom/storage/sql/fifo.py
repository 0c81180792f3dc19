"""FIFO queue operations in SQL, run on the storage thread inside a transaction.

Release rule (AWS's, as its recorded answers show): a group is available when its oldest
message is visible; available groups are served in the order their oldest message became
visible (``visible_at``: when it was sent, or when its visibility ended or was changed),
each group giving its messages from the oldest on until one is not visible. So a group
whose messages come back after a timeout goes behind groups waiting since earlier, and a
group whose head visibility was ended is served again even while later messages of it are
in flight. ``fifo_groups`` keeps each group's oldest message, so choosing groups reads one
row per group.
"""

from __future__ import annotations

import random

from postroom.storage.base import NewMessage, ReceiveResult, Redrive, StoredMessage
from postroom.storage.sql.rows import INSERT_MESSAGE, message_row, next_visible_at
from postroom.storage.sql.txn import Connection, Txn
from postroom.storage.sql.upsert import upsert

MAX_IN_FLIGHT_PER_GROUP = 10  # rows read beyond a receive's worth (expired or moved ones are skipped)
_MESSAGE_COLUMNS = (
    "seq, message_id, body, md5_body, attributes, md5_attributes, system_attributes,"
    " md5_system_attributes, sender_id, sent_at, receive_count, first_receive_at, group_id,"
    " dedup_id, dead_letter_source, visible_at"
)
_SAVE_DEDUP = upsert(
    "fifo_dedup", ("queue_id", "scope", "dedup_id", "message_id", "sequence_number", "expires_at"), 3
)
_JOIN_GROUP = (
    "INSERT INTO fifo_groups (queue_id, group_id, head_seq) VALUES (?,?,?)"
    " ON CONFLICT (queue_id, group_id) DO UPDATE SET head_seq=CASE WHEN excluded.head_seq < fifo_groups.head_seq"
    " THEN excluded.head_seq ELSE fifo_groups.head_seq END"
)


def send(
    conn: Connection, txn: Txn, queue_id: int, messages: list[NewMessage],
    now: int, window_ms: int, scope_by_group: bool,
) -> list[tuple[str, int, bool]]:
    """Store FIFO messages, dropping duplicates inside the deduplication window.

    Returns, per message, (message id, sequence number, was a duplicate); a duplicate
    reports the original message's id and sequence number.
    """
    out: list[tuple[str, int, bool]] = []
    for m in messages:
        scope = m.group_id or "" if scope_by_group else ""
        row = conn.execute(
            "SELECT message_id, sequence_number, expires_at FROM fifo_dedup"
            " WHERE queue_id=? AND scope=? AND dedup_id=?",
            (queue_id, scope, m.dedup_id),
        ).fetchone()
        if row is not None and row[2] > now:
            out.append((row[0], row[1], True))
            continue
        seq = conn.execute(INSERT_MESSAGE + " RETURNING seq", message_row(queue_id, m)).fetchone()[0]
        join_group(conn, queue_id, m.group_id, seq)
        conn.execute(_SAVE_DEDUP, (queue_id, scope, m.dedup_id, m.message_id, seq, now + window_ms))
        txn.count(queue_id, 1)
        txn.notify("queue", queue_id)  # wakes long polls here and on the other nodes
        out.append((m.message_id, seq, False))
    return out


def receive(
    conn: Connection, txn: Txn, queue_id: int, now: int, max_messages: int,
    visibility_ms: int, retention_cutoff: int, redrive: Redrive | None,
) -> ReceiveResult:
    result = ReceiveResult()
    hidden_until = now + visibility_ms
    groups = conn.execute(
        "SELECT g.group_id FROM fifo_groups g JOIN messages m ON m.seq = g.head_seq"
        " WHERE g.queue_id=? AND m.visible_at <= ? ORDER BY m.visible_at, m.seq",
        (queue_id, now),
    ).fetchall()
    for (group_id,) in groups:
        if len(result.messages) >= max_messages:
            break
        _take_from_group(conn, txn, queue_id, group_id, now, hidden_until, max_messages,
                         retention_cutoff, redrive, result)
    if not result.messages:
        result.next_visible_at = next_visible_at(conn, queue_id, now)
    return result


def _take_from_group(
    conn: Connection, txn: Txn, queue_id: int, group_id: str, now: int,
    hidden_until: int, max_messages: int, retention_cutoff: int, redrive: Redrive | None,
    result: ReceiveResult,
) -> None:
    rows = conn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE queue_id=? AND group_id=? ORDER BY seq LIMIT ?",
        (queue_id, group_id, MAX_IN_FLIGHT_PER_GROUP + max_messages),
    ).fetchall()
    changed_head = False
    for row in rows:
        if len(result.messages) >= max_messages or row[15] > now:
            break  # full, or the group's next message is not visible yet (order holds)
        seq = row[0]
        if row[9] < retention_cutoff:
            conn.execute("DELETE FROM messages WHERE seq=?", (seq,))
            txn.count(queue_id, -1)
            changed_head = True
            continue
        if redrive is not None and row[10] >= redrive.max_receive_count:
            conn.execute(
                "UPDATE messages SET queue_id=?, visible_at=?, dead_letter_source=?, receipt=NULL WHERE seq=?",
                (redrive.dead_letter_queue_id, now, redrive.source_arn, seq),
            )
            join_group(conn, redrive.dead_letter_queue_id, group_id, seq)
            txn.count(queue_id, -1)
            txn.count(redrive.dead_letter_queue_id, 1)
            txn.notify("queue", redrive.dead_letter_queue_id)
            result.moved += 1
            changed_head = True
            continue
        receipt = random.getrandbits(62)
        first = row[11] if row[11] is not None else now
        conn.execute(
            "UPDATE messages SET visible_at=?, receive_count=receive_count+1,"
            " first_receive_at=?, receipt=? WHERE seq=?",
            (hidden_until, first, receipt, seq),
        )
        result.messages.append(StoredMessage(
            seq, row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
            row[10] + 1, first, receipt, row[12], row[13], row[14],
        ))
    if changed_head:
        fix_heads(conn, queue_id, [group_id])


def join_group(conn: Connection, queue_id: int, group_id: str | None, seq: int) -> None:
    """Record that message ``seq`` belongs to ``group_id`` (its head if it is the oldest)."""
    conn.execute(_JOIN_GROUP, (queue_id, group_id, seq))


def fix_heads(conn: Connection, queue_id: int, group_ids: list[str]) -> None:
    """Point each group at its oldest remaining message, or drop it when empty."""
    for group_id in set(group_ids):
        row = conn.execute(
            "SELECT MIN(seq) FROM messages WHERE queue_id=? AND group_id=?", (queue_id, group_id)
        ).fetchone()
        if row[0] is None:
            conn.execute("DELETE FROM fifo_groups WHERE queue_id=? AND group_id=?", (queue_id, group_id))
        else:
            conn.execute(
                "UPDATE fifo_groups SET head_seq=? WHERE queue_id=? AND group_id=?", (row[0], queue_id, group_id)
            )


def rebuild_groups(conn: Connection, queue_id: int) -> None:
    """Recompute a queue's groups from its messages (after bulk deletes)."""
    conn.execute("DELETE FROM fifo_groups WHERE queue_id=?", (queue_id,))
    conn.execute(
        "INSERT INTO fifo_groups (queue_id, group_id, head_seq) SELECT queue_id, group_id, MIN(seq)"
        " FROM messages WHERE queue_id=? AND group_id IS NOT NULL GROUP BY queue_id, group_id",
        (queue_id,),
    )
