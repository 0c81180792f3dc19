"""CloudWatch Logs storage in SQL: groups and streams (cached in memory, written
through) and their events (read from disk through the indexes on (stream, timestamp) and
(group, timestamp))."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from postroom.storage.logs import (
    AppendResult,
    Batch,
    LogEvent,
    LogGroupRecord,
    LogStreamRecord,
    Position,
    ScanResult,
)
from postroom.storage.sql.refresh import Key as Notice
from postroom.storage.sql.refresh import Refresher, in_list
from postroom.storage.sql.txn import Committer, Connection, Txn

_GROUP_COLUMNS = (
    "id, account, region, name, created_at, retention_days, kms_key_id, log_group_class,"
    " deletion_protection, tags, stored_bytes"
)
_STREAM_COLUMNS = "id, group_id, name, created_at, first_event_at, last_event_at, last_ingestion_at"
_EVENT_COLUMNS = "seq, stream_id, timestamp, ingested_at, message"
_MAX_IN_LIST = 500  # larger stream selections are filtered after reading
GroupKey = tuple[str, str, str]  # (account, region, name)


def _group(row: tuple) -> LogGroupRecord:
    return LogGroupRecord(
        id=row[0], account=row[1], region=row[2], name=row[3], created_at=row[4],
        retention_days=row[5], kms_key_id=row[6], log_group_class=row[7],
        deletion_protection=bool(row[8]), tags=orjson.loads(row[9]), stored_bytes=row[10],
    )


def _stream(row: tuple) -> LogStreamRecord:
    return LogStreamRecord(*row)


def _event(row: tuple) -> LogEvent:
    return LogEvent(*row)


class SqlLogStore:
    """Log groups and streams by name (cached), events on disk."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self.groups: dict[GroupKey, LogGroupRecord] = {}
        self.groups_by_id: dict[int, LogGroupRecord] = {}
        self.streams: dict[int, dict[str, LogStreamRecord]] = {}  # group id -> name -> stream
        self.streams_by_id: dict[int, LogStreamRecord] = {}
        # Channel ``logs`` (key: a group's id) from other nodes: the group and its streams
        # are read again (its settings, streams, sizes and event times changed).
        self.refresher = Refresher(committer.notifier, ["logs"], self._refresh)

    def forget(self) -> None:
        """Drop the cached copies (storage was emptied)."""
        for cache in (self.groups, self.groups_by_id, self.streams, self.streams_by_id):
            cache.clear()
        self.refresher.forget()

    # drain=True below: loading, reading, deleting and expiring run on a full disk too.
    async def load(self) -> None:
        await self._refresh(None)

    async def _refresh(self, stale: set[Notice] | None) -> list[Notice]:
        ids = None if stale is None else {int(key) for _, key in stale}

        def op(conn: Connection, txn: Txn) -> tuple[list[tuple], list[tuple]]:
            if ids is None:
                return (
                    conn.execute(f"SELECT {_GROUP_COLUMNS} FROM log_groups").fetchall(),
                    conn.execute(f"SELECT {_STREAM_COLUMNS} FROM log_streams").fetchall(),
                )
            marks, params = in_list(ids)
            return (
                conn.execute(f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE id IN {marks}", params).fetchall(),
                conn.execute(f"SELECT {_STREAM_COLUMNS} FROM log_streams WHERE group_id IN {marks}", params).fetchall(),
            )

        group_rows, stream_rows = await self._committer.run(op, drain=True)
        groups = {row[0]: _group(row) for row in group_rows}
        streams: dict[int, dict[str, LogStreamRecord]] = {group_id: {} for group_id in groups}
        for row in stream_rows:
            stream = _stream(row)
            if stream.group_id in streams:
                streams[stream.group_id][stream.name] = stream
        # Applied in one step (no await): readers see the old group or the new one.
        if ids is None:
            for cache in (self.groups, self.groups_by_id, self.streams, self.streams_by_id):
                cache.clear()
        for group_id in groups if ids is None else ids:
            old = self.groups_by_id.pop(group_id, None)
            if old is not None:
                self.groups.pop((old.account, old.region, old.name), None)
            for stream in self.streams.pop(group_id, {}).values():
                self.streams_by_id.pop(stream.id, None)
            group = groups.get(group_id)
            if group is None:
                continue
            self.groups[(group.account, group.region, group.name)] = group
            self.groups_by_id[group_id] = group
            self.streams[group_id] = streams[group_id]
            for stream in streams[group_id].values():
                self.streams_by_id[stream.id] = stream
        return [("logs", str(group_id)) for group_id in (groups if ids is None else ids)]

    def _remember_group(self, group: LogGroupRecord) -> LogGroupRecord:
        existing = self.groups_by_id.get(group.id)
        if existing is not None:
            return existing
        self.groups[(group.account, group.region, group.name)] = group
        self.groups_by_id[group.id] = group
        self.streams.setdefault(group.id, {})
        return group

    def _remember_stream(self, stream: LogStreamRecord) -> LogStreamRecord:
        stream = self.streams.setdefault(stream.group_id, {}).setdefault(stream.name, stream)
        self.streams_by_id[stream.id] = stream
        return stream

    # -- groups --------------------------------------------------------------------------

    def group(self, account: str, region: str, name: str) -> LogGroupRecord | None:
        return self.groups.get((account, region, name))

    def groups_of(self, account: str, region: str) -> list[LogGroupRecord]:
        return [g for g in self.groups_by_id.values() if g.account == account and g.region == region]

    async def create_group(self, group: LogGroupRecord) -> LogGroupRecord | None:
        """Insert ``group`` (its id is assigned); None if the name is taken."""

        def op(conn: Connection, txn: Txn) -> tuple | None:
            row = _insert_group(conn, group)
            if row is not None:
                txn.notify("logs", row[0])
            return row

        row = await self._committer.run(op)
        return None if row is None else self._remember_group(_group(row))

    async def save_group(self, group: LogGroupRecord) -> None:
        """Write a group's settings (retention, tags, deletion protection) back."""
        values = (group.retention_days, orjson.dumps(group.tags).decode(), int(group.deletion_protection), group.id)
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("UPDATE log_groups SET retention_days=?, tags=?, deletion_protection=? WHERE id=?", values)
            txn.notify("logs", group.id)

        await self._committer.run(op)

    async def delete_group(self, group: LogGroupRecord) -> None:
        def op(conn: Connection, txn: Txn) -> None:
            conn.execute("DELETE FROM log_events WHERE group_id=?", (group.id,))
            conn.execute("DELETE FROM log_streams WHERE group_id=?", (group.id,))
            conn.execute("DELETE FROM log_groups WHERE id=?", (group.id,))
            txn.notify("logs", group.id)

        await self._committer.run(op, drain=True)
        self.groups.pop((group.account, group.region, group.name), None)
        self.groups_by_id.pop(group.id, None)
        for stream in self.streams.pop(group.id, {}).values():
            self.streams_by_id.pop(stream.id, None)

    # -- streams -------------------------------------------------------------------------

    def stream(self, group: LogGroupRecord, name: str) -> LogStreamRecord | None:
        return self.streams.get(group.id, {}).get(name)

    async def create_stream(self, group: LogGroupRecord, name: str, now: int) -> LogStreamRecord | None:
        """Create a stream; None if the group already has one of that name."""

        def op(conn: Connection, txn: Txn) -> tuple | None:
            txn.notify("logs", group.id)
            return _insert_stream(conn, group.id, name, now)

        row = await self._committer.run(op)
        if row is None or group.id not in self.groups_by_id:
            return None
        return self._remember_stream(_stream(row))

    async def delete_stream(self, group: LogGroupRecord, stream: LogStreamRecord) -> None:
        def op(conn: Connection, txn: Txn) -> int:
            removed = _bytes_of(conn, "stream_id=?", (stream.id,))
            conn.execute("DELETE FROM log_events WHERE stream_id=?", (stream.id,))
            conn.execute("DELETE FROM log_streams WHERE id=?", (stream.id,))
            conn.execute("UPDATE log_groups SET stored_bytes=stored_bytes-? WHERE id=?", (removed, group.id))
            txn.notify("logs", group.id)
            return removed

        removed = await self._committer.run(op, drain=True)
        self.streams.get(group.id, {}).pop(stream.name, None)
        self.streams_by_id.pop(stream.id, None)
        group.stored_bytes -= removed

    # -- events --------------------------------------------------------------------------

    async def append(self, stream: LogStreamRecord, events: list[tuple[int, str]], now: int) -> bool:
        """Store ``events`` (timestamp, message) in ``stream``; False if it is gone."""

        def op(conn: Connection, txn: Txn) -> AppendResult | None:
            txn.notify("logs", stream.group_id)  # event times and stored bytes change
            return _append(conn, stream.group_id, stream.id, events, now)

        result = await self._committer.run(op)
        if result is None:
            return False
        self._apply(result)
        return True

    async def ensure_and_append(self, batches: list[Batch], now: int) -> None:
        """Store buffered events, creating their groups and streams on first use, in one
        transaction (the internal writer's flush)."""

        def op(conn: Connection, txn: Txn) -> list[tuple[tuple, tuple, AppendResult | None]]:
            done = []
            for account, region, group_name, stream_name, events in batches:
                group_row = conn.execute(
                    f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE account=? AND region=? AND name=?",
                    (account, region, group_name),
                ).fetchone() or _insert_group(conn, LogGroupRecord(0, account, region, group_name, now))
                stream_row = conn.execute(
                    f"SELECT {_STREAM_COLUMNS} FROM log_streams WHERE group_id=? AND name=?",
                    (group_row[0], stream_name),
                ).fetchone() or _insert_stream(conn, group_row[0], stream_name, now)
                done.append((group_row, stream_row, _append(conn, group_row[0], stream_row[0], events, now)))
                txn.notify("logs", group_row[0])
            return done

        for group_row, stream_row, result in await self._committer.run(op):
            self._remember_group(_group(group_row))
            self._remember_stream(_stream(stream_row))
            if result is not None:
                self._apply(result)

    def _apply(self, result: AppendResult) -> None:
        # Merges are commutative (min, max, sum): committed appends may resume in any order.
        stream = self.streams_by_id.get(result.stream_id)
        if stream is None:
            return
        _merge(stream, result)
        group = self.groups_by_id.get(stream.group_id)
        if group is not None:
            group.stored_bytes += result.added_bytes

    async def read_stream(
        self, stream_id: int, start: int | None, end: int | None, bound: Position | None,
        forward: bool, limit: int,
    ) -> list[LogEvent]:
        """Up to ``limit`` events of one stream in [start, end), after ``bound`` going
        forward or before it going backward; answered in the direction of travel."""
        where, args = _range("stream_id=?", [stream_id], start, end, bound, forward)
        order = "ASC" if forward else "DESC"
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM log_events INDEXED BY log_events_by_stream WHERE {where}"
            f" ORDER BY timestamp {order}, seq {order} LIMIT ?"
        )
        rows = await self._committer.run(lambda conn, txn: conn.execute(sql, (*args, limit)).fetchall(), drain=True)
        return [_event(r) for r in rows]

    async def scan_group(
        self, group_id: int, stream_ids: set[int] | None, start: int | None, end: int | None,
        after: Position | None, limit: int,
    ) -> ScanResult:
        """Read up to ``limit`` events of a group in (timestamp, seq) order, in [start, end)
        and after ``after``; keep those of ``stream_ids`` (None: all streams)."""
        where, args = _range("group_id=?", [group_id], start, end, after, True)
        in_sql = stream_ids is not None and len(stream_ids) <= _MAX_IN_LIST
        if in_sql:
            assert stream_ids is not None
            where += f" AND stream_id IN ({','.join('?' * len(stream_ids))})"
            args.extend(sorted(stream_ids))
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM log_events INDEXED BY log_events_by_group WHERE {where}"
            " ORDER BY timestamp, seq LIMIT ?"
        )
        rows = await self._committer.run(lambda conn, txn: conn.execute(sql, (*args, limit)).fetchall(), drain=True)
        events = [_event(r) for r in rows]
        last = Position(events[-1].timestamp, events[-1].seq) if events else after
        if stream_ids is not None and not in_sql:
            events = [e for e in events if e.stream_id in stream_ids]
        return ScanResult(events, last, len(rows) < limit)

    async def expire(self, group: LogGroupRecord, cutoff: int, max_rows: int) -> int:
        """Delete up to ``max_rows`` of the group's events older than ``cutoff``; return
        how many went (the caller repeats while it gets ``max_rows``)."""

        def op(conn: Connection, txn: Txn) -> tuple[int, int]:
            chosen = (
                "SELECT seq FROM log_events INDEXED BY log_events_by_group"
                " WHERE group_id=? AND timestamp<? LIMIT ?"
            )
            params = (group.id, cutoff, max_rows)
            count, removed = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM log_events"
                f" WHERE seq IN ({chosen})", params).fetchone()
            if count:
                conn.execute(f"DELETE FROM log_events WHERE seq IN ({chosen})", params)
                conn.execute("UPDATE log_groups SET stored_bytes=stored_bytes-? WHERE id=?", (removed, group.id))
                txn.notify("logs", group.id)
            return count, removed

        count, removed = await self._committer.run(op, drain=True)
        group.stored_bytes -= removed
        return count


def _insert_group(conn: Connection, group: LogGroupRecord) -> tuple | None:
    inserted = conn.execute(
        "INSERT INTO log_groups (account, region, name, created_at, retention_days, kms_key_id,"
        " log_group_class, deletion_protection, tags, stored_bytes) VALUES (?,?,?,?,?,?,?,?,?,0)"
        " ON CONFLICT (account, region, name) DO NOTHING RETURNING id",
        (group.account, group.region, group.name, group.created_at, group.retention_days,
         group.kms_key_id, group.log_group_class, int(group.deletion_protection),
         orjson.dumps(group.tags).decode()),
    ).fetchone()
    if inserted is None:
        return None
    return conn.execute(f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE id=?", (inserted[0],)).fetchone()


def _insert_stream(conn: Connection, group_id: int, name: str, now: int) -> tuple | None:
    if conn.execute("SELECT 1 FROM log_groups WHERE id=?", (group_id,)).fetchone() is None:
        return None  # the group was deleted meanwhile
    inserted = conn.execute(
        "INSERT INTO log_streams (group_id, name, created_at) VALUES (?,?,?)"
        " ON CONFLICT (group_id, name) DO NOTHING RETURNING id", (group_id, name, now),
    ).fetchone()
    if inserted is None:
        return None
    return (inserted[0], group_id, name, now, None, None, None)


def _append(
    conn: Connection, group_id: int, stream_id: int, events: list[tuple[int, str]], now: int
) -> AppendResult | None:
    if not events or conn.execute("SELECT 1 FROM log_streams WHERE id=?", (stream_id,)).fetchone() is None:
        return None
    conn.executemany(
        "INSERT INTO log_events (group_id, stream_id, timestamp, ingested_at, message) VALUES (?,?,?,?,?)",
        [(group_id, stream_id, ts, now, message) for ts, message in events],
    )
    first = min(ts for ts, _ in events)
    last = max(ts for ts, _ in events)
    added = sum(len(message.encode()) for _, message in events)
    conn.execute(
        "UPDATE log_streams SET"
        " first_event_at=CASE WHEN first_event_at IS NULL OR first_event_at>? THEN ? ELSE first_event_at END,"
        " last_event_at=CASE WHEN last_event_at IS NULL OR last_event_at<? THEN ? ELSE last_event_at END,"
        " last_ingestion_at=? WHERE id=?",
        (first, first, last, last, now, stream_id),
    )
    conn.execute("UPDATE log_groups SET stored_bytes=stored_bytes+? WHERE id=?", (added, group_id))
    return AppendResult(stream_id, first, last, now, added)


def _merge(stream: LogStreamRecord, result: AppendResult) -> None:
    stream.first_event_at = min(stream.first_event_at or result.first_event_at, result.first_event_at)
    stream.last_event_at = max(stream.last_event_at or result.last_event_at, result.last_event_at)
    stream.last_ingestion_at = max(stream.last_ingestion_at or 0, result.ingested_at)


def _bytes_of(conn: Connection, where: str, args: Iterable[object]) -> int:
    row = conn.execute(
        f"SELECT COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM log_events WHERE {where}", tuple(args)
    ).fetchone()
    return int(row[0])


def _range(
    where: str, args: list[object], start: int | None, end: int | None, bound: Position | None,
    forward: bool,
) -> tuple[str, list[object]]:
    if start is not None:
        where += " AND timestamp>=?"
        args.append(start)
    if end is not None:
        where += " AND timestamp<?"
        args.append(end)
    if bound is not None:
        # Row-value comparison keeps the index range: (timestamp, seq) after/before bound.
        where += " AND (timestamp, seq) > (?, ?)" if forward else " AND (timestamp, seq) < (?, ?)"
        args.extend((bound.timestamp, bound.seq))
    return where, args
