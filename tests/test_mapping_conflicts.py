"""Two nodes changing one event source mapping through one store: saves are conditional
on the stored revision, so no change is lost. A user's change over another node's change
answers ResourceInUseException (AWS's answer for a mapping busy with another change); over
a state the other node's pollers only settled, it is redone on what is stored; the pollers'
own state changes read the mapping again and act on what is stored.

In-process, on SQLite or (POSTROOM_TEST_STORE=postgresql://...) PostgreSQL. Node A holds
the pollers' lease and caches mappings in the store; node B has a mapping cache of its own
over the same database that hears nothing of A's commits, as a node whose notices have not
arrived yet. The clock is manual; no function is invoked (the queue stays empty).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from lambda_helpers import zip_code
from store_helpers import open_test_store

from postroom.clock import ManualClock
from postroom.lambda_.service import LambdaService
from postroom.leases import Leases
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.services import Apis
from postroom.sqs.service import SqsService
from postroom.storage import mappings as states
from postroom.storage.errors import StaleRecord
from postroom.storage.mappings import MappingRecord
from postroom.storage.sql.mappings import SqlMappingStore
from postroom.storage.sql.store import SqlStore

pytestmark = pytest.mark.timeout(60)

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
IN_USE = "Cannot {} the event source mapping because it is in use."


def _zip() -> bytes:
    return zip_code({"app.py": "def handler(event, context):\n    return None\n"})


class OwnMappings:
    """The shared store as node B sees it: the same database, its own mapping cache."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store
        self.mappings = SqlMappingStore(store._committer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class Node:
    def __init__(self, store: Any, sqs: SqsService, clock: ManualClock, root: Path, name: str) -> None:
        self.leases = Leases(store.leases, clock, name, notifier=store.notifier, ttl_s=9.0)
        self.apis = Apis(sqs=sqs.api)
        self.svc = LambdaService(store, clock, root, self.apis, leases=self.leases)
        self.apis.lambda_ = self.svc.api
        self.mappings = store.mappings  # this node's mapping cache

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.svc.call(operation, params, CTX) or {}

    async def fails(self, operation: str, **params: Any) -> AWSError:
        with pytest.raises(AWSError) as caught:
            await self.call(operation, **params)
        return caught.value

    def cached(self, uuid: str) -> MappingRecord:
        return self.mappings.mappings[uuid]


def two_nodes(tmp_path: Path, scenario: Callable[[SqlStore, Node, Node], Awaitable[None]]) -> None:
    async def main() -> None:
        store, drop = open_test_store(tmp_path)
        await store.start()
        clock = ManualClock(1_700_000_000_000)
        sqs = SqsService(store, clock)
        a = Node(store, sqs, clock, tmp_path / "a", "a")
        b = Node(OwnMappings(store), sqs, clock, tmp_path / "b", "b")
        try:
            await sqs.start()
            await a.svc.start()  # a is up first: it holds the pollers' lease
            await b.svc.start()
            assert a.leases.status()["lambda.pollers"] and not b.leases.status()["lambda.pollers"]
            await sqs.call("CreateQueue", {"QueueName": "q"}, CTX)
            await a.call("CreateFunction", FunctionName="f", Runtime="python3.12", Handler="app.handler",
                         Role=ROLE, Code={"ZipFile": _zip()})
            await asyncio.wait_for(scenario(store, a, b), 30)
        finally:
            for node in (a, b):
                await node.svc.stop()
                await node.leases.close()
            sqs.begin_shutdown()
            await sqs.stop()
            await store.close()
            drop()

    asyncio.run(main())


async def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait (real time: the pollers settle in tasks of their own) until ``check()`` holds."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def stored(a: Node, uuid: str) -> MappingRecord | None:
    """The mapping as the database holds it (read back into A's cache)."""
    return await a.mappings.reload(uuid)


async def enabled_mapping(a: Node, b: Node) -> str:
    """A mapping created on A and settled (Enabled) by A's pollers; B's cache has read it."""
    uuid = (await a.call("CreateEventSourceMapping", FunctionName="f", EventSourceArn=QUEUE_ARN))["UUID"]
    await eventually(lambda: a.cached(uuid).state == states.ENABLED)
    assert await b.mappings.reload(uuid) is not None
    return uuid


def test_an_update_over_another_nodes_update_is_in_use_and_loses_nothing(tmp_path):
    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        uuid = await enabled_mapping(a, b)
        await a.call("UpdateEventSourceMapping", UUID=uuid, BatchSize=5)
        assert b.cached(uuid).batch_size == 10  # B has not heard of it
        error = await b.fails("UpdateEventSourceMapping", UUID=uuid, BatchSize=7)
        assert (error.code, error.status, error.message) == ("ResourceInUseException", 400, IN_USE.format("update"))
        assert (await stored(a, uuid)).batch_size == 5  # A's change stands
        # B read the mapping again to answer: the caller's retry applies on A's change.
        answer = await b.call("UpdateEventSourceMapping", UUID=uuid, MaximumBatchingWindowInSeconds=2)
        assert (answer["BatchSize"], answer["MaximumBatchingWindowInSeconds"], answer["State"]) == (5, 2, "Updating")
        got = await stored(a, uuid)
        assert (got.batch_size, got.batching_window_s) == (5, 2)

    two_nodes(tmp_path, scenario)


def test_a_delete_over_another_nodes_update_is_in_use(tmp_path):
    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        uuid = await enabled_mapping(a, b)
        await a.call("UpdateEventSourceMapping", UUID=uuid, Enabled=False)
        error = await b.fails("DeleteEventSourceMapping", UUID=uuid)
        assert (error.code, error.message) == ("ResourceInUseException", IN_USE.format("delete"))
        assert (await stored(a, uuid)).enabled is False
        # Once deleting, neither node updates it (nor deletes it again: it answers Deleting).
        assert (await b.call("DeleteEventSourceMapping", UUID=uuid))["State"] == "Deleting"
        assert (await b.fails("UpdateEventSourceMapping", UUID=uuid, BatchSize=3)).code == "ResourceInUseException"
        assert (await a.call("DeleteEventSourceMapping", UUID=uuid))["State"] == "Deleting"
        a.svc.pollers.changed(uuid)  # the notice of B's delete reaches A, whose pollers remove it
        await eventually(lambda: uuid not in a.mappings.mappings)
        assert await stored(a, uuid) is None

    two_nodes(tmp_path, scenario)


def test_a_change_over_a_state_the_pollers_only_settled_is_redone_on_what_is_stored(tmp_path):
    """B creates the mapping (Creating) and A's pollers settle it (Enabled) without B
    hearing of it: B's update and then delete are redone on the stored mapping."""

    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        created = await b.call("CreateEventSourceMapping", FunctionName="f", EventSourceArn=QUEUE_ARN)
        uuid = created["UUID"]
        assert created["State"] == "Creating"
        a.svc.pollers.changed(uuid)  # B's notice reaches the pollers' node
        await eventually(lambda: uuid in a.mappings.mappings and a.cached(uuid).state == states.ENABLED)
        assert b.cached(uuid).state == states.CREATING
        updated = await b.call("UpdateEventSourceMapping", UUID=uuid, BatchSize=4)
        assert (updated["State"], updated["BatchSize"]) == ("Updating", 4)
        a.svc.pollers.changed(uuid)
        await eventually(lambda: a.cached(uuid).state == states.ENABLED and a.cached(uuid).batch_size == 4)
        assert a.svc.pollers.pollers[uuid].config.batch_size == 4
        assert (await b.call("DeleteEventSourceMapping", UUID=uuid))["State"] == "Deleting"
        a.svc.pollers.changed(uuid)
        await eventually(lambda: uuid not in a.mappings.mappings and uuid not in a.svc.pollers.pollers)

    two_nodes(tmp_path, scenario)


def test_the_pollers_settle_what_is_stored_when_another_node_changed_it(tmp_path):
    """A's pollers settle an update A's cache holds (Updating) after B disabled the mapping:
    their write is stale, so they read it again and settle B's change (Disabled, no poller)
    instead of overwriting it with Enabled; A's update stays."""

    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        uuid = await enabled_mapping(a, b)
        assert uuid in a.svc.pollers.pollers
        # An update on A that its pollers have not acted on yet...
        mine = dataclasses.replace(a.cached(uuid), batch_size=4, state=states.UPDATING)
        await a.mappings.save(mine)
        # ...then B, having read it, disables the mapping.
        await b.mappings.reload(uuid)
        assert (await b.call("UpdateEventSourceMapping", UUID=uuid, Enabled=False))["State"] == "Disabling"
        assert a.cached(uuid).state == states.UPDATING  # A has not heard of it
        a.svc.pollers.refresh(mine)  # A's pollers act on their (stale) copy
        await eventually(lambda: a.cached(uuid).state == states.DISABLED)
        got = await stored(a, uuid)
        assert (got.state, got.enabled, got.batch_size) == (states.DISABLED, False, 4)
        assert uuid not in a.svc.pollers.pollers

    two_nodes(tmp_path, scenario)


def test_a_node_finds_a_mapping_another_node_created_before_its_notice_arrives(tmp_path):
    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        uuid = (await a.call("CreateEventSourceMapping", FunctionName="f", EventSourceArn=QUEUE_ARN))["UUID"]
        assert uuid not in b.mappings.mappings
        assert (await b.call("GetEventSourceMapping", UUID=uuid))["UUID"] == uuid
        assert (await b.fails("GetEventSourceMapping", UUID="0" * 36)).code == "ResourceNotFoundException"

    two_nodes(tmp_path, scenario)


def test_stored_saves_and_deletes_are_conditional_on_the_revision(tmp_path):
    async def scenario(store: SqlStore, a: Node, b: Node) -> None:
        record = MappingRecord("u-1", ACCOUNT, REGION, "arn:f", QUEUE_ARN, 10, 0, False, states.DISABLED, 1)
        await a.mappings.save(record)
        assert record.revision == 1
        with pytest.raises(StaleRecord):
            await b.mappings.save(dataclasses.replace(record, revision=0))  # created twice
        await b.mappings.save(dataclasses.replace(record, batch_size=3))
        with pytest.raises(StaleRecord):
            await a.mappings.save(dataclasses.replace(record, batch_size=4))  # over B's change
        with pytest.raises(StaleRecord):
            await a.mappings.delete("u-1", 1)
        assert (await stored(a, "u-1")).batch_size == 3
        await a.mappings.delete("u-1", 2)
        await a.mappings.delete("u-1", 2)  # gone already: nothing to do
        assert await stored(a, "u-1") is None
        with pytest.raises(StaleRecord):
            await b.mappings.save(dataclasses.replace(record, revision=2))  # deleted elsewhere

    two_nodes(tmp_path, scenario)


def test_a_data_dir_from_before_revisions_is_upgraded_in_place(tmp_path):
    """SQLite only (PostgreSQL has versioned migrations): the column is added, rows read at
    revision 1, and the next conditional save names it."""
    import sqlite3

    from postroom.storage.sqlite import SqliteStore

    data = tmp_path / "old"
    data.mkdir()
    old = MappingRecord("u-1", ACCOUNT, REGION, "arn:f", QUEUE_ARN, 10, 0, True, states.ENABLED, 1)
    doc = dataclasses.asdict(old)
    del doc["revision"]
    conn = sqlite3.connect(data / "postroom.sqlite3")
    conn.execute("CREATE TABLE lambda_event_source_mappings (uuid TEXT PRIMARY KEY, doc TEXT NOT NULL)")
    conn.execute("INSERT INTO lambda_event_source_mappings VALUES ('u-1', ?)", (orjson.dumps(doc).decode(),))
    conn.commit()
    conn.close()

    async def main() -> None:
        store = SqliteStore(data)
        await store.start()
        try:
            loaded = store.mappings.mappings["u-1"]
            assert loaded == dataclasses.replace(old, revision=1)
            await store.mappings.save(dataclasses.replace(loaded, batch_size=5))
            assert (await store.mappings.reload("u-1")).revision == 2
        finally:
            await store.close()

    asyncio.run(main())
