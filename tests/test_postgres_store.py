"""The PostgreSQL store: URL handling, SQL translation, notices between nodes, and what
clients see when the database goes away and comes back (through a proxy this test cuts,
so the shared PostgreSQL server itself is never stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator

import pytest
from botocore.exceptions import ClientError
from server import TEST_STORE, ServerProcess, error_code, make_client, unique_name, wait_until

from postroom.storage.errors import StorageError
from postroom.storage.postgres.connection import translate
from postroom.storage.postgres.store import PostgresStore, describe, parse_url
from postroom.testing import pg

BASE = TEST_STORE or "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable() -> bool:
    try:
        import psycopg

        conninfo, _ = parse_url(BASE)
        with psycopg.connect(**{**conninfo, "connect_timeout": "2"}):
            return True
    except Exception:
        return False


needs_pg = pytest.mark.skipif(not _reachable(), reason=f"no PostgreSQL at {BASE}")


@pytest.fixture
def schema():
    name = pg.fresh_schema()
    yield name
    if _reachable():
        pg.drop_schemas(BASE, [name])


@contextlib.asynccontextmanager
async def two_nodes(schema: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two started stores ("nodes") on one schema."""
    url = pg.store_url(BASE, schema)
    a, b = PostgresStore(url), PostgresStore(url)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def new_message(k: int, body: str | None = None):
    from postroom.storage.base import NewMessage

    return NewMessage(f"id-{k}", body or f"body {k}", "md5", None, None, None, None, "sender", 1000, 1000)


# -- URLs and SQL, no database needed -----------------------------------------------------


def test_url_schema_parameter_is_taken_out_of_the_libpq_parameters():
    conninfo, schema = parse_url("postgresql://u:secret@db.example:6543/app?schema=tenant_1&sslmode=disable")
    assert schema == "tenant_1"
    assert conninfo["host"] == "db.example" and conninfo["port"] == "6543" and conninfo["dbname"] == "app"
    assert conninfo["sslmode"] == "disable" and "schema" not in conninfo
    assert "secret" not in describe(conninfo, schema)


def test_url_schema_defaults_to_public_or_the_search_path_option():
    assert parse_url("postgres://localhost/db")[1] == "public"
    assert parse_url("postgresql://localhost/db?options=-csearch_path%3Dmine")[1] == "mine"


@pytest.mark.parametrize("url", [
    "postgresql://localhost/db?schema=1abc", "postgresql://localhost/db?schema=a-b",
    "postgresql://localhost/db?schema=" + "x" * 51, "mysql://localhost/db", "postgresql:/nohost",
])
def test_bad_urls_are_refused_with_a_storage_error(url):
    with pytest.raises(StorageError):
        parse_url(url)


def test_sqlite_flavoured_sql_is_translated_once_for_postgres():
    assert translate("SELECT a FROM t WHERE b=? AND c LIKE '%x'") == "SELECT a FROM t WHERE b=%s AND c LIKE '%%x'"
    assert translate("SELECT seq FROM log_events INDEXED BY log_events_by_group WHERE g=?") == (
        "SELECT seq FROM log_events WHERE g=%s")
    assert translate("SELECT SUM(LENGTH(CAST(message AS BLOB))) FROM e") == "SELECT SUM(OCTET_LENGTH(message)) FROM e"


@needs_pg
def test_text_parameters_with_nul_find_nothing_instead_of_failing(schema):
    import psycopg

    from postroom.storage.postgres.connection import PgConnection

    conninfo, _ = parse_url(BASE)
    with psycopg.connect(**conninfo) as raw:
        conn = PgConnection(raw)
        conn.execute("CREATE TEMPORARY TABLE names (name TEXT, flag BIGINT)")
        conn.execute("INSERT INTO names VALUES (?, ?)", ("a", True))
        assert conn.execute("SELECT flag FROM names WHERE name=?", ("a",)).fetchall() == [(1,)]
        assert conn.execute("SELECT flag FROM names WHERE name=?", ("a\x00",)).fetchall() == []


def test_serve_refuses_a_store_it_does_not_know(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "postroom", "serve", "--port", "0", "--data-dir", str(tmp_path),
         "--store", "mysql://root@127.0.0.1/db"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "postgresql://" in done.stderr and "Traceback" not in done.stderr


# -- in process: two stores on one schema are two nodes ---------------------------------


@needs_pg
def test_notices_reach_the_other_node_and_not_the_sender(schema):
    async def scenario() -> tuple[list[str], list[str]]:
        url = pg.store_url(BASE, schema)
        a, b = PostgresStore(url), PostgresStore(url)
        await a.start()
        await b.start()
        seen_by_b: list[str] = []
        seen_by_a_remote: list[str] = []
        b.notifier.on("test", seen_by_b.append, remote_only=True)
        a.notifier.on("test", seen_by_a_remote.append, remote_only=True)
        try:
            await a._committer.run(lambda conn, txn: txn.notify("test", "k1"))
            for _ in range(100):  # real time: the notice crosses the database
                if seen_by_b:
                    break
                await asyncio.sleep(0.02)
        finally:
            await a.close()
            await b.close()
        return seen_by_b, seen_by_a_remote

    seen_by_b, seen_by_a_remote = asyncio.run(scenario())
    assert seen_by_b == ["k1"]
    assert seen_by_a_remote == []


@needs_pg
def test_a_failing_operation_fails_alone_and_totals_are_shared(schema):
    async def scenario() -> tuple[bool, int, int, int]:
        async with two_nodes(schema) as (a, b):
            queue = await a.create_queue("000000000000", "us-east-1", "q", {}, {}, 1000)

            def broken(conn, txn):
                conn.execute("SELECT no_such_column FROM queues")

            results = await asyncio.gather(
                a.send(queue.id, [new_message(1), new_message(2)]), a._committer.run(broken),
                a.send(queue.id, [new_message(3)]), return_exceptions=True,
            )
            failed = isinstance(results[1], Exception) and results[0] is None and results[2] is None
            visible_on_b = (await b.counts(queue.id, 2000)).visible
            got = await b.receive(queue.id, now=2000, max_messages=10, visibility_ms=30_000,
                                  retention_cutoff=0, redrive=None)
            in_flight_on_a = (await a.counts(queue.id, 2000)).not_visible
        return failed, visible_on_b, len(got.messages), in_flight_on_a

    assert asyncio.run(scenario()) == (True, 3, 3, 3)


@needs_pg
def test_a_send_reaching_the_store_after_another_node_deleted_the_queue_leaves_no_row(schema):
    """Node B still holds the queue in its cache when node A deletes it: B's send commits,
    but no message row outlives the queue (no sweep would ever find it)."""

    async def scenario() -> int:
        async with two_nodes(schema) as (a, b):
            queue = await a.create_queue("000000000000", "us-east-1", "q", {}, {}, 1000)
            await a.delete_queue(queue.id, 1000)
            await b.send(queue.id, [new_message(1, "late")])

            def rows(conn, txn) -> int:
                return conn.execute("SELECT COUNT(*) FROM messages WHERE queue_id=?", (queue.id,)).fetchone()[0]

            return await a._committer.run(rows)

    assert asyncio.run(scenario()) == 0


@needs_pg
def test_a_node_catches_up_with_the_changes_announced_before_a_request(schema):
    """When node A's notice reaches node B, B's cache cannot have the change yet (its
    refresh reads the database); ``caught_up`` (what every request on B awaits first)
    returns only once it has."""

    async def scenario():
        async with two_nodes(schema) as (a, b):
            at_notice: list[tuple[bool, bool]] = []
            b.notifier.on("queues", lambda key: at_notice.append(
                (b.queue_by_name("000000000000", "us-east-1", "seen") is not None, bool(b.behind()))
            ), remote_only=True)
            await a.create_queue("000000000000", "us-east-1", "seen", {}, {}, 1000)
            for _ in range(200):  # the notice travels through PostgreSQL
                if at_notice:
                    break
                await asyncio.sleep(0.01)
            await b.caught_up(5.0)
            return at_notice, b.queue_by_name("000000000000", "us-east-1", "seen") is not None, b.behind()

    at_notice, cached, behind = asyncio.run(scenario())
    assert at_notice == [(False, True)]  # not cached yet, and B knows it is behind
    assert cached and behind == []


@needs_pg
def test_a_strict_catch_up_sees_every_change_committed_on_another_node_before_it(schema, caplog):
    """Right after node A's commit returns, node B's read barrier (a NOTIFY of its own,
    heard after every notice committed before it) and catch-up make B's cache hold A's
    change, each of 10 times, even though B's listener takes 100 ms over every
    notification (a loaded node): the plain catch-up, which only knows notices already
    heard, misses them. Neither node takes the other's barriers for malformed notices."""

    async def scenario(strict: bool) -> list[int]:
        async with two_nodes(schema) as (a, b):
            assert await b._committer.barrier() is True
            heard = b._committer._received

            def slowly(payload: str) -> None:  # the listener thread, late by 100 ms
                time.sleep(0.1)
                heard(payload)

            b._committer._received = slowly
            missing = []
            for k in range(10):
                await a.create_queue("000000000000", "us-east-1", f"q{k}", {}, {}, 1000)
                await b.caught_up(5.0, strict=strict)
                if b.queue_by_name("000000000000", "us-east-1", f"q{k}") is None:
                    missing.append(k)
                await a.caught_up(5.0, strict=True)  # B's barriers reach A too: ignored
            return missing

    with caplog.at_level("WARNING", logger="postroom.storage"):
        assert asyncio.run(scenario(strict=True)) == []
    assert "malformed" not in caplog.text
    pg.drop_schemas(BASE, [schema])
    assert asyncio.run(scenario(strict=False)) != []  # what the barrier adds


@needs_pg
def test_two_nodes_creating_the_same_mapping_at_once_store_one(schema):
    """Each node's cache knows no mapping for the pair; the check inside the saving
    transaction lets exactly one of two simultaneous creations through, and a change of
    function onto a taken pair is refused the same way."""
    from postroom.storage.errors import DuplicateRecord
    from postroom.storage.mappings import MappingRecord

    def mapping(uuid: str, function: str) -> MappingRecord:
        return MappingRecord(
            uuid=uuid, account="000000000000", region="us-east-1",
            function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
            source_arn="arn:aws:sqs:us-east-1:000000000000:q", batch_size=10,
            batching_window_s=0, enabled=True, state="Creating", last_modified_ms=1000,
        )

    async def scenario():
        async with two_nodes(schema) as (a, b):
            results = await asyncio.gather(
                a.mappings.save(mapping("uuid-a", "f"), unique=True),
                b.mappings.save(mapping("uuid-b", "f"), unique=True),
                return_exceptions=True,
            )
            other = mapping("uuid-c", "g")
            await a.mappings.save(other, unique=True)
            moved = dataclasses.replace(other, function_arn=mapping("", "f").function_arn)
            with pytest.raises(DuplicateRecord):
                await b.mappings.save(moved, unique=True)
            return results, sorted(await a.mappings.reload_all())

    results, stored = asyncio.run(scenario())
    duplicates = [r for r in results if isinstance(r, DuplicateRecord)]
    assert len(duplicates) == 1 and results.count(None) == 1, results
    assert duplicates[0].existing in ("uuid-a", "uuid-b")
    assert stored == sorted([duplicates[0].existing, "uuid-c"])


@needs_pg
def test_shared_sends_and_exclusive_operations_interleave_on_two_nodes(schema):
    """Sends (shared writer lock, pipelined) and receives/deletes (exclusive) of two nodes,
    all at once: every send is stored once and every message received once."""

    async def scenario() -> tuple[int, int]:
        async with two_nodes(schema) as (a, b):
            queue = await a.create_queue("000000000000", "us-east-1", "q", {}, {}, 1000)
            received: list[str] = []

            async def receive(node: PostgresStore) -> None:
                got = await node.receive(queue.id, now=2000, max_messages=10, visibility_ms=600_000,
                                         retention_cutoff=0, redrive=None)
                received.extend(m.body for m in got.messages)
                await node.delete_messages(queue.id, [(m.seq, m.receipt) for m in got.messages])

            work = []
            for k in range(200):
                work.append((a, b)[k % 2].send(queue.id, [new_message(k)]))
                if k % 5 == 0:
                    work.append(receive((b, a)[k % 2]))
            await asyncio.gather(*work)
            while True:  # what the receives above did not see yet
                before = len(received)
                await receive(a)
                if len(received) == before:
                    break
            left = (await b.counts(queue.id, 2000)).visible
        assert len(received) == len(set(received))
        return len(set(received)), left

    assert asyncio.run(scenario()) == (200, 0)


# -- a server whose database goes away ---------------------------------------------------


class _Proxy:
    """A TCP proxy to PostgreSQL that the test can cut (every connection) and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        self.cut()
        self.listener.close()


class _Direct(ServerProcess):
    """A server on the store its arguments name (not on POSTROOM_TEST_STORE's)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "postroom", "serve", "--host", self.host, "--port", str(self.port),
                "--data-dir", str(self.data_dir), *self.args]


@needs_pg
def test_database_loss_answers_503_then_recovers_by_itself(tmp_path, schema):
    conninfo, _ = parse_url(BASE)
    proxy = _Proxy(conninfo.get("host") or "127.0.0.1", int(conninfo.get("port") or 5432))
    user = conninfo.get("user", "postgres")
    url = f"postgresql://{user}@127.0.0.1:{proxy.port}/{conninfo.get('dbname', 'postgres')}?schema={schema}"
    proc = _Direct(tmp_path / "data", log_dir=tmp_path, args=["--store", url])
    try:
        proc.start()
        sqs = make_client(proc.endpoint)
        queue = sqs.create_queue(QueueName=unique_name("pgloss"))["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="before")
        proxy.cut()
        codes = []
        for _ in range(5):
            try:
                sqs.send_message(QueueUrl=queue, MessageBody="while away")
                codes.append("ok")
            except ClientError as exc:
                codes.append(f"{exc.response['ResponseMetadata']['HTTPStatusCode']} {error_code(exc)}")
            time.sleep(0.1)  # real time: the database is really away
        assert codes and all(c == "503 ServiceUnavailable" for c in codes), codes
        proxy.open = True

        def sends() -> bool:
            try:
                sqs.send_message(QueueUrl=queue, MessageBody="after")
            except ClientError:
                return False
            return True

        assert wait_until(sends, timeout=15)
        bodies = sorted(m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"])
        assert bodies == ["after", "before"]
        assert proc.proc is not None and proc.proc.poll() is None
    finally:
        proc.stop()
        proxy.close()


# -- the two schemas -----------------------------------------------------------------------


@needs_pg
def test_postgresql_schema_has_every_sqlite_table_column_and_unique_key(schema):
    """The SQL stores run unchanged on both backends only if both schemas have the same
    tables, columns and uniqueness rules: a table or column added to one alone fails here."""

    import psycopg
    from psycopg import sql as pgsql

    from postroom.storage.postgres.committer import lock_key
    from postroom.storage.postgres.schema import migrate
    from postroom.storage.sqlite.schema import open_connection

    lite = open_connection(":memory:", durable=False)
    lite_tables = {
        name for (name,) in lite.execute("SELECT name FROM sqlite_master WHERE type='table'")
        if not name.startswith("sqlite_") and name != "meta" and not name.startswith("log_events_fts")
    }
    lite_columns = {t: {row[1] for row in lite.execute(f'PRAGMA table_info("{t}")')} for t in lite_tables}

    def lite_unique(table: str) -> set[tuple[str, ...]]:
        keys = set()
        for row in lite.execute(f'PRAGMA index_list("{table}")'):
            if row[2]:  # unique (primary keys of WITHOUT ROWID tables included)
                keys.add(tuple(sorted(c[2] for c in lite.execute(f'PRAGMA index_info("{row[1]}")'))))
        pk = tuple(sorted(r[1] for r in lite.execute(f'PRAGMA table_info("{table}")') if r[5]))
        if pk:
            keys.add(pk)
        return keys

    conninfo, _ = parse_url(BASE)
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema)))
        conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(schema)))
        conn.autocommit = False
        migrate(conn, schema, lock_key(schema))
        conn.commit()
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema=%s", (schema,)
        ).fetchall()
        pg_columns: dict[str, set[str]] = {}
        for table, column in rows:
            pg_columns.setdefault(table, set()).add(column)
        uniques = conn.execute(
            "SELECT i.indrelid::regclass::text, array_agg(a.attname ORDER BY a.attname)"
            " FROM pg_index i JOIN pg_attribute a ON a.attrelid=i.indrelid AND a.attnum = ANY(i.indkey)"
            " JOIN pg_class c ON c.oid=i.indrelid JOIN pg_namespace n ON n.oid=c.relnamespace"
            " WHERE i.indisunique AND n.nspname=%s GROUP BY i.indexrelid, i.indrelid",
            (schema,),
        ).fetchall()
    pg_unique: dict[str, set[tuple[str, ...]]] = {}
    for table, cols in uniques:
        pg_unique.setdefault(table.split(".")[-1].strip('"'), set()).add(tuple(cols))
    shared = {t for t in pg_columns if t not in ("schema_migrations", "queue_totals")}
    assert lite_tables - shared == set(), "tables missing on PostgreSQL"
    extra = {t for t in shared - lite_tables if not t.startswith("log_events")}
    assert extra == set(), "tables missing on SQLite"
    for table in sorted(lite_tables):
        assert lite_columns[table] == pg_columns[table], table
        assert lite_unique(table) <= pg_unique.get(table, set()) | {("rowid",)}, table
