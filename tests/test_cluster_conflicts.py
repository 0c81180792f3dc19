"""Two nodes changing the same things through one store: Lambda saves conditional on the
stored revision (a stale write is redone on what is stored), version numbers and the
account's reserved concurrency decided in storage, SNS FIFO sequence numbers increasing
per topic whichever node publishes.

In-process: node B is a second service whose caches (its own SqlFunctionStore over the
same committer) hear nothing of node A's commits, as a node whose notices have not arrived
yet, so every B write after an A write takes the conflict path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from lambda_helpers import zip_code

from postroom.clock import ManualClock
from postroom.lambda_ import limits
from postroom.lambda_.service import STALE_ATTEMPTS, LambdaService
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.services import Apis
from postroom.sns.service import SnsService
from postroom.sqs.service import SqsService
from postroom.storage.errors import StaleRecord
from postroom.storage.functions import FunctionRecord
from postroom.storage.sql.functions import SqlFunctionStore
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
KEY = (ACCOUNT, REGION, "f")


def _zip() -> bytes:
    return zip_code({"app.py": "def handler(event, context):\n    return event\n"})


class Node:
    """One node's Lambda control plane: its own function cache over the shared database."""

    def __init__(self, store: SqliteStore, root: Path, *, own_cache: bool) -> None:
        self.svc = LambdaService(store, ManualClock(1_700_000_000_000), root, Apis())
        if own_cache:
            self.svc.catalog = SqlFunctionStore(store._committer)

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.svc.call(operation, params, CTX) or {}

    async def fails(self, operation: str, **params: Any) -> str:
        with pytest.raises(AWSError) as caught:
            await self.call(operation, **params)
        return caught.value.type_name

    def cached(self) -> FunctionRecord:
        return self.svc.catalog.functions[KEY]

    async def stored(self) -> FunctionRecord:
        """The function as storage holds it (read back into this node's cache)."""
        await self.svc.catalog.reread("functions", "\t".join(KEY))
        return self.cached()


def two_nodes(tmp_path: Path, scenario: Any) -> None:
    async def main() -> None:
        store = SqliteStore(tmp_path / "data")
        await store.start()
        a = Node(store, tmp_path / "a", own_cache=False)
        b = Node(store, tmp_path / "b", own_cache=True)
        try:
            await asyncio.wait_for(scenario(a, b), 60)
        finally:
            for node in (a, b):
                await node.svc.stop()
            await store.close()

    asyncio.run(main())


async def create(node: Node, **extra: Any) -> dict[str, Any]:
    return await node.call(
        "CreateFunction", FunctionName="f", Runtime="python3.12", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": _zip()}, **extra,
    )


# -- Lambda: read-modify-write across nodes -------------------------------------------------------


def test_changes_on_two_nodes_both_survive(tmp_path):
    """UpdateFunctionConfiguration on A, then AddPermission and TagResource on B (which has
    not heard of A's change): B's writes are redone on A's, nothing is overwritten."""

    async def scenario(a: Node, b: Node) -> None:
        await create(a)
        await b.svc.catalog.load()
        seen_by_b = b.cached().revision
        await a.call("UpdateFunctionConfiguration", FunctionName="f", Description="from a", Timeout=9)
        assert b.cached().revision == seen_by_b  # B's cache is behind: the next write is stale
        await a.call("PublishVersion", FunctionName="f")
        await b.call("AddPermission", FunctionName="f", Qualifier="1", StatementId="s1",
                     Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
        await b.call("TagResource", Resource=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", Tags={"t": "b"})
        for node in (a, b):
            fn = await node.stored()
            assert fn.versions["$LATEST"]["Description"] == "from a"
            assert fn.versions["$LATEST"]["Timeout"] == 9
            assert [s["Sid"] for s in fn.policies["1"]["Statement"]] == ["s1"]
            assert fn.tags == {"t": "b"}
        got = await b.call("GetFunctionConfiguration", FunctionName="f")
        assert got["Description"] == "from a"

    two_nodes(tmp_path, scenario)


def test_version_numbers_are_allocated_in_storage(tmp_path):
    """Publishing on both nodes: every number once, each version the $LATEST it snapshots;
    B's publish of the $LATEST A already published answers with A's version, as AWS does."""

    async def scenario(a: Node, b: Node) -> None:
        await create(a)
        await b.svc.catalog.load()
        await a.call("UpdateFunctionConfiguration", FunctionName="f", Description="one")
        assert (await a.call("PublishVersion", FunctionName="f"))["Version"] == "1"
        again = await b.call("PublishVersion", FunctionName="f")
        assert (again["Version"], again["Description"]) == ("1", "one")
        await b.call("UpdateFunctionConfiguration", FunctionName="f", Description="two")
        assert (await b.call("PublishVersion", FunctionName="f"))["Version"] == "2"
        await a.call("UpdateFunctionConfiguration", FunctionName="f", Description="three")
        assert (await a.call("PublishVersion", FunctionName="f"))["Version"] == "3"
        # Both at once, each after its own change: two different numbers.
        await asyncio.gather(
            a.call("UpdateFunctionConfiguration", FunctionName="f", Description="four"),
            b.call("UpdateFunctionConfiguration", FunctionName="f", Description="five"),
        )
        published = await asyncio.gather(
            a.call("PublishVersion", FunctionName="f", Description="pa"),
            b.call("PublishVersion", FunctionName="f", Description="pb"),
        )
        fn = await a.stored()
        assert {p["Version"] for p in published} <= {"4", "5"}
        listed = (await b.call("ListVersionsByFunction", FunctionName="f"))["Versions"]
        numbers = [v["Version"] for v in listed]
        assert numbers[:4] == ["$LATEST", "1", "2", "3"] and len(numbers) == len(set(numbers))
        assert [fn.versions[n]["Description"] for n in ("1", "2", "3")] == ["one", "two", "three"]
        assert fn.next_version == len(numbers)

    two_nodes(tmp_path, scenario)


def test_a_revision_id_is_checked_against_storage(tmp_path):
    """The caller's own RevisionId: stale against what is stored -> PreconditionFailed (as
    today); current in storage but newer than B's cache -> accepted on B."""

    async def scenario(a: Node, b: Node) -> None:
        first = await create(a)
        await b.svc.catalog.load()
        changed = await a.call("UpdateFunctionConfiguration", FunctionName="f", Description="a")
        assert await b.fails("UpdateFunctionConfiguration", FunctionName="f", Description="b",
                             RevisionId=first["RevisionId"]) == "PreconditionFailedException"
        done = await b.call("UpdateFunctionConfiguration", FunctionName="f", Description="b",
                            RevisionId=changed["RevisionId"])
        assert done["Description"] == "b"
        assert (await a.stored()).versions["$LATEST"]["Description"] == "b"

    two_nodes(tmp_path, scenario)


def test_create_on_two_nodes_one_wins(tmp_path):
    async def scenario(a: Node, b: Node) -> None:
        await create(a, Description="a's")
        assert KEY not in b.svc.catalog.functions  # B has not heard of it
        assert await b.fails("CreateFunction", FunctionName="f", Runtime="python3.12", Handler="app.handler",
                             Role=ROLE, Code={"ZipFile": _zip()}) == "ResourceConflictException"
        assert (await b.stored()).versions["$LATEST"]["Description"] == "a's"

    two_nodes(tmp_path, scenario)


def test_account_reserved_concurrency_is_totalled_in_storage(tmp_path):
    async def scenario(a: Node, b: Node) -> None:
        for name in ("f", "g"):
            await a.call("CreateFunction", FunctionName=name, Runtime="python3.12", Handler="app.handler",
                         Role=ROLE, Code={"ZipFile": _zip()})
        await b.svc.catalog.load()
        most = limits.ACCOUNT_CONCURRENCY - limits.UNRESERVED_MINIMUM - 10
        await a.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=most)
        # B's cache still shows nothing reserved: storage's total refuses the 11 over.
        assert await b.fails("PutFunctionConcurrency", FunctionName="g",
                             ReservedConcurrentExecutions=11) == "InvalidParameterValueException"
        await b.call("PutFunctionConcurrency", FunctionName="g", ReservedConcurrentExecutions=10)
        settings = await b.call("GetAccountSettings")
        assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == limits.UNRESERVED_MINIMUM

    two_nodes(tmp_path, scenario)


def test_layer_versions_on_two_nodes(tmp_path):
    async def scenario(a: Node, b: Node) -> None:
        first = await a.call("PublishLayerVersion", LayerName="lay", Content={"ZipFile": _zip()}, Description="a")
        second = await b.call("PublishLayerVersion", LayerName="lay", Content={"ZipFile": _zip()}, Description="b")
        assert (first["Version"], second["Version"]) == (1, 2)
        await a.call("AddLayerVersionPermission", LayerName="lay", VersionNumber=2, StatementId="s",
                     Action="lambda:GetLayerVersion", Principal="*")
        await b.call("DeleteLayerVersion", LayerName="lay", VersionNumber=1)
        await a.svc.catalog.reread("layers", f"{ACCOUNT}\t{REGION}\tlay")
        layer = a.svc.catalog.layers[(ACCOUNT, REGION, "lay")]
        assert sorted(layer.versions) == [2] and layer.versions[2]["Description"] == "b"
        assert [s["Sid"] for s in layer.policies[2]["Statement"]] == ["s"]  # A's, kept by B's delete
        third = await b.call("PublishLayerVersion", LayerName="lay", Content={"ZipFile": _zip()})
        assert third["Version"] == 3

    two_nodes(tmp_path, scenario)


def test_retries_are_bounded(tmp_path, monkeypatch):
    """A function changed elsewhere on every try: AWS's 'update in progress' conflict."""

    async def scenario(a: Node, b: Node) -> None:
        await create(a)
        tries = []

        async def always_stale(fn: FunctionRecord, **kwargs: Any) -> None:
            tries.append(fn.revision)
            raise StaleRecord("functions", "\t".join(KEY))

        monkeypatch.setattr(a.svc.catalog, "save_function", always_stale)
        assert await a.fails("TagResource", Resource=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",
                             Tags={"t": "1"}) == "ResourceConflictException"
        assert len(tries) == STALE_ATTEMPTS

    two_nodes(tmp_path, scenario)


def test_old_data_directory_gains_revisions(tmp_path):
    """A data directory from before revisions: the columns are added, rows start at 1."""
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "postroom.sqlite3")
    conn.executescript("""
        CREATE TABLE lambda_functions (account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            created_at INTEGER NOT NULL, next_version INTEGER NOT NULL, tags TEXT NOT NULL,
            reserved_concurrency INTEGER, PRIMARY KEY (account, region, name)) WITHOUT ROWID;
        CREATE TABLE lambda_layers (account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
            next_version INTEGER NOT NULL, PRIMARY KEY (account, region, name)) WITHOUT ROWID;
    """)
    conn.execute("INSERT INTO lambda_functions VALUES (?,?,?,1,4,'{}',NULL)", KEY)
    conn.commit()
    conn.close()

    async def main() -> None:
        store = SqliteStore(data)
        await store.start()
        try:
            fn = store.functions.functions[KEY]
            assert (fn.revision, fn.next_version) == (1, 4)
            fn.tags = {"k": "v"}
            await store.functions.save_function(fn)
            assert fn.revision == 2
        finally:
            await store.close()

    asyncio.run(main())


# -- SNS FIFO sequence numbers ------------------------------------------------------------------


def _sns_node(store: SqliteStore, clock: ManualClock) -> tuple[SqsService, SnsService]:
    sqs = SqsService(store, clock)
    return sqs, SnsService(store.topics, sqs.api, clock, None, mobile=store.sns_mobile, notifier=store.notifier)


async def _fifo_topic(sqs: SqsService, sns: SnsService) -> tuple[str, str]:
    topic = (await sns.call("CreateTopic", {"Name": "t.fifo", "Attributes": {
        "FifoTopic": "true", "ContentBasedDeduplication": "true"}}, CTX))["TopicArn"]
    url = (await sqs.call("CreateQueue", {"QueueName": "q.fifo", "Attributes": {
        "FifoQueue": "true", "ContentBasedDeduplication": "true"}}, CTX))["QueueUrl"]
    await sns.call("Subscribe", {"TopicArn": topic, "Protocol": "sqs",
                                 "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo"}, CTX)
    return topic, url


async def _delivered(sqs: SqsService, url: str) -> list[tuple[str, str]]:
    """(message, SequenceNumber) of every envelope in the queue, in queue order."""
    out = []
    while True:
        got = await sqs.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10}, CTX)
        if not got.get("Messages"):
            return out
        for m in got["Messages"]:
            doc = orjson.loads(m["Body"])
            out.append((doc["Message"], doc["SequenceNumber"]))
            await sqs.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}, CTX)


def test_sequence_numbers_increase_across_nodes(tmp_path):
    """Two SNS services (two nodes' counters) publishing to one FIFO topic in the same
    millisecond: unique, 20-digit numbers, increasing in commit order; envelopes agree."""

    async def main() -> None:
        store = SqliteStore(tmp_path / "data")
        await store.start()
        clock = ManualClock(1_700_000_000_000)
        try:
            sqs, a = _sns_node(store, clock)
            _, b = _sns_node(store, clock)
            topic, url = await _fifo_topic(sqs, a)

            async def publish(node: SnsService, i: int) -> str:
                got = await node.call("Publish", {"TopicArn": topic, "Message": f"m{i}", "MessageGroupId": "g"}, CTX)
                return got["SequenceNumber"]

            numbers = [await publish(a if i % 2 == 0 else b, i) for i in range(6)]
            batch = await b.call("PublishBatch", {"TopicArn": topic, "PublishBatchRequestEntries": [
                {"Id": f"e{i}", "Message": f"m{i}", "MessageGroupId": "g"} for i in (6, 7)]}, CTX)
            numbers += [e["SequenceNumber"] for e in batch["Successful"]]
            numbers += await asyncio.gather(*(publish(a if i % 2 else b, i) for i in range(8, 14)))
            assert all(len(n) == 20 for n in numbers)
            assert len(set(numbers)) == len(numbers)
            assert [int(n) for n in numbers[:8]] == sorted(int(n) for n in numbers[:8])
            delivered = await _delivered(sqs, url)
            assert sorted(delivered, key=lambda d: int(d[1])) == delivered  # queue order = number order
            assert {s for _, s in delivered} == set(numbers)
            # A repeat answers with the original's number on either node.
            again = await b.call("Publish", {"TopicArn": topic, "Message": "m0", "MessageGroupId": "g"}, CTX)
            assert again["SequenceNumber"] == numbers[0]
        finally:
            await store.close()

    asyncio.run(main())


def test_sequence_numbers_survive_a_restart_and_a_clock_going_back(tmp_path):
    async def publish_once(clock_ms: int, message: str) -> str:
        store = SqliteStore(tmp_path / "data")
        await store.start()
        try:
            sqs, sns = _sns_node(store, ManualClock(clock_ms))
            topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t.fifo"
            if topic not in store.topics.topics:
                topic, _ = await _fifo_topic(sqs, sns)
            got = await sns.call("Publish", {"TopicArn": topic, "Message": message, "MessageGroupId": "g"}, CTX)
            return got["SequenceNumber"]
        finally:
            await store.close()

    first = asyncio.run(publish_once(1_700_000_000_000, "one"))
    second = asyncio.run(publish_once(1_600_000_000_000, "two"))  # a fresh node, an earlier clock
    assert int(second) > int(first) and len(second) == 20
