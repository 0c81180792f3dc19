"""CloudWatch Logs internals in process: the buffered internal writer (LogsApi) and the
retention sweep on a clock the test controls."""

from __future__ import annotations

import asyncio

import pytest

from postroom.logs.api import LogsApi
from postroom.logs.limits import DAY_MS
from postroom.logs.retention import RetentionSweep
from postroom.storage.logs import LogGroupRecord
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "123456789012", "eu-west-1"
T0 = 1_800_000_000_000


class ManualClock:
    """Engine time that moves only when the test says so."""

    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        deadline = self.now + seconds * 1000
        while self.now < deadline:
            await asyncio.sleep(0.001)

    async def wait_for(self, aw, timeout):
        task = asyncio.ensure_future(aw)
        if timeout is None:
            return await task
        deadline = self.now + timeout * 1000
        while not task.done():
            if self.now >= deadline:
                task.cancel()
                raise TimeoutError
            await asyncio.sleep(0.001)
        return task.result()


async def _until(predicate, seconds: float = 5.0) -> None:
    """Wait (real time) until ``predicate()`` holds."""
    for _ in range(int(seconds / 0.005)):
        if await predicate():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def run(coro):
    return asyncio.run(coro)


async def _store(tmp_path) -> SqliteStore:
    store = SqliteStore(tmp_path)
    await store.start()
    return store


async def _events(store: SqliteStore, group: LogGroupRecord, stream: str) -> list[tuple[int, str]]:
    found = store.logs.stream(group, stream)
    assert found is not None
    events = await store.logs.read_stream(found.id, None, None, None, True, 10_000)
    return [(e.timestamp, e.message) for e in events]


def test_write_buffers_and_flush_creates_group_and_stream(tmp_path):
    async def scenario():
        store = await _store(tmp_path)
        api = LogsApi(store.logs, ManualClock(T0))
        before = store.stats["transactions"]
        for i in range(500):
            api.write(ACCOUNT, REGION, "/aws/lambda/fn", "2026/12/01/[$LATEST]abc", [(T0 + i, f"line {i}")])
        api.write(ACCOUNT, REGION, "/aws/lambda/other", "s", [(T0 + 5, "b"), (T0 + 1, "a")])
        assert store.logs.group(ACCOUNT, REGION, "/aws/lambda/fn") is None  # nothing until a flush
        await api.flush()
        assert store.stats["transactions"] - before == 1  # one transaction for the whole buffer
        group = store.logs.group(ACCOUNT, REGION, "/aws/lambda/fn")
        assert group is not None and group.created_at == T0
        assert group.stored_bytes == sum(len(f"line {i}") for i in range(500))
        events = await _events(store, group, "2026/12/01/[$LATEST]abc")
        assert events == [(T0 + i, f"line {i}") for i in range(500)]
        other = store.logs.group(ACCOUNT, REGION, "/aws/lambda/other")
        assert await _events(store, other, "s") == [(T0 + 1, "a"), (T0 + 5, "b")]
        stream = store.logs.stream(other, "s")
        assert (stream.first_event_at, stream.last_event_at, stream.last_ingestion_at) == (T0 + 1, T0 + 5, T0)
        # Later writes reuse the group and stream.
        api.write(ACCOUNT, REGION, "/aws/lambda/fn", "2026/12/01/[$LATEST]abc", [(T0 + 999, "more")])
        await api.flush()
        assert store.logs.group(ACCOUNT, REGION, "/aws/lambda/fn") is group
        assert len(await _events(store, group, "2026/12/01/[$LATEST]abc")) == 501
        await api.flush()  # nothing pending: no transaction
        await store.close()

    run(scenario())


def test_background_flush_by_time_and_by_count(tmp_path):
    async def scenario():
        store = await _store(tmp_path)
        clock = ManualClock(T0)
        api = LogsApi(store.logs, clock)
        api.start()
        try:
            api.write(ACCOUNT, REGION, "g", "s", [(T0, "one")])
            await asyncio.sleep(0.05)
            assert store.logs.group(ACCOUNT, REGION, "g") is None  # engine time has not moved
            clock.now += 100  # the ~100 ms flush interval passes

            async def group_exists():
                return store.logs.group(ACCOUNT, REGION, "g") is not None

            await _until(group_exists)
            group = store.logs.group(ACCOUNT, REGION, "g")
            assert await _events(store, group, "s") == [(T0, "one")]
            api.write(ACCOUNT, REGION, "g", "s", [(T0 + i, "x") for i in range(1, 999)])
            await asyncio.sleep(0.05)
            assert len(await _events(store, group, "s")) == 1  # 998 waiting: below the batch size

            async def all_stored():
                return len(await _events(store, group, "s")) == 1001

            flushes: list[int] = []
            append = store.logs.ensure_and_append

            async def counted(batches, now):
                flushes.append(sum(len(b[4]) for b in batches))
                await append(batches, now)

            store.logs.ensure_and_append = counted
            api.write(ACCOUNT, REGION, "g", "s", [(T0 + 999, "y"), (T0 + 1000, "z")])  # 1,000 now
            await _until(all_stored)  # without the clock moving
            assert flushes == [1000]  # one batch
        finally:
            await api.stop()
        await store.close()

    run(scenario())


def test_stop_flushes_what_is_buffered(tmp_path):
    async def scenario():
        store = await _store(tmp_path)
        api = LogsApi(store.logs, ManualClock(T0))
        api.start()
        api.write(ACCOUNT, REGION, "g", "s", [(T0, "last words")])
        await api.stop()
        await store.close()
        reopened = await _store(tmp_path)
        group = reopened.logs.group(ACCOUNT, REGION, "g")
        assert await _events(reopened, group, "s") == [(T0, "last words")]
        await reopened.close()

    run(scenario())


@pytest.mark.parametrize("days", [1, 7])
def test_retention_sweep_deletes_only_expired_events(tmp_path, days, monkeypatch):
    async def scenario():
        import postroom.logs.retention as retention

        monkeypatch.setattr(retention, "ROWS_PER_STEP", 7)  # several bounded steps
        store = await _store(tmp_path)
        clock = ManualClock(T0)
        logs = store.logs
        group = await logs.create_group(LogGroupRecord(0, ACCOUNT, REGION, "g", T0))
        keep_forever = await logs.create_group(LogGroupRecord(0, ACCOUNT, REGION, "no-retention", T0))
        stream = await logs.create_stream(group, "s", T0)
        other = await logs.create_stream(keep_forever, "s", T0)
        events = [(T0 + i * 3_600_000, f"hour {i}") for i in range(48)]
        await logs.append(stream, events, T0)
        await logs.append(other, events, T0)
        group.retention_days = days
        await logs.save_group(group)
        sweep = RetentionSweep(logs, clock)
        assert await sweep.sweep() == 0  # nothing old yet
        clock.now = T0 + days * DAY_MS + 10 * 3_600_000 + 1  # hours 0..10 are now too old
        assert await sweep.sweep() == 11
        remaining = await _events(store, group, "s")
        assert remaining == events[11:]
        assert group.stored_bytes == sum(len(m) for _, m in events[11:])
        assert len(await _events(store, keep_forever, "s")) == 48
        await store.close()
        reopened = await _store(tmp_path)  # stored bytes were written through
        assert reopened.logs.group(ACCOUNT, REGION, "g").stored_bytes == group.stored_bytes
        await reopened.close()

    run(scenario())


def test_retention_background_task_runs_on_the_clock(tmp_path):
    async def scenario():
        store = await _store(tmp_path)
        clock = ManualClock(T0)
        logs = store.logs
        group = await logs.create_group(LogGroupRecord(0, ACCOUNT, REGION, "g", T0, retention_days=1))
        stream = await logs.create_stream(group, "s", T0)
        await logs.append(stream, [(T0, "old"), (T0 + DAY_MS, "new")], T0)
        sweep = RetentionSweep(logs, clock, interval=0.01)
        sweep.start()
        try:
            clock.now = T0 + DAY_MS + 1
            sweep.wake()
            for _ in range(200):
                await asyncio.sleep(0.005)
                if len(await _events(store, group, "s")) == 1:
                    break
            assert await _events(store, group, "s") == [(T0 + DAY_MS, "new")]
        finally:
            await sweep.stop()
        await store.close()

    run(scenario())


def test_filter_scans_in_bounded_steps_and_resumes(tmp_path, monkeypatch):
    """FilterLogEvents reads a budget of events per call: a rare match may take several
    calls, some answering no events but a nextToken (as AWS may); every match is found
    once, also when the stream selection is too large for an SQL IN list."""
    import postroom.storage.sql.logs as sqlite_logs
    from postroom.logs import limits
    from postroom.logs.service import LogsService
    from postroom.protocol.context import RequestContext

    monkeypatch.setattr(limits, "FILTER_SCAN_BUDGET", 10)
    monkeypatch.setattr(limits, "FILTER_SCAN_CHUNK", 4)
    monkeypatch.setattr(sqlite_logs, "_MAX_IN_LIST", 2)

    async def scenario():
        store = await _store(tmp_path)
        svc = LogsService(store.logs, ManualClock(T0))
        ctx = RequestContext(ACCOUNT, REGION, "key", "http://x", "id")
        await svc.call("CreateLogGroup", {"logGroupName": "g"}, ctx)
        for name in ("app-1", "app-2", "app-3", "other"):
            await svc.call("CreateLogStream", {"logGroupName": "g", "logStreamName": name}, ctx)
            events = [{"timestamp": T0 + i, "message": f"{name} {'HIT' if i % 9 == 0 else 'miss'} {i}"}
                      for i in range(30)]
            await svc.call("PutLogEvents", {"logGroupName": "g", "logStreamName": name, "logEvents": events}, ctx)

        async def all_pages(**params):
            found, calls, empty_pages, token = [], 0, 0, None
            while True:
                request = {"logGroupName": "g", **params, **({"nextToken": token} if token else {})}
                answer = await svc.call("FilterLogEvents", request, ctx)
                calls += 1
                found += [e["message"] for e in answer["events"]]
                empty_pages += not answer["events"]
                token = answer.get("nextToken")
                if not token:
                    return found, calls, empty_pages

        found, calls, empty = await all_pages(filterPattern="HIT", logStreamNamePrefix="app-")
        expected = [f"app-{n} HIT {i}" for i in range(0, 30, 9) for n in (1, 2, 3)]
        assert found == expected
        assert calls >= 9 and empty >= 1  # 90 events at 10 a call
        found, _, _ = await all_pages(filterPattern="HIT", limit=2)
        assert len(found) == 16 and len(set(found)) == 16
        await store.close()

    run(scenario())


def test_event_reads_use_the_indexes(tmp_path):
    """Every event query GetLogEvents, FilterLogEvents and the retention sweep run searches
    an index range (so a 1,000,000-event group stays fast), never scans the table."""

    async def scenario():
        store = await _store(tmp_path)
        logs = store.logs
        group = await logs.create_group(LogGroupRecord(0, ACCOUNT, REGION, "g", T0, retention_days=1))
        streams = [await logs.create_stream(group, f"s{i}", T0) for i in range(3)]
        for stream in streams:
            await logs.append(stream, [(T0 + i, "m") for i in range(50)], T0)
        statements: list[str] = []
        committer = store._committer
        await committer.run(lambda conn, txn: conn.set_trace_callback(statements.append))
        from postroom.storage.logs import Position

        await logs.read_stream(streams[0].id, T0, T0 + 10, Position(T0 + 1, 2), True, 5)
        await logs.read_stream(streams[0].id, None, None, None, False, 5)
        await logs.scan_group(group.id, None, T0, None, Position(T0 + 3, 1), 5)
        await logs.scan_group(group.id, {streams[1].id}, None, T0 + 20, None, 5)
        await logs.expire(group, T0 + 5, 100)
        await committer.run(lambda conn, txn: conn.set_trace_callback(None))
        queries = [s for s in statements if "log_events" in s and s.lstrip().upper().startswith(("SELECT", "DELETE"))]
        assert len(queries) >= 6, queries
        for sql in queries:
            plan = await committer.run(
                lambda conn, txn, sql=sql: conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
            details = " | ".join(row[3] for row in plan)
            assert "SCAN log_events" not in details, (sql, details)
            assert "log_events_by_" in details or "INTEGER PRIMARY KEY" in details, (sql, details)
            assert "TEMP B-TREE" not in details, (sql, details)  # the index gives the order
            if "timestamp<" in sql or "timestamp>" in sql:
                assert "timestamp" in details, (sql, details)  # the time range is an index range
        await store.close()

    run(scenario())
