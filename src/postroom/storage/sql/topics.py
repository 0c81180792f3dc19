"""SNS storage on SQLite: topics, subscriptions, the delivery outbox and records.

A publish is one transaction: the copies for SQS queues, the outbox rows for HTTP/S
endpoints and the records for unreachable protocols commit together, so an acknowledged
publish is never lost.
"""

from __future__ import annotations

import orjson

from postroom.storage.base import (
    OutboxItem,
    QueueDelivery,
    SubscriptionRecord,
    TopicRecord,
)
from postroom.storage.errors import StaleRecord
from postroom.storage.sns_fifo import FifoPublication, Original, sequence_offset
from postroom.storage.sns_records import DIRECT_RECORD_PREFIX
from postroom.storage.sql import fifo
from postroom.storage.sql.refresh import Key, Refresher, in_list, reconcile
from postroom.storage.sql.rows import insert_messages
from postroom.storage.sql.txn import Committer, Connection, Txn
from postroom.storage.sql.upsert import upsert
from postroom.storage.topics import Audience, Record

_TOPIC_COLUMNS = "arn, account, region, name, attributes, tags, created_at"
_SUBSCRIPTION_COLUMNS = "arn, topic_arn, owner, protocol, endpoint, attributes, confirmed, token, created_at"
_SAVE_TOPIC = upsert("topics", tuple(_TOPIC_COLUMNS.split(", ")), 1)
_SAVE_SUBSCRIPTION = upsert("subscriptions", tuple(_SUBSCRIPTION_COLUMNS.split(", ")), 1)


def _dumps(value: dict[str, str]) -> str:
    return orjson.dumps(value).decode()


class SqlTopicStore:
    """Topics and subscriptions (cached in memory, written through), and deliveries."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.topics: dict[str, TopicRecord] = {}
        self.subscriptions: dict[str, SubscriptionRecord] = {}
        # Channels ``topics`` and ``subscriptions`` (keys: ARNs) from other nodes.
        self.refresher = Refresher(committer.notifier, ["topics", "subscriptions"], self._refresh)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        self.topics.clear()
        self.subscriptions.clear()
        self.refresher.forget()

    async def load(self) -> None:
        await self._refresh(None)

    async def _refresh(self, stale: set[Key] | None) -> list[Key]:
        """Read topics and subscriptions back from the database: those ``stale`` names (a
        topic with its subscriptions), or every one (None)."""
        topic_arns = None if stale is None else {key for channel, key in stale if channel == "topics"}
        sub_arns = None if stale is None else {key for channel, key in stale if channel == "subscriptions"}

        def op(conn: Connection, txn: Txn) -> tuple[list[tuple], list[tuple]]:
            if topic_arns is None or sub_arns is None:
                return (
                    conn.execute(f"SELECT {_TOPIC_COLUMNS} FROM topics").fetchall(),
                    conn.execute(f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions").fetchall(),
                )
            topics_in, topic_params = in_list(topic_arns)
            subs_in, sub_params = in_list(sub_arns)
            return (
                conn.execute(f"SELECT {_TOPIC_COLUMNS} FROM topics WHERE arn IN {topics_in}", topic_params).fetchall(),
                conn.execute(
                    f"SELECT {_SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE arn IN {subs_in}"
                    f" OR topic_arn IN {topics_in}", [*sub_params, *topic_params],
                ).fetchall(),
            )

        topic_rows, sub_rows = await self._committer.run(op, drain=True)
        topics = {
            arn: TopicRecord(arn, account, region, name, orjson.loads(attributes), orjson.loads(tags), created)
            for arn, account, region, name, attributes, tags, created in topic_rows
        }
        subscriptions = {
            arn: SubscriptionRecord(
                arn, topic, owner, protocol, endpoint, orjson.loads(attributes), bool(confirmed), token, created
            )
            for arn, topic, owner, protocol, endpoint, attributes, confirmed, token, created in sub_rows
        }
        if topic_arns is None or sub_arns is None:
            topic_keys: set[str] = set(self.topics) | set(topics)
            sub_keys: set[str] = set(self.subscriptions) | set(subscriptions)
        else:
            topic_keys = topic_arns
            sub_keys = sub_arns | set(subscriptions) | {
                s.arn for s in self.subscriptions.values() if s.topic_arn in topic_arns
            }
        # Applied in one step (no await): readers see the old entry or the new one.
        return [("topics", k) for k in reconcile(self.topics, topics, topic_keys)] + [
            ("subscriptions", k) for k in reconcile(self.subscriptions, subscriptions, sub_keys)
        ]

    async def find_topic(self, arn: str) -> TopicRecord | None:
        """A topic missing from the cache, looked up in the database (another node's new one)."""
        await self._refresh({("topics", arn)})
        return self.topics.get(arn)

    async def find_subscription(self, arn: str) -> SubscriptionRecord | None:
        await self._refresh({("subscriptions", arn)})
        return self.subscriptions.get(arn)

    async def save_topic(self, topic: TopicRecord) -> None:
        row = (topic.arn, topic.account, topic.region, topic.name, _dumps(topic.attributes),
               _dumps(topic.tags), topic.created_at)

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(_SAVE_TOPIC, row)
            txn.notify("topics", topic.arn)

        await self._committer.run(op)
        self.topics[topic.arn] = topic

    async def delete_topic(self, arn: str) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM topics WHERE arn=?", (arn,))
            conn.execute("DELETE FROM sns_fifo_dedup WHERE topic_arn=?", (arn,))
            conn.execute("DELETE FROM sns_fifo_sequence WHERE topic_arn=?", (arn,))
            conn.execute("DELETE FROM subscriptions WHERE topic_arn=?", (arn,))
            txn.notify("topics", arn)  # its subscriptions go with it

        await self._committer.run(op, drain=True)
        self.topics.pop(arn, None)
        for sub_arn in [s.arn for s in self.subscriptions.values() if s.topic_arn == arn]:
            del self.subscriptions[sub_arn]

    async def save_subscription(self, sub: SubscriptionRecord, outbox: list[OutboxItem] | None = None) -> None:
        row = (sub.arn, sub.topic_arn, sub.owner, sub.protocol, sub.endpoint, _dumps(sub.attributes),
               int(sub.confirmed), sub.token, sub.created_at)

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(_SAVE_SUBSCRIPTION, row)
            _insert_outbox(conn, txn, outbox or [])
            txn.notify("subscriptions", sub.arn)

        await self._committer.run(op)
        self.subscriptions[sub.arn] = sub

    async def delete_subscription(self, arn: str, outbox: list[OutboxItem] | None = None) -> None:
        """Delete a subscription and its pending deliveries; ``outbox`` items (its
        UnsubscribeConfirmation) are queued in the same commit."""

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM subscriptions WHERE arn=?", (arn,))
            conn.execute("DELETE FROM sns_outbox WHERE subscription_arn=?", (arn,))
            _insert_outbox(conn, txn, outbox or [])
            txn.notify("subscriptions", arn)

        await self._committer.run(op, drain=True)
        self.subscriptions.pop(arn, None)

    async def publish(
        self, queue_deliveries: list[QueueDelivery], outbox: list[OutboxItem], records: list[Record], now: int,
        *, audience: Audience | None = None,
    ) -> None:
        """Commit every copy of one publish (or batch) in one transaction."""

        def op(conn: Connection, txn: Txn) -> None:
            _check_audience(conn, audience)
            deliver_to_queues(conn, txn, queue_deliveries, now)
            _insert_outbox(conn, txn, outbox)
            _insert_records(conn, records)

        await self._committer.run(op)

    async def publish_fifo(
        self, topic_arn: str, publications: list[FifoPublication], now: int, window_ms: int,
        *, audience: Audience | None = None,
    ) -> list[Original | None]:
        """Commit the copies of each publication whose deduplication id was not seen in the
        window, in one transaction; for a repeat, return the original's ids instead.

        Sequence numbers: each new publication's must be above the topic's last committed
        one (``sns_fifo_sequence``), which it then becomes, so numbers increase per topic in
        commit order whichever node publishes. Otherwise nothing is written and StaleRecord
        carries the stored last number (``stored``): number above it and publish again."""

        def op(conn: Connection, txn: Txn) -> list[Original | None]:
            _check_audience(conn, audience)
            conn.execute("DELETE FROM sns_fifo_dedup WHERE expires_at<=?", (now,))
            row = conn.execute("SELECT last_number FROM sns_fifo_sequence WHERE topic_arn=?", (topic_arn,)).fetchone()
            stored = None if row is None else row[0]
            last = stored or 0
            out: list[Original | None] = []
            for pub in publications:
                row = conn.execute(
                    "SELECT message_id, sequence_number FROM sns_fifo_dedup WHERE topic_arn=? AND dedup_id=?",
                    (topic_arn, pub.dedup_id),
                ).fetchone()
                if row is not None:
                    out.append(Original(row[0], row[1]))
                    continue
                number = sequence_offset(pub.sequence_number)
                if number <= last:
                    raise StaleRecord("sns_sequence", topic_arn, stored=last)
                last = number
                conn.execute(
                    "INSERT INTO sns_fifo_dedup (topic_arn, dedup_id, message_id, sequence_number, expires_at)"
                    " VALUES (?,?,?,?,?)",
                    (topic_arn, pub.dedup_id, pub.message_id, pub.sequence_number, now + window_ms),
                )
                deliver_to_queues(conn, txn, pub.queue_deliveries, now)
                _insert_outbox(conn, txn, pub.outbox)
                _insert_records(conn, pub.records)
                out.append(None)
            if stored is None and last:
                conn.execute("INSERT INTO sns_fifo_sequence (topic_arn, last_number) VALUES (?,?)", (topic_arn, last))
            elif last != stored:
                conn.execute("UPDATE sns_fifo_sequence SET last_number=? WHERE topic_arn=?", (last, topic_arn))
            return out

        return await self._committer.run(op)

    async def due_outbox(self, now: int, limit: int) -> list[OutboxItem]:
        def op(conn: Connection, txn: Txn) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT id, subscription_arn, kind, payload, attempts, due_at, created_at FROM sns_outbox"
                " WHERE due_at<=? ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
            return [
                OutboxItem(sub, kind, payload, due, id=row_id, attempts=attempts, created_at=created)
                for row_id, sub, kind, payload, attempts, due, created in rows
            ]

        return await self._committer.run(op, drain=True)

    async def next_outbox_due(self) -> int | None:
        return await self._committer.run(
            lambda conn, txn: conn.execute("SELECT MIN(due_at) FROM sns_outbox").fetchone()[0], drain=True,
        )

    async def finish_outbox(
        self, item_id: int, *, retry_at: int | None = None,
        dead_letter: list[QueueDelivery] | None = None, now: int = 0,
    ) -> None:
        """Settle one outbox row: reschedule it, or remove it (delivered or given up, in
        which case ``dead_letter`` copies go to the subscription's DLQ in the same commit)."""

        def op(conn: Connection, txn: Txn) -> None:
            if retry_at is not None:
                conn.execute("UPDATE sns_outbox SET attempts=attempts+1, due_at=? WHERE id=?", (retry_at, item_id))
                return
            conn.execute("DELETE FROM sns_outbox WHERE id=?", (item_id,))
            if dead_letter:
                deliver_to_queues(conn, txn, dead_letter, now)

        await self._committer.run(op, drain=True)

    async def records(self, limit: int = 1000, account: str | None = None) -> list[dict[str, object]]:
        """The newest recorded deliveries, of one account's subscriptions and direct
        publishes, or (None) of every account."""
        pattern = f"arn:%:sns:%:{account}:%" if account is not None else "%"
        direct = DIRECT_RECORD_PREFIX + account if account is not None else None

        def op(conn: Connection, txn: Txn) -> list[dict[str, object]]:
            rows = conn.execute(
                "SELECT id, subscription_arn, protocol, endpoint, payload, created_at FROM sns_records"
                " WHERE subscription_arn LIKE ? OR subscription_arn = ? ORDER BY id DESC LIMIT ?",
                (pattern, direct, limit),
            ).fetchall()
            return [
                {"id": i, "subscriptionArn": "" if s.startswith(DIRECT_RECORD_PREFIX) else s, "protocol": p, "endpoint": e, "message": orjson.loads(m), "timestamp": t}
                for i, s, p, e, m, t in rows
            ]

        return await self._committer.run(op, drain=True)


def _check_audience(conn: Connection, audience: Audience | None) -> None:
    """StaleRecord if the topic's confirmed subscriptions in the store are not the ones the
    publish fanned out to (another node subscribed, confirmed, unsubscribed or deleted the
    topic, and this node's cache has not caught up): the caller reads them again."""
    if audience is None:
        return
    stored = conn.execute(
        "SELECT arn FROM subscriptions WHERE topic_arn=? AND confirmed=1", (audience.topic_arn,)
    ).fetchall()
    if {arn for (arn,) in stored} != audience.subscription_arns:
        raise StaleRecord("subscriptions", audience.topic_arn)


def _insert_records(conn: Connection, records: list[Record]) -> None:
    if records:
        conn.executemany(
            "INSERT INTO sns_records (subscription_arn, protocol, endpoint, payload, created_at)"
            " VALUES (?,?,?,?,?)",
            records,
        )


def _insert_outbox(conn: Connection, txn: Txn, items: list[OutboxItem]) -> None:
    if items:
        txn.notify("outbox", "")  # wakes the outbox worker, on whichever node runs it
        conn.executemany(
            "INSERT INTO sns_outbox (subscription_arn, kind, payload, attempts, due_at, created_at)"
            " VALUES (?,?,?,?,?,?)",
            [(i.subscription_arn, i.kind, i.payload, i.attempts, i.due_at, i.created_at) for i in items],
        )


def deliver_to_queues(conn: Connection, txn: Txn, deliveries: list[QueueDelivery], now: int) -> None:
    """Insert SNS copies into SQS queues (FIFO queues deduplicate as for SendMessage)."""
    standard: dict[int, list] = {}
    for d in deliveries:
        if d.fifo:
            fifo.send(conn, txn, d.queue_id, [d.message], now, d.deduplication_window_ms, d.deduplication_by_group)
        else:
            standard.setdefault(d.queue_id, []).append(d.message)
    for queue_id, messages in standard.items():
        insert_messages(conn, txn, queue_id, messages)
