"""Message-row SQL shared by the standard-queue, FIFO and SNS paths."""

from __future__ import annotations

from postroom.storage.base import NewMessage
from postroom.storage.sql.txn import Connection, Txn

INSERT_MESSAGE = (
    "INSERT INTO messages (queue_id, message_id, body, md5_body, attributes, md5_attributes,"
    " system_attributes, md5_system_attributes, sender_id, sent_at, visible_at, group_id,"
    " dedup_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


# A standard send may reach the store just after another node deleted the queue (its cache
# still held it): the queue's messages are gone with it, and so is this one, instead of a
# row no sweep would ever find.
_INSERT_IF_QUEUE = (
    "INSERT INTO messages (queue_id, message_id, body, md5_body, attributes, md5_attributes,"
    " system_attributes, md5_system_attributes, sender_id, sent_at, visible_at, group_id,"
    " dedup_id) SELECT ?,?,?,?,?,?,?,?,?,?,?,?,? WHERE EXISTS (SELECT 1 FROM queues WHERE id=?)"
)


def message_row(queue_id: int, m: NewMessage) -> tuple:
    return (queue_id, m.message_id, m.body, m.md5_body, m.attributes, m.md5_attributes,
            m.system_attributes, m.md5_system_attributes, m.sender_id, m.sent_at, m.visible_at,
            m.group_id, m.dedup_id)


def insert_messages(conn: Connection, txn: Txn, queue_id: int, messages: list[NewMessage]) -> None:
    """Insert standard-queue messages."""
    conn.executemany(_INSERT_IF_QUEUE, [(*message_row(queue_id, m), queue_id) for m in messages])
    txn.count(queue_id, len(messages))
    txn.notify("queue", queue_id)  # wakes long polls here and on the other nodes


def next_visible_at(conn: Connection, queue_id: int, now: int) -> int | None:
    """When the queue's next hidden message becomes visible (None if none is hidden)."""
    return conn.execute(
        "SELECT MIN(visible_at) FROM messages WHERE queue_id=? AND visible_at>?", (queue_id, now)
    ).fetchone()[0]
