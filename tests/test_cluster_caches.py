"""Caches that other nodes' changes invalidate, and the SQS state every node shares.

In-process tests change rows behind a store's back (a raw statement inside a committer
operation, as another node writing to the same database would), then deliver the notice
that node's commit would send (``remote=True``), and check the cache and what services
derived from it. Real-server tests check that the SQS state moved into storage survives a
restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError
from server import error_code, make_client, query_code, unique_name

from postroom.clock import ManualClock
from postroom.storage.base import SubscriptionRecord, TopicRecord
from postroom.storage.functions import FunctionRecord
from postroom.storage.iam import AccessKeyRecord
from postroom.storage.mappings import MappingRecord
from postroom.storage.sql.functions import notice_key
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "000000000000", "us-east-1"


def run(scenario: Any) -> None:
    """Run ``scenario(store)`` on a fresh on-disk store."""

    async def main(path: str) -> None:
        store = SqliteStore(path)
        await store.start()
        try:
            await asyncio.wait_for(scenario(store), 30)
        finally:
            await store.close()

    return main


@pytest.fixture
def in_store(tmp_path):
    def go(scenario: Any) -> None:
        asyncio.run(run(scenario)(str(tmp_path / "data")))

    return go


async def behind_its_back(store: SqliteStore, sql: str, params: tuple = ()) -> Any:
    """Change rows as another node would: no cache of this store hears of it."""
    return await store._committer.run(lambda conn, txn: conn.execute(sql, params).lastrowid)


async def remote(store: SqliteStore, *notices: tuple[str, str]) -> None:
    store.notifier.deliver(notices, remote=True)
    await store.refreshed()


def heard(store: SqliteStore, channel: str) -> list[str]:
    keys: list[str] = []
    store.notifier.on(channel, keys.append)
    return keys


# -- store caches ------------------------------------------------------------------------------


def test_queue_cache_follows_other_nodes(in_store):
    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue(ACCOUNT, REGION, "q1", {"VisibilityTimeout": "30"}, {}, 1000)
        refreshed = heard(store, "queues.refreshed")
        await behind_its_back(store, "UPDATE queues SET attributes=? WHERE id=?",
                              (orjson.dumps({"VisibilityTimeout": "5"}).decode(), queue.id))
        other = await behind_its_back(
            store, "INSERT INTO queues (account, region, name, attributes, tags, created_at, modified_at)"
            " VALUES (?,?,?,?,?,?,?)", (ACCOUNT, REGION, "q2", "{}", "{}", 1, 1))
        assert store.queue_by_id(queue.id).attributes == {"VisibilityTimeout": "30"}  # not told yet
        assert store.queue_by_name(ACCOUNT, REGION, "q2") is None
        await remote(store, ("queues", str(queue.id)), ("queues", str(other)))
        assert store.queue_by_id(queue.id).attributes == {"VisibilityTimeout": "5"}
        assert store.queue_by_name(ACCOUNT, REGION, "q2").id == other
        assert sorted(refreshed) == sorted([str(queue.id), str(other)])
        await behind_its_back(store, "DELETE FROM queues WHERE id=?", (other,))
        await remote(store, ("queues", str(other)))
        assert store.queue_by_name(ACCOUNT, REGION, "q2") is None and store.queue_by_id(other) is None
        # A notice about an unchanged queue changes nothing and announces nothing.
        refreshed.clear()
        await remote(store, ("queues", str(queue.id)))
        assert refreshed == []

    in_store(scenario)


def test_local_notices_do_not_refresh(in_store):
    """This node's own commits already updated its caches: only remote notices refresh."""

    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue(ACCOUNT, REGION, "q1", {}, {}, 1000)
        refreshed = heard(store, "queues.refreshed")
        await behind_its_back(store, "UPDATE queues SET tags='{\"a\":\"b\"}' WHERE id=?", (queue.id,))
        store.notifier.deliver([("queues", str(queue.id))])
        await store.refreshed()
        assert store.queue_by_id(queue.id).tags == {} and refreshed == []

    in_store(scenario)


def test_lost_link_reloads_everything(in_store):
    """The ("*", "") notice: every sub-store reads its rows again."""

    async def scenario(store: SqliteStore) -> None:
        await behind_its_back(
            store, "INSERT INTO queues (account, region, name, attributes, tags, created_at, modified_at)"
            " VALUES (?,?,?,?,?,?,?)", (ACCOUNT, REGION, "q9", "{}", "{}", 1, 1))
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:t9"
        await behind_its_back(store, "INSERT INTO topics (arn, account, region, name, attributes, tags, created_at)"
                              " VALUES (?,?,?,?,?,?,?)", (arn, ACCOUNT, REGION, "t9", "{}", "{}", 1))
        await behind_its_back(store, "INSERT INTO lambda_event_source_mappings (uuid, doc) VALUES (?,?)",
                              ("u-1", orjson.dumps(_mapping_doc("u-1")).decode()))
        await behind_its_back(store, "INSERT INTO sns_sms_attributes (account, region, attributes) VALUES (?,?,?)",
                              (ACCOUNT, REGION, '{"DefaultSMSType":"Promotional"}'))
        await behind_its_back(store, "INSERT INTO log_groups (account, region, name, created_at, log_group_class, deletion_protection, tags,"
                              " stored_bytes) VALUES (?,?,?,?,'STANDARD',0,?,0)", (ACCOUNT, REGION, "/g", 1, "{}"))
        everything = heard(store, "*.refreshed")
        await remote(store, ("*", ""))
        assert store.queue_by_name(ACCOUNT, REGION, "q9") is not None
        assert arn in store.topics.topics
        assert "u-1" in store.mappings.mappings
        assert store.sns_mobile.sms_attributes(ACCOUNT, REGION) == {"DefaultSMSType": "Promotional"}
        assert store.logs.group(ACCOUNT, REGION, "/g") is not None
        assert everything  # announced once each sub-store reloaded

    in_store(scenario)


def test_topic_and_subscription_refresh(in_store):
    async def scenario(store: SqliteStore) -> None:
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:t1"
        await store.topics.save_topic(TopicRecord(arn, ACCOUNT, REGION, "t1", {}, {}, 1))
        sub = SubscriptionRecord(f"{arn}:s1", arn, ACCOUNT, "sqs", "arn:q", {}, True, None, 1)
        await store.topics.save_subscription(sub)
        await behind_its_back(store, "UPDATE subscriptions SET attributes=? WHERE arn=?",
                              ('{"RawMessageDelivery":"true"}', sub.arn))
        await remote(store, ("subscriptions", sub.arn))
        assert store.topics.subscriptions[sub.arn].attributes == {"RawMessageDelivery": "true"}
        # Another node deletes the topic (its subscriptions go with it): one notice for the topic.
        await behind_its_back(store, "DELETE FROM subscriptions WHERE topic_arn=?", (arn,))
        await behind_its_back(store, "DELETE FROM topics WHERE arn=?", (arn,))
        await remote(store, ("topics", arn))
        assert arn not in store.topics.topics and sub.arn not in store.topics.subscriptions

    in_store(scenario)


def test_function_refresh_and_miss(in_store):
    async def scenario(store: SqliteStore) -> None:
        fn = FunctionRecord(ACCOUNT, REGION, "f1", 1, tags={"a": "1"}, versions={"$LATEST": {"Runtime": "python3.12"}})
        await store.functions.save_function(fn)
        refreshed = heard(store, "functions.refreshed")
        await behind_its_back(store, "UPDATE lambda_functions SET tags='{\"a\":\"2\"}' WHERE name='f1'")
        await remote(store, ("functions", notice_key(fn.key)))
        assert store.functions.functions[fn.key].tags == {"a": "2"}
        assert store.functions.functions[fn.key].versions == {"$LATEST": {"Runtime": "python3.12"}}
        assert refreshed == [notice_key(fn.key)]
        # Created elsewhere, notice not yet here: the miss path finds it in the database.
        await behind_its_back(store, "INSERT INTO lambda_functions (account, region, name, created_at,"
                              " next_version, tags, reserved_concurrency) VALUES (?,?,?,?,?,?,?)",
                              (ACCOUNT, REGION, "f2", 1, 1, "{}", None))
        assert (ACCOUNT, REGION, "f2") not in store.functions.functions
        found = await store.functions.find_function((ACCOUNT, REGION, "f2"))
        assert found is not None and found.name == "f2"
        assert await store.functions.find_function((ACCOUNT, REGION, "nope")) is None

    in_store(scenario)


def test_queue_miss_is_looked_up(in_store):
    async def scenario(store: SqliteStore) -> None:
        queue_id = await behind_its_back(
            store, "INSERT INTO queues (account, region, name, attributes, tags, created_at, modified_at)"
            " VALUES (?,?,?,?,?,?,?)", (ACCOUNT, REGION, "fresh", "{}", "{}", 1, 1))
        assert store.queue_by_name(ACCOUNT, REGION, "fresh") is None
        found = await store.find_queue(ACCOUNT, REGION, "fresh")
        assert found is not None and found.id == queue_id
        assert store.queue_by_id(queue_id) is found  # cached from now on
        assert await store.find_queue(ACCOUNT, REGION, "missing") is None
        # Deleted elsewhere, notice not yet here: the look-up drops the cached entry too.
        gone = heard(store, "queues.refreshed")
        await behind_its_back(store, "DELETE FROM queues WHERE id=?", (queue_id,))
        assert await store.find_queue(ACCOUNT, REGION, "fresh") is None
        assert store.queue_by_name(ACCOUNT, REGION, "fresh") is None and gone == [str(queue_id)]

    in_store(scenario)


def test_logs_iam_and_mappings_refresh(in_store):
    async def scenario(store: SqliteStore) -> None:
        group_id = await behind_its_back(
            store, "INSERT INTO log_groups (account, region, name, created_at, log_group_class, deletion_protection, tags,"
            " stored_bytes) VALUES (?,?,?,?,'STANDARD',0,?,0)", (ACCOUNT, REGION, "/aws/lambda/x", 1, "{}"))
        await behind_its_back(store, "INSERT INTO log_streams (group_id, name, created_at) VALUES (?,?,?)",
                              (group_id, "s1", 1))
        await remote(store, ("logs", str(group_id)))
        group = store.logs.group(ACCOUNT, REGION, "/aws/lambda/x")
        assert group is not None and store.logs.stream(group, "s1") is not None
        await behind_its_back(store, "DELETE FROM log_streams WHERE group_id=?", (group_id,))
        await behind_its_back(store, "DELETE FROM log_groups WHERE id=?", (group_id,))
        await remote(store, ("logs", str(group_id)))
        assert store.logs.group(ACCOUNT, REGION, "/aws/lambda/x") is None and not store.logs.streams_by_id

        record = AccessKeyRecord("AKIAOTHERNODE", ACCOUNT, "u", "s", "Active", 1)
        doc = dataclasses.asdict(record)
        await behind_its_back(store, "INSERT INTO iam_access_keys (access_key_id, record) VALUES (?,?)",
                              (record.access_key_id, orjson.dumps(doc).decode()))
        await remote(store, ("iam", "iam_access_keys"))
        assert store.iam.access_keys["AKIAOTHERNODE"] == record

        await behind_its_back(store, "INSERT INTO lambda_event_source_mappings (uuid, doc) VALUES (?,?)",
                              ("u-2", orjson.dumps(_mapping_doc("u-2")).decode()))
        await remote(store, ("mappings", "u-2"))
        assert "u-2" in store.mappings.mappings
        await behind_its_back(store, "DELETE FROM lambda_event_source_mappings WHERE uuid='u-2'")
        await remote(store, ("mappings", "u-2"))
        assert "u-2" not in store.mappings.mappings

    in_store(scenario)


def _mapping_doc(uuid: str) -> dict[str, Any]:
    return dataclasses.asdict(MappingRecord(uuid, ACCOUNT, REGION, "arn:f", "arn:q", 10, 0, True, "Enabled", 1))


def test_refresh_retries_while_the_database_fails(in_store, monkeypatch):
    from postroom.storage.sql import refresh

    monkeypatch.setattr(refresh, "RETRY_S", 0.01)

    async def scenario(store: SqliteStore) -> None:
        queue = await store.create_queue(ACCOUNT, REGION, "q1", {}, {}, 1000)
        real, failures = store._committer.run, []

        async def flaky(op: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise RuntimeError("database away")
            return await real(op, **kwargs)

        await behind_its_back(store, "UPDATE queues SET tags='{\"k\":\"v\"}' WHERE id=?", (queue.id,))
        store._committer.run = flaky  # type: ignore[method-assign]
        try:
            await remote(store, ("queues", str(queue.id)))
        finally:
            store._committer.run = real  # type: ignore[method-assign]
        assert failures and store.queue_by_id(queue.id).tags == {"k": "v"}

    in_store(scenario)


# -- services: derived caches and wake-ups ------------------------------------------------------


def test_sqs_settings_and_long_polls_follow_other_nodes(in_store):
    from postroom.sqs.service import SqsService

    async def scenario(store: SqliteStore) -> None:
        svc = SqsService(store, ManualClock())
        queue = await store.create_queue(ACCOUNT, REGION, "q1", {"VisibilityTimeout": "30"}, {}, 1000)
        assert svc.settings(queue).visibility_timeout == 30
        await behind_its_back(store, "UPDATE queues SET attributes=? WHERE id=?",
                              (orjson.dumps({"VisibilityTimeout": "7"}).decode(), queue.id))
        before = svc.signals.version(queue.id)
        await remote(store, ("queues", str(queue.id)))
        assert svc.settings(store.queue_by_id(queue.id)).visibility_timeout == 7
        assert svc.signals.version(queue.id) > before  # waiting receives look again
        # Another node's send wakes this node's long polls; this node's own notice does not
        # (its send path woke them already).
        before = svc.signals.version(queue.id)
        store.notifier.deliver([("queue", str(queue.id))])
        assert svc.signals.version(queue.id) == before
        store.notifier.deliver([("queue", str(queue.id))], remote=True)
        assert svc.signals.version(queue.id) == before + 1

    in_store(scenario)


def test_sends_announce_receivable_messages(in_store):
    """Every path that makes messages receivable commits a ``queue`` notice for other nodes."""
    from postroom.storage.base import NewMessage

    async def scenario(store: SqliteStore) -> None:
        std = await store.create_queue(ACCOUNT, REGION, "std", {}, {}, 1000)
        fifo = await store.create_queue(ACCOUNT, REGION, "f.fifo", {"FifoQueue": "true"}, {}, 1000)
        keys = heard(store, "queue")

        def message(n: int, group: str | None = None) -> NewMessage:
            return NewMessage(f"m{n}", "b", "md5", None, None, None, None, "me", 1, 1, group, f"d{n}" if group else None)

        await store.send(std.id, [message(1)])
        await store.send_fifo(fifo.id, [message(2, "g")], now=1, window_ms=300_000, scope_by_group=False)
        await asyncio.sleep(0)  # notices are delivered on the loop right after the commit
        assert keys == [str(std.id), str(fifo.id)]
        keys.clear()
        got = await store.receive(std.id, now=2, max_messages=1, visibility_ms=30_000, retention_cutoff=0,
                                  redrive=None)
        [msg] = got.messages
        await store.change_visibility(std.id, [(msg.seq, msg.receipt, 2)], now=2, max_total_ms=10**9)
        await asyncio.sleep(0)
        assert keys == [str(std.id)]

    in_store(scenario)


def test_lambda_retires_environments_another_node_made_stale(in_store, tmp_path):
    from postroom.lambda_.service import LambdaService
    from postroom.services import Apis

    async def scenario(store: SqliteStore) -> None:
        svc = LambdaService(store, ManualClock(), tmp_path / "lambda-data", Apis())
        retired: list[str] = []
        svc.retire_environments = retired.append  # type: ignore[method-assign]
        fn = FunctionRecord(ACCOUNT, REGION, "f1", 1, versions={"$LATEST": {"Handler": "a.h"}})
        await svc.save(fn)
        svc.resolve_cache[("x", "y", "z", None)] = object()
        await behind_its_back(store, "UPDATE lambda_function_parts SET doc='{\"Handler\":\"b.h\"}'"
                              " WHERE name='f1' AND kind='versions'")
        await remote(store, ("functions", notice_key(fn.key)))
        assert retired == [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f1"]
        assert not svc.resolve_cache
        assert store.functions.functions[fn.key].versions["$LATEST"] == {"Handler": "b.h"}
        await svc.stop()

    in_store(scenario)


# -- SQS state in storage, on a real server ------------------------------------------------------


def test_sqs_state_survives_a_restart(private_server, tmp_path):
    """Recently deleted names, the last purge and ReceiveRequestAttemptId answers are in
    storage: a restarted server (or another node) applies them as the first one did."""
    data = tmp_path / "state-data"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    gone = unique_name("gone")
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName=gone)["QueueUrl"])
    purged = sqs.create_queue(QueueName=unique_name("purged"))["QueueUrl"]
    sqs.purge_queue(QueueUrl=purged)
    fifo = sqs.create_queue(QueueName=unique_name("f") + ".fifo",
                            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=fifo, MessageBody="once", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=fifo, ReceiveRequestAttemptId="attempt-1", VisibilityTimeout=120)
    srv.kill()  # kill -9: only what was committed counts
    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)
    with pytest.raises(ClientError) as exc:
        sqs2.create_queue(QueueName=gone)
    assert error_code(exc.value) == query_code("QueueDeletedRecently")
    with pytest.raises(ClientError) as exc:
        sqs2.purge_queue(QueueUrl=purged)
    assert error_code(exc.value) == query_code("PurgeQueueInProgress")
    again = sqs2.receive_message(QueueUrl=fifo, ReceiveRequestAttemptId="attempt-1", VisibilityTimeout=120)
    assert [(m["MessageId"], m["ReceiptHandle"]) for m in again["Messages"]] == [
        (m["MessageId"], m["ReceiptHandle"]) for m in first["Messages"]
    ]
    # A different attempt gets nothing: the group's message is in flight.
    assert not sqs2.receive_message(QueueUrl=fifo, ReceiveRequestAttemptId="attempt-2").get("Messages")


def test_sqs_state_expires_on_the_manual_clock(manual_server, manual_sqs):
    """After 60 s the name may be reused and the queue purged again; the retention sweep
    removes the rows (checked through the answers, which read storage)."""
    from server import advance_clock

    name = unique_name("reuse")
    manual_sqs.delete_queue(QueueUrl=manual_sqs.create_queue(QueueName=name)["QueueUrl"])
    other = manual_sqs.create_queue(QueueName=unique_name("p"))["QueueUrl"]
    manual_sqs.purge_queue(QueueUrl=other)
    with pytest.raises(ClientError):
        manual_sqs.purge_queue(QueueUrl=other)
    advance_clock(manual_server.url, 61)
    manual_sqs.purge_queue(QueueUrl=other)
    url = manual_sqs.create_queue(QueueName=name)["QueueUrl"]
    manual_sqs.delete_queue(QueueUrl=url)
    manual_sqs.delete_queue(QueueUrl=other)


def test_requests_for_another_nodes_new_resources_are_answered(in_store):
    """SQS, SNS and fan-out miss paths: a queue or topic created elsewhere a moment ago (its
    notice not yet here) is found in storage instead of answered as missing."""
    from postroom.protocol.context import RequestContext
    from postroom.sns.service import SnsService
    from postroom.sqs.service import SqsService

    ctx = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")

    async def scenario(store: SqliteStore) -> None:
        clock = ManualClock()
        sqs = SqsService(store, clock)
        sns = SnsService(store.topics, sqs.api, clock, None, mobile=store.sns_mobile, notifier=store.notifier)

        async def elsewhere_queue(name: str) -> str:
            await behind_its_back(
                store, "INSERT INTO queues (account, region, name, attributes, tags, created_at, modified_at)"
                " VALUES (?,?,?,?,?,?,?)", (ACCOUNT, REGION, name, "{}", "{}", 1, 1))
            return f"http://localhost/{ACCOUNT}/{name}"

        url = await elsewhere_queue("sqs-miss")
        await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "found"}, ctx)
        with pytest.raises(Exception) as missing:
            await sqs.call("SendMessage", {"QueueUrl": f"http://localhost/{ACCOUNT}/nowhere", "MessageBody": "x"}, ctx)
        assert getattr(missing.value, "type_name", "") == "QueueDoesNotExist"

        topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:elsewhere"
        await behind_its_back(store, "INSERT INTO topics (arn, account, region, name, attributes, tags, created_at)"
                              " VALUES (?,?,?,?,?,?,?)", (topic, ACCOUNT, REGION, "elsewhere", "{}", "{}", 1))
        await sns.call("GetTopicAttributes", {"TopicArn": topic}, ctx)
        # Subscribed here while the queue is cached, then the cache loses it as if it were
        # another node's new queue: the publish finds it instead of dropping the copy.
        target = await elsewhere_queue("fanout-miss")
        await sqs.call("GetQueueUrl", {"QueueName": "fanout-miss"}, ctx)
        await sns.call("Subscribe", {"TopicArn": topic, "Protocol": "sqs",
                                     "Endpoint": f"arn:aws:sqs:{REGION}:{ACCOUNT}:fanout-miss"}, ctx)
        queue = store.queue_by_name(ACCOUNT, REGION, "fanout-miss")
        del store._by_name[(ACCOUNT, REGION, "fanout-miss")], store._by_id[queue.id]
        await sns.call("Publish", {"TopicArn": topic, "Message": "copied"}, ctx)
        got = await sqs.call("ReceiveMessage", {"QueueUrl": target}, ctx)
        assert [orjson.loads(m["Body"])["Message"] for m in got["Messages"]] == ["copied"]

    in_store(scenario)


def test_credentials_another_node_issued_are_looked_up(in_store):
    """A key or STS session issued elsewhere a moment ago: the auth step's look-up finds it."""
    from postroom.iam.api import IamApi
    from postroom.storage.iam import SessionRecord

    async def scenario(store: SqliteStore) -> None:
        api = IamApi(store.iam, ManualClock(), asyncio.Lock())
        record = AccessKeyRecord("AKIAELSEWHERE", ACCOUNT, "u", "s3cret", "Active", 1)
        await behind_its_back(store, "INSERT INTO iam_access_keys (access_key_id, record) VALUES (?,?)",
                              (record.access_key_id, orjson.dumps(dataclasses.asdict(record)).decode()))
        assert api.issued_credentials("AKIAELSEWHERE") is None
        assert await api.find_credentials("AKIAELSEWHERE")
        issued = api.issued_credentials("AKIAELSEWHERE")
        assert issued is not None and issued.secret == "s3cret" and issued.account == ACCOUNT
        assert not await api.find_credentials("AKIAELSEWHERE")  # known now: nothing to look up
        assert not await api.find_credentials("AKIANOWHERE")
        fields = [f.name for f in dataclasses.fields(SessionRecord)]
        session = SessionRecord(**{name: ("ASIAELSEWHERE" if name == "access_key_id" else
                                          10**13 if name == "expires_at" else "x") for name in fields})
        await behind_its_back(store, "INSERT INTO sts_sessions (access_key_id, expires_at, record) VALUES (?,?,?)",
                              ("ASIAELSEWHERE", 10**13, orjson.dumps(dataclasses.asdict(session)).decode()))
        assert await api.find_credentials("ASIAELSEWHERE")
        assert api.issued_credentials("ASIAELSEWHERE") is not None

    in_store(scenario)
