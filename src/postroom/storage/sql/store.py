"""SqlStore: the Storage interface in SQL, every operation run by a backend's committer."""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets

import orjson

from postroom.metrics.histogram import Histogram
from postroom.storage.base import (
    MoveTask,
    NewMessage,
    QueueCounts,
    QueueRecord,
    ReceiveResult,
    Redrive,
    StoredMessage,
    VisibilityChange,
)
from postroom.storage.notifier import Notifier
from postroom.storage.sql import fifo
from postroom.storage.sql.code import SqlCodeStore
from postroom.storage.sql.functions import SqlFunctionStore
from postroom.storage.sql.iam import SqlIamStore
from postroom.storage.sql.inspect import SqlInspectStore
from postroom.storage.sql.invocations import SqlInvocationStore
from postroom.storage.sql.leases import SqlLeaseStore
from postroom.storage.sql.logs import SqlLogStore
from postroom.storage.sql.mappings import SqlMappingStore
from postroom.storage.sql.refresh import Key, Refresher, in_list, refreshed
from postroom.storage.sql.rows import insert_messages, next_visible_at
from postroom.storage.sql.running import SqlRunningStore
from postroom.storage.sql.sns_mobile import SqlSnsMobileStore
from postroom.storage.sql.sqs_state import SqlSqsStateStore, claim_purge, record_deletion
from postroom.storage.sql.topics import SqlTopicStore
from postroom.storage.sql.txn import Committer, Connection, Txn
from postroom.storage.sql.upsert import upsert

_SELECT_VISIBLE = (
    "SELECT seq, message_id, body, md5_body, attributes, md5_attributes, system_attributes,"
    " md5_system_attributes, sender_id, sent_at, receive_count, first_receive_at, group_id,"
    " dedup_id, dead_letter_source FROM messages"
    " WHERE queue_id=? AND visible_at<=? ORDER BY visible_at LIMIT ?"
)
_MARK_RECEIVED = (
    "UPDATE messages SET visible_at=?, receive_count=receive_count+1,"
    " first_receive_at=COALESCE(first_receive_at, ?), receipt=? WHERE seq=?"
)
_MOVE = "UPDATE messages SET queue_id=?, visible_at=?, dead_letter_source=?, receipt=NULL WHERE seq=?"
_TASK_COLUMNS = (
    "handle, source_arn, destination_arn, rate, status, moved, to_move, failure_reason, started_at"
)
_QUEUE_COLUMNS = "id, account, region, name, attributes, tags, created_at, modified_at"


def _queue_from_row(row: tuple) -> QueueRecord:
    return QueueRecord(
        id=row[0], account=row[1], region=row[2], name=row[3],
        attributes=orjson.loads(row[4]), tags=orjson.loads(row[5]),
        created_at=row[6], modified_at=row[7],
    )


class SqlStore:
    """The Storage interface in SQL, over a backend's committer (SQLite or PostgreSQL)."""

    # Whether this process is the store's only user (a backend that proves it says so).
    exclusive = False

    def __init__(self, committer: Committer, description: str) -> None:
        self.description = description
        # This server process among the nodes sharing the store (lease owner, notice sender).
        self.node_id = secrets.token_hex(8)
        self._committer = committer
        self.notifier: Notifier = committer.notifier
        self._by_name: dict[tuple[str, str, str], QueueRecord] = {}  # (account, region, name)
        self._by_id: dict[int, QueueRecord] = {}
        self.topics = SqlTopicStore(committer)
        self.invocations = SqlInvocationStore(committer)
        self.functions = SqlFunctionStore(committer)
        self.code = SqlCodeStore(committer)  # function and layer zips
        self.sns_mobile = SqlSnsMobileStore(committer)
        self.logs = SqlLogStore(committer)
        self.iam = SqlIamStore(committer)
        self.inspect = SqlInspectStore(committer)
        self.mappings = SqlMappingStore(committer)
        self.leases = SqlLeaseStore(committer)
        self.running = SqlRunningStore(committer)  # invocations under reserved concurrency
        self.sqs_state = SqlSqsStateStore(committer)
        # Other nodes' queue changes (channel ``queues``) refresh the queue cache.
        self.queue_refresher = Refresher(self.notifier, ["queues"], self._refresh_queues)
        self._caches: list[Refresher] | None = None  # every refresher but the log groups' (behind())

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        await self._committer.start()
        committer = self._committer

        def load(conn: Connection, txn: Txn) -> list[QueueRecord]:
            committer.recount(conn, txn)
            return [_queue_from_row(r) for r in conn.execute(f"SELECT {_QUEUE_COLUMNS} FROM queues")]

        for queue in await committer.run(load, drain=True):
            self._remember(queue)
        await self.topics.load()
        await self.functions.load()
        await self.sns_mobile.load()
        await self.logs.load()
        await self.iam.load()
        await self.mappings.load()

    def _refreshers(self) -> list[Refresher]:
        parts = [getattr(part, "refresher", None) for part in vars(self).values()]
        return [self.queue_refresher, *(r for r in parts if isinstance(r, Refresher))]

    async def close(self) -> None:
        for refresher in self._refreshers():
            refresher.close()
        await self._committer.close()

    def behind(self) -> list[Refresher]:
        """The caches that do not yet reflect every notice other nodes sent this node (the
        log groups' excepted: their notices come with every batch of log events, and AWS
        documents log events to appear after a delay too)."""
        if self._caches is None:
            self._caches = [r for r in self._refreshers() if "logs" not in r.channels]
        return [r for r in self._caches if not r.current]

    async def caught_up(self, within_s: float, *, strict: bool = False) -> None:
        """Wait, at most ``within_s``, until this node's caches reflect every change other
        nodes had announced when the call was made and this node had heard of. ``strict``:
        every change other nodes had committed, heard of or not (a read barrier through the
        database: a round trip; what a change answered on another node before this call
        needs). Past the bound the caller goes on with the caches as they are."""
        if not strict and not self.behind():
            return
        # Real time: a bound on waiting for the database (refreshes failing while it is
        # away), not engine time.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_s):
                if strict:
                    await self._committer.barrier()
                behind = self.behind()
                if behind:
                    await asyncio.gather(*(r.caught_up() for r in behind))

    async def refreshed(self) -> None:
        """Wait until every cache refresh that other nodes' notices started is applied."""
        for refresher in self._refreshers():
            await refresher.idle()

    async def reset(self) -> None:
        """Delete every row of every table (the schema stays) and every cached copy: each
        sub-store (``topics``, ``logs``, ...) drops its caches in its ``forget()``."""
        committer = self._committer

        def op(conn: Connection, txn: Txn) -> None:
            tables = committer.table_names(conn)
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            committer.recount(conn, txn)

        await committer.run(op)
        self._by_name.clear()
        self._by_id.clear()
        self.queue_refresher.forget()
        for part in vars(self).values():
            forget = getattr(part, "forget", None)
            if callable(forget):
                forget()

    @property
    def commit_histograms(self) -> tuple[Histogram, Histogram]:
        """(seconds per transaction, operations per transaction) since start."""
        return self._committer.commit_seconds, self._committer.group_size

    @property
    def stats(self) -> dict[str, int]:
        return {"transactions": self._committer.batches, "operations": self._committer.operations}

    # -- queues --------------------------------------------------------------------------

    def _remember(self, queue: QueueRecord) -> None:
        self._by_name[(queue.account, queue.region, queue.name)] = queue
        self._by_id[queue.id] = queue

    def queue_by_name(self, account: str, region: str, name: str) -> QueueRecord | None:
        return self._by_name.get((account, region, name))

    def queue_by_id(self, queue_id: int) -> QueueRecord | None:
        return self._by_id.get(queue_id)

    async def find_queue(self, account: str, region: str, name: str) -> QueueRecord | None:
        """The queue as the database has it now, and the cache made to agree: another node
        may have created (or deleted) it a moment ago, before its notice arrived here."""
        key = (account, region, name)
        cached = self._by_name.get(key)
        cached_id = cached.id if cached is not None else -1
        rows = await self._committer.run(lambda conn, txn: conn.execute(
            f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE (account=? AND region=? AND name=?) OR id=?",
            (*key, cached_id),
        ).fetchall(), drain=True)
        fresh = {row[0]: _queue_from_row(row) for row in rows}
        changed = self._apply_queues(fresh, set(fresh) | ({cached_id} if cached is not None else set()))
        if changed:
            self.notifier.deliver([(refreshed("queues"), queue_id) for _, queue_id in changed])
        return self._by_name.get(key)

    async def _refresh_queues(self, stale: set[Key] | None) -> list[Key]:
        """Read the queues other nodes changed (None: all of them) back into the cache."""
        ids = None if stale is None else [int(key) for _, key in stale]

        def op(conn: Connection, txn: Txn) -> list[tuple]:
            if ids is None:
                return conn.execute(f"SELECT {_QUEUE_COLUMNS} FROM queues").fetchall()
            marks, params = in_list(ids)
            return conn.execute(f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE id IN {marks}", params).fetchall()

        fresh = {row[0]: _queue_from_row(row) for row in await self._committer.run(op, drain=True)}
        return self._apply_queues(fresh, set(self._by_id) | set(fresh) if ids is None else set(ids))

    def _apply_queues(self, fresh: dict[int, QueueRecord], candidates: set[int]) -> list[Key]:
        """Make the cache agree with ``fresh`` (rows read) on ``candidates``, in one step (no
        await): readers see the old entry or the new one. Returns what changed."""
        changed: list[Key] = []
        for queue_id in candidates:
            old, new = self._by_id.get(queue_id), fresh.get(queue_id)
            if old == new:
                continue
            if old is not None:
                del self._by_id[queue_id]
                name_key = (old.account, old.region, old.name)
                if self._by_name.get(name_key) is old:
                    del self._by_name[name_key]
            if new is not None:
                self._remember(new)
            changed.append(("queues", str(queue_id)))
        return changed

    def list_queues(self, account: str, region: str) -> list[QueueRecord]:
        return sorted(
            (q for q in self._by_id.values() if q.account == account and q.region == region), key=lambda q: q.name,
        )

    def all_queues(self) -> list[QueueRecord]:
        return list(self._by_id.values())

    async def create_queue(
        self, account: str, region: str, name: str, attributes: dict[str, str],
        tags: dict[str, str], now: int,
    ) -> QueueRecord:
        def op(conn: Connection, txn: Txn) -> QueueRecord:
            conn.execute(
                "INSERT INTO queues (account, region, name, attributes, tags, created_at, modified_at)"
                " VALUES (?,?,?,?,?,?,?) ON CONFLICT (account, region, name) DO NOTHING",
                (account, region, name, orjson.dumps(attributes).decode(), orjson.dumps(tags).decode(), now // 1000, now // 1000),
            )
            row = conn.execute(
                f"SELECT {_QUEUE_COLUMNS} FROM queues WHERE account=? AND region=? AND name=?", (account, region, name)
            ).fetchone()
            txn.notify("queues", row[0])
            return _queue_from_row(row)

        queue = await self._committer.run(op)
        existing = self._by_id.get(queue.id)
        if existing is not None:
            return existing
        self._remember(queue)
        return queue

    async def update_queue(
        self, queue_id: int, *, attributes: dict[str, str] | None = None,
        tags: dict[str, str] | None = None, now: int,
    ) -> QueueRecord:
        current = self._by_id[queue_id]
        new_attributes = current.attributes if attributes is None else attributes
        new_tags = current.tags if tags is None else tags
        modified = now // 1000 if attributes is not None else current.modified_at

        def op(conn: Connection, txn: Txn) -> None:
            conn.execute(
                "UPDATE queues SET attributes=?, tags=?, modified_at=? WHERE id=?",
                (orjson.dumps(new_attributes).decode(), orjson.dumps(new_tags).decode(), modified, queue_id),
            )
            txn.notify("queues", queue_id)

        await self._committer.run(op)
        # The entry cached now: a refresh may have replaced ``current`` meanwhile.
        current = self._by_id.get(queue_id, current)
        current.attributes = dict(new_attributes)
        current.tags = dict(new_tags)
        current.modified_at = modified
        return current

    async def delete_queue(self, queue_id: int, now: int | None = None) -> None:
        """Delete a queue and its messages; with ``now``, remember its name as deleted then
        (the 60-second rule before the name may be reused, on every node)."""

        def op(conn: Connection, txn: Txn) -> None:
            if now is not None:
                record_deletion(conn, queue_id, now)
            conn.execute("DELETE FROM queues WHERE id=?", (queue_id,))
            txn.notify("queues", queue_id)
            conn.execute("DELETE FROM fifo_groups WHERE queue_id=?", (queue_id,))
            conn.execute("DELETE FROM fifo_dedup WHERE queue_id=?", (queue_id,))
            gone = conn.execute("DELETE FROM messages WHERE queue_id=?", (queue_id,)).rowcount
            txn.count(queue_id, -gone)

        # Forgotten first, so no send slips in behind the delete; restored if it fails.
        queue = self._by_id.pop(queue_id, None)
        if queue is not None:
            self._by_name.pop((queue.account, queue.region, queue.name), None)
        try:
            await self._committer.run(op, drain=True)
        except BaseException:
            if queue is not None:
                self._remember(queue)
            raise

    # -- messages ------------------------------------------------------------------------

    async def send(self, queue_id: int, messages: list[NewMessage]) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            insert_messages(conn, txn, queue_id, messages)  # notifies ``queue`` (long polls)

        # Shared: sends only add rows, so several nodes' sends may commit side by side.
        await self._committer.run(op, shared=True)

    async def send_fifo(
        self, queue_id: int, messages: list[NewMessage], *, now: int, window_ms: int,
        scope_by_group: bool,
    ) -> list[tuple[str, int, bool]]:
        def op(conn: Connection, txn: Txn) -> list[tuple[str, int, bool]]:
            return fifo.send(conn, txn, queue_id, messages, now, window_ms, scope_by_group)

        return await self._committer.run(op)

    async def receive(
        self, queue_id: int, *, now: int, max_messages: int, visibility_ms: int,
        retention_cutoff: int, redrive: Redrive | None, fifo_order: bool = False,
    ) -> ReceiveResult:
        pick = fifo.receive if fifo_order else _receive

        def op(conn: Connection, txn: Txn) -> ReceiveResult:
            return pick(conn, txn, queue_id, now, max_messages, visibility_ms, retention_cutoff, redrive)

        return await self._committer.run(op, drain=True)

    async def delete_messages(
        self, queue_id: int, receipts: list[tuple[int, int]], *, fifo_order: bool = False, now: int = 0,
    ) -> set[int]:
        params = [(seq, queue_id, receipt) for seq, receipt in receipts]

        def op(conn: Connection, txn: Txn) -> set[int]:
            groups = []
            expired: set[int] = set()
            if fifo_order:
                # FIFO: a receipt whose visibility ended (or that a later receive replaced)
                # no longer owns the message (AWS: "The receipt handle has expired"), so the
                # group's order holds; a message already deleted is a success.
                for seq, _, receipt in params:
                    row = conn.execute(
                        "SELECT group_id, visible_at, receipt FROM messages WHERE seq=? AND queue_id=?",
                        (seq, queue_id),
                    ).fetchone()
                    if row is None:
                        continue
                    if row[1] <= now or row[2] != receipt:
                        expired.add(seq)
                    else:
                        groups.append(row[0])
            gone = conn.executemany(
                "DELETE FROM messages WHERE seq=? AND queue_id=? AND receipt=?",
                [param for param in params if param[0] not in expired],
            ).rowcount
            txn.count(queue_id, -gone)
            if groups:
                fifo.fix_heads(conn, queue_id, groups)
                txn.notify("queue", queue_id)  # a group's next message may be receivable now
            return expired

        return await self._committer.run(op, drain=True)

    async def change_visibility(
        self, queue_id: int, changes: list[tuple[int, int, int]], *, now: int, max_total_ms: int,
        allow_expired: bool = False,
    ) -> list[VisibilityChange]:
        def op(conn: Connection, txn: Txn) -> list[VisibilityChange]:
            out = []
            for seq, receipt, visible_at in changes:
                row = conn.execute(
                    "SELECT visible_at, first_receive_at FROM messages WHERE seq=? AND queue_id=? AND receipt=?",
                    (seq, queue_id, receipt),
                ).fetchone()
                if row is None:
                    out.append(VisibilityChange.NOT_FOUND)
                elif row[0] <= now and not allow_expired:
                    out.append(VisibilityChange.NOT_IN_FLIGHT)
                elif row[1] is not None and visible_at - row[1] > max_total_ms:
                    out.append(VisibilityChange.LIMIT_EXCEEDED)
                else:
                    conn.execute("UPDATE messages SET visible_at=? WHERE seq=?", (visible_at, seq))
                    out.append(VisibilityChange.CHANGED)
                    if visible_at <= now:
                        txn.notify("queue", queue_id)  # receivable again: wake long polls
            return out

        return await self._committer.run(op, drain=True)

    async def redelay(self, queue_id: int, delay_ms: int) -> None:
        """Give every never-received message of a queue the delay ``delay_ms`` from its
        sending (AWS: a FIFO queue's DelaySeconds applies retroactively)."""
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("UPDATE messages SET visible_at=sent_at+? WHERE queue_id=? AND receive_count=0", (delay_ms, queue_id))
            txn.notify("queue", queue_id)

        await self._committer.run(op)

    async def purge(self, queue_id: int, *, now: int | None = None, interval_ms: int = 0) -> bool:
        """Delete the queue's messages; with ``now``, only if it was not purged within
        ``interval_ms`` before (False then, and nothing changes)."""

        def op(conn: Connection, txn: Txn) -> bool:
            if now is not None and not claim_purge(conn, queue_id, now, interval_ms):
                return False
            gone = conn.execute("DELETE FROM messages WHERE queue_id=?", (queue_id,)).rowcount
            conn.execute("DELETE FROM fifo_groups WHERE queue_id=?", (queue_id,))
            conn.execute("DELETE FROM fifo_dedup WHERE queue_id=?", (queue_id,))  # as AWS's purge does
            txn.count(queue_id, -gone)
            return True

        return await self._committer.run(op, drain=True)

    async def counts(self, queue_id: int, now: int) -> QueueCounts:
        totals = self._committer.totals

        def op(conn: Connection, txn: Txn) -> QueueCounts:
            # Only the hidden part of the queue is counted; the total is kept as it changes.
            hidden, delayed = conn.execute(
                "SELECT COUNT(*), COUNT(*) - COUNT(first_receive_at) FROM messages"
                " WHERE queue_id=? AND visible_at>?",
                (queue_id, now),
            ).fetchone()
            total = totals.get(queue_id, 0)
            return QueueCounts(visible=max(total - hidden, 0), not_visible=hidden - delayed, delayed=delayed)

        return await self._committer.run(op, drain=True)

    async def move_messages(
        self, source_id: int, destinations: dict[str, tuple[int, bool]], default_destination: tuple[int, bool] | None,
        limit: int, now: int, task: MoveTask,
    ) -> int | str | None:
        """Move up to ``limit`` visible messages and count them in ``task``, in one commit;
        or, if any of them has nowhere to go, move none and return the failure reason; or,
        if the stored task is no longer running (cancelled, perhaps on another node), None."""

        def op(conn: Connection, txn: Txn) -> int | str | None:
            status = conn.execute("SELECT status FROM move_tasks WHERE handle=?", (task.handle,)).fetchone()
            if status is None or status[0] != "RUNNING":
                return None
            rows = conn.execute(
                "SELECT seq, group_id, dead_letter_source FROM messages"
                " WHERE queue_id=? AND visible_at<=? ORDER BY seq LIMIT ?",
                (source_id, now, limit),
            ).fetchall()
            targets = [default_destination or destinations.get(origin or "") for _, _, origin in rows]
            if None in targets:
                return "The original source queue of a message no longer exists."
            moved_groups: list[str] = []
            for (seq, group_id, _), found in zip(rows, targets, strict=True):
                assert found is not None
                target, target_fifo = found
                # A redriven message starts over: visible now, never received.
                conn.execute(
                    "UPDATE messages SET queue_id=?, visible_at=?, receive_count=0, first_receive_at=NULL,"
                    " receipt=NULL, dead_letter_source=NULL WHERE seq=?",
                    (target, now, seq),
                )
                if group_id is not None:
                    moved_groups.append(group_id)
                    if target_fifo:
                        fifo.join_group(conn, target, group_id, seq)
                txn.count(source_id, -1)
                txn.count(target, 1)
                txn.notify("queue", target)
            if moved_groups:
                fifo.fix_heads(conn, source_id, moved_groups)
            # Counted in SQL: a runner's copy of the task may be behind the stored one (it
            # was started on a node that lost its lease); a rolled-back run counted nothing.
            conn.execute("UPDATE move_tasks SET moved=moved+? WHERE handle=?", (len(rows), task.handle))
            return len(rows)

        outcome = await self._committer.run(op, drain=True)
        if isinstance(outcome, int):
            task.moved += outcome  # committed
        return outcome

    async def save_move_task(self, task: MoveTask) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            _save_task(conn, task)
            if task.status == "RUNNING":
                txn.notify("move_tasks", task.handle)  # the runners' node (maybe another) starts it

        # drain: a task's status row is rewritten in place (and is saved at start).
        await self._committer.run(op, drain=True)

    async def finish_move_task(self, handle: str, status: str, reason: str | None) -> bool:
        """Settle a running task; False if it was no longer running (cancelled meanwhile)."""
        return await self._committer.run(lambda conn, txn: conn.execute(
            "UPDATE move_tasks SET status=?, failure_reason=? WHERE handle=? AND status='RUNNING'",
            (status, reason, handle),
        ).rowcount == 1, drain=True)

    async def cancel_move_task(self, handle: str) -> tuple[MoveTask | None, bool]:
        """Cancel a running task: (the task as stored after, whether it was running)."""

        def op(conn: Connection, txn: Txn) -> tuple[MoveTask | None, bool]:
            changed = conn.execute(
                "UPDATE move_tasks SET status='CANCELLED' WHERE handle=? AND status='RUNNING'", (handle,)
            ).rowcount == 1
            row = conn.execute(f"SELECT {_TASK_COLUMNS} FROM move_tasks WHERE handle=?", (handle,)).fetchone()
            return (MoveTask(*row) if row is not None else None), changed

        return await self._committer.run(op, drain=True)

    async def move_tasks(self) -> list[MoveTask]:
        def op(conn: Connection, txn: Txn) -> list[MoveTask]:
            rows = conn.execute(f"SELECT {_TASK_COLUMNS} FROM move_tasks ORDER BY started_at").fetchall()
            return [MoveTask(*row) for row in rows]

        return await self._committer.run(op, drain=True)

    async def expire(self, cutoffs: dict[int, int], now: int, fifo_queues: set[int] | None = None) -> int:
        totals = self._committer.totals
        fifo_queues = fifo_queues or set()

        def op(conn: Connection, txn: Txn) -> int:
            conn.execute("DELETE FROM fifo_dedup WHERE expires_at<=?", (now,))
            removed = 0
            for queue_id, cutoff in cutoffs.items():
                if not totals.get(queue_id):
                    continue
                gone = conn.execute(
                    "DELETE FROM messages WHERE queue_id=? AND sent_at<?", (queue_id, cutoff)
                ).rowcount
                txn.count(queue_id, -gone)
                if gone and queue_id in fifo_queues:
                    fifo.rebuild_groups(conn, queue_id)
                removed += gone
            return removed

        return await self._committer.run(op, drain=True)


def _save_task(conn: Connection, task: MoveTask) -> None:
    conn.execute(
        upsert("move_tasks", ("handle", "source_arn", "destination_arn", "rate", "status", "moved",
                              "to_move", "failure_reason", "started_at"), 1),
        (task.handle, task.source_arn, task.destination_arn, task.rate, task.status, task.moved,
         task.to_move, task.failure_reason, task.started_at),
    )


def _receive(
    conn: Connection, txn: Txn, queue_id: int, now: int, max_messages: int,
    visibility_ms: int, retention_cutoff: int, redrive: Redrive | None,
) -> ReceiveResult:
    result = ReceiveResult()
    taken: set[int] = set()
    hidden_until = now + visibility_ms
    while len(result.messages) < max_messages:
        rows = conn.execute(_SELECT_VISIBLE, (queue_id, now, max_messages - len(result.messages) + len(taken))).fetchall()
        expired: list[tuple[int]] = []
        moved: list[tuple[int, int, str, int]] = []
        marks: list[tuple[int, int, int, int]] = []
        for row in rows:
            seq = row[0]
            if seq in taken:
                continue
            if row[9] < retention_cutoff:
                expired.append((seq,))
            elif redrive is not None and row[10] >= redrive.max_receive_count:
                moved.append((redrive.dead_letter_queue_id, now, redrive.source_arn, seq))
            else:
                receipt = random.getrandbits(62)
                first = row[11] if row[11] is not None else now
                marks.append((hidden_until, now, receipt, seq))
                taken.add(seq)
                result.messages.append(StoredMessage(
                    seq, row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                    row[10] + 1, first, receipt, row[12], row[13], row[14],
                ))
                if len(result.messages) >= max_messages:
                    break
        if marks:
            conn.executemany(_MARK_RECEIVED, marks)
        if expired:
            conn.executemany("DELETE FROM messages WHERE seq=?", expired)
            txn.count(queue_id, -len(expired))
        if moved:
            conn.executemany(_MOVE, moved)
            txn.count(queue_id, -len(moved))
            assert redrive is not None
            txn.count(redrive.dead_letter_queue_id, len(moved))
            txn.notify("queue", redrive.dead_letter_queue_id)
            result.moved += len(moved)
        if not expired and not moved:
            break  # everything selected was handed out, or nothing was visible
    if not result.messages:
        result.next_visible_at = next_visible_at(conn, queue_id, now)
    return result
