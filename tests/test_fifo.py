"""FIFO queues: creation rules, send validation, group ordering and the batch release rule
(SPEC.md's worked examples), deduplication, ReceiveRequestAttemptId, concurrent consumers,
kill -9 and restart, and FIFO dead-letter queues."""

from __future__ import annotations

import collections
import hashlib
import json
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from server import error_code, make_client, unique_name


@pytest.fixture
def fifo(make_queue):
    """Factory for FIFO queues: fifo(**attributes) -> url."""

    def make(client=None, **attributes):
        attrs = {"FifoQueue": "true", **{k: str(v) for k, v in attributes.items()}}
        return make_queue(name=unique_name("f") + ".fifo", attributes=attrs, client=client)

    return make


def send(sqs, url, body, group="g", dedup=None):
    return sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                            MessageDeduplicationId=dedup or body)


def receive(sqs, url, n=10, visibility=60, **kwargs):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=visibility,
                               AttributeNames=["All"], **kwargs).get("Messages", [])


def delete_all(sqs, url, msgs):
    for m in msgs:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def bodies(msgs):
    return [m["Body"] for m in msgs]


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def drain(sqs, url, expected, timeout=30.0, visibility=60):
    """Receive (and delete) until `expected` messages arrived or `timeout` passed; one
    receive's worth at a time, so group order across receives is kept."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        msgs = receive(sqs, url, visibility=visibility, WaitTimeSeconds=1)
        got += msgs
        delete_all(sqs, url, msgs)
    return got


def assert_rejected(call, code):
    with pytest.raises(ClientError) as exc:
        call()
    assert error_code(exc.value) == code, exc.value.response
    return exc.value


# --------------------------------------------------------------------------- create


def test_fifo_name_needs_fifo_queue_attribute(sqs):
    assert_rejected(lambda: sqs.create_queue(QueueName=unique_name("nofifoattr") + ".fifo"),
                    "InvalidParameterValue")
    assert_rejected(lambda: sqs.create_queue(QueueName=unique_name("fifofalse") + ".fifo",
                                             Attributes={"FifoQueue": "false"}),
                    "InvalidParameterValue")


def test_fifo_queue_attribute_needs_fifo_name(sqs):
    assert_rejected(lambda: sqs.create_queue(QueueName=unique_name("nosuffix"),
                                             Attributes={"FifoQueue": "true"}),
                    "InvalidParameterValue")


def test_fifo_attributes_defaults(sqs, fifo):
    url = fifo()
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["FifoQueue"] == "true"
    assert a["ContentBasedDeduplication"] == "false"
    assert a["DeduplicationScope"] == "queue"
    assert a["FifoThroughputLimit"] == "perQueue"
    assert a["QueueArn"].endswith(".fifo")


def test_per_group_throughput_needs_per_group_deduplication(sqs):
    assert_rejected(lambda: sqs.create_queue(
        QueueName=unique_name("ht") + ".fifo",
        Attributes={"FifoQueue": "true", "DeduplicationScope": "queue",
                    "FifoThroughputLimit": "perMessageGroupId"}), "InvalidAttributeValue")


def test_high_throughput_fifo_accepted(sqs, fifo):
    url = fifo(DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["DeduplicationScope"] == "messageGroup"
    assert a["FifoThroughputLimit"] == "perMessageGroupId"


def test_content_based_deduplication_rejected_on_standard_queue(sqs, queue_url):
    """AWS answers InvalidAttributeName ("Unknown Attribute ContentBasedDeduplication.")."""
    assert_rejected(lambda: sqs.create_queue(
        QueueName=unique_name("std"), Attributes={"ContentBasedDeduplication": "true"}),
        "InvalidAttributeName")
    assert_rejected(lambda: sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"ContentBasedDeduplication": "true"}),
        "InvalidAttributeName")


# --------------------------------------------------------------------------- send


def test_group_id_required(sqs, fifo):
    url = fifo()
    assert_rejected(lambda: sqs.send_message(QueueUrl=url, MessageBody="x",
                                             MessageDeduplicationId="d"), "MissingParameter")


def test_dedup_id_or_content_based_required(sqs, fifo):
    url = fifo()
    assert_rejected(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g"),
                    "InvalidParameterValue")
    cbd = fifo(ContentBasedDeduplication="true")
    assert sqs.send_message(QueueUrl=cbd, MessageBody="x", MessageGroupId="g")["MessageId"]


def test_per_message_delay_not_allowed(sqs, fifo):
    url = fifo()
    assert_rejected(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                                             MessageDeduplicationId="d", DelaySeconds=5),
                    "InvalidParameterValue")
    # DelaySeconds=0 is not a delay.
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                     MessageDeduplicationId="d0", DelaySeconds=0)
    assert bodies(receive(sqs, url)) == ["x"]


def test_sequence_numbers_present_and_increasing(sqs, fifo):
    url = fifo()
    seqs = [int(send(sqs, url, f"m{i}", group=f"g{i % 2}")["SequenceNumber"]) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    batch = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"e{i}", "MessageBody": f"b{i}", "MessageGroupId": "g",
         "MessageDeduplicationId": f"b{i}"} for i in range(3)])
    more = [int(e["SequenceNumber"]) for e in batch["Successful"]]
    assert more == sorted(more) and more[0] > seqs[-1]


def test_dedup_id_rejected_on_standard_queue(sqs, queue_url):
    assert_rejected(lambda: sqs.send_message(QueueUrl=queue_url, MessageBody="x",
                                             MessageDeduplicationId="d"),
                    "InvalidParameterValue")


@pytest.mark.parametrize("field", ["MessageGroupId", "MessageDeduplicationId"])
@pytest.mark.parametrize("value", ["x" * 129, "has space"], ids=["129chars", "space"])
def test_group_and_dedup_id_format(sqs, fifo, field, value):
    url = fifo()
    params = {"MessageGroupId": "g", "MessageDeduplicationId": "d", field: value}
    assert_rejected(lambda: sqs.send_message(QueueUrl=url, MessageBody="x", **params),
                    "InvalidParameterValue")


def test_group_and_dedup_id_limits_accepted(sqs, fifo):
    """128 characters of alphanumerics and punctuation are allowed."""
    url = fifo()
    punct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    group = ("G" * 128)
    dedup = (punct + "d" * 128)[:128]
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId=group,
                     MessageDeduplicationId=dedup)
    [msg] = receive(sqs, url)
    assert msg["Attributes"]["MessageGroupId"] == group
    assert msg["Attributes"]["MessageDeduplicationId"] == dedup


# --------------------------------------------------------------------------- release order


def test_three_in_one_group_come_in_one_batch(sqs, fifo):
    url = fifo()
    for i in range(3):
        send(sqs, url, f"m{i}")
    assert bodies(receive(sqs, url)) == ["m0", "m1", "m2"]


def test_eleventh_waits_for_the_first_ten(sqs, fifo):
    url = fifo()
    for i in range(11):
        send(sqs, url, f"m{i:02d}")
    first = receive(sqs, url)
    assert bodies(first) == [f"m{i:02d}" for i in range(10)]
    assert receive(sqs, url) == [], "the group has messages in flight"
    delete_all(sqs, url, first[:9])
    assert receive(sqs, url) == [], "one message of the group is still in flight"
    delete_all(sqs, url, first[9:])
    assert bodies(receive(sqs, url)) == ["m10"]


def test_two_groups_two_consumers(sqs, fifo, client_factory, protocol):
    url = fifo()
    for i in range(11):
        send(sqs, url, f"A{i:02d}", group="A")
        send(sqs, url, f"B{i:02d}", group="B")
    consumers = [sqs, client_factory(protocol=protocol)]
    results: list[list[dict]] = [[], []]

    def consume(k):
        results[k] = receive(consumers[k], url)

    threads = [threading.Thread(target=consume, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    got = sorted([bodies(results[0]), bodies(results[1])])
    assert got == [[f"A{i:02d}" for i in range(10)], [f"B{i:02d}" for i in range(10)]]
    assert receive(sqs, url) == [], "both groups have messages in flight"
    a_batch, b_batch = sorted(results, key=lambda msgs: msgs[0]["Body"])
    delete_all(sqs, url, a_batch)
    assert bodies(receive(sqs, url)) == ["A10"], "B still has messages in flight"
    delete_all(sqs, url, b_batch)
    assert bodies(receive(sqs, url)) == ["B10"]


def test_six_in_two_groups_come_in_one_batch_in_group_order(sqs, fifo):
    url = fifo()
    for g, i in [("A", 0), ("B", 0), ("A", 1), ("B", 1), ("A", 2), ("B", 2)]:
        send(sqs, url, f"{g}{i}", group=g)
    # Release rule: the oldest group's messages, then the next group's.
    assert bodies(receive(sqs, url)) == ["A0", "A1", "A2", "B0", "B1", "B2"]


def test_order_kept_within_group_across_receives(sqs, fifo):
    url = fifo()
    for i in range(5):
        send(sqs, url, f"m{i}")
    seen = []
    for _ in range(5):
        msgs = receive(sqs, url, n=2)
        seen += bodies(msgs)
        delete_all(sqs, url, msgs)
    assert seen == [f"m{i}" for i in range(5)]


def test_order_holds_across_visibility_expiry(sqs, fifo):
    url = fifo()
    for i in range(3):
        send(sqs, url, f"m{i}")
    [first] = receive(sqs, url, n=1, visibility=1)
    assert first["Body"] == "m0"
    # Nothing of the group is released while m0 is in flight (unless its second is over).
    again = receive(sqs, url)
    deadline = time.monotonic() + 15
    while not again and time.monotonic() < deadline:
        again = receive(sqs, url, WaitTimeSeconds=2)
    assert bodies(again) == ["m0", "m1", "m2"]
    assert again[0]["MessageId"] == first["MessageId"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert again[1]["Attributes"]["ApproximateReceiveCount"] == "1"


def test_released_message_comes_back_first(sqs, fifo):
    """ChangeMessageVisibility 0 returns a message to the head of its group."""
    url = fifo()
    for i in range(3):
        send(sqs, url, f"m{i}")
    [first] = receive(sqs, url, n=1)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                  VisibilityTimeout=0)
    again = receive(sqs, url)
    assert bodies(again) == ["m0", "m1", "m2"]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_receive_returns_fifo_system_attributes(sqs, fifo):
    url = fifo()
    sent = send(sqs, url, "a", group="grp-1", dedup="dedup-a")
    [msg] = receive(sqs, url)
    a = msg["Attributes"]
    assert a["MessageGroupId"] == "grp-1"
    assert a["MessageDeduplicationId"] == "dedup-a"
    assert a["SequenceNumber"] == sent["SequenceNumber"]
    assert a["ApproximateReceiveCount"] == "1"
    assert {"SenderId", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(a)
    # Asking for one attribute returns just that one.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"],
                                  VisibilityTimeout=0)
    [msg] = sqs.receive_message(QueueUrl=url, AttributeNames=["SequenceNumber"])["Messages"]
    assert msg["Attributes"] == {"SequenceNumber": sent["SequenceNumber"]}


# --------------------------------------------------------------------------- deduplication


def test_duplicate_returns_original_and_is_not_delivered(sqs, fifo):
    url = fifo()
    first = send(sqs, url, "once", dedup="same")
    dup = send(sqs, url, "once again", dedup="same")
    assert dup["MessageId"] == first["MessageId"]
    assert dup["SequenceNumber"] == first["SequenceNumber"]
    msgs = receive(sqs, url)
    assert bodies(msgs) == ["once"]
    assert msgs[0]["MessageId"] == first["MessageId"]
    delete_all(sqs, url, msgs)
    after = send(sqs, url, "after delete", dedup="same")
    assert after["MessageId"] == first["MessageId"]
    assert receive(sqs, url, WaitTimeSeconds=1) == [], "deduplicated even after delete"
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "0"
    assert a["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_duplicate_in_another_group_is_still_a_duplicate_with_queue_scope(sqs, fifo):
    url = fifo()
    first = send(sqs, url, "x", group="g1", dedup="d")
    dup = send(sqs, url, "x", group="g2", dedup="d")
    assert dup["MessageId"] == first["MessageId"]
    assert bodies(receive(sqs, url)) == ["x"]


def test_content_based_deduplication(sqs, fifo):
    url = fifo(ContentBasedDeduplication="true")
    a = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    b = sqs.send_message(QueueUrl=url, MessageBody="same body", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other body", MessageGroupId="g")
    assert b["MessageId"] == a["MessageId"]
    msgs = receive(sqs, url)
    assert bodies(msgs) == ["same body", "other body"]
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(
        b"same body").hexdigest()


def test_explicit_dedup_id_overrides_content_based(sqs, fifo):
    url = fifo(ContentBasedDeduplication="true")
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g",
                     MessageDeduplicationId="one")
    sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g",
                     MessageDeduplicationId="two")
    msgs = receive(sqs, url)
    assert [m["Attributes"]["MessageDeduplicationId"] for m in msgs] == ["one", "two"]


def test_message_group_deduplication_scope(sqs, fifo):
    url = fifo(DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    a = send(sqs, url, "in g1", group="g1", dedup="d")
    b = send(sqs, url, "in g2", group="g2", dedup="d")
    dup = send(sqs, url, "again in g1", group="g1", dedup="d")
    assert a["MessageId"] != b["MessageId"]
    assert dup["MessageId"] == a["MessageId"]
    assert sorted(bodies(receive(sqs, url))) == ["in g1", "in g2"]


def test_batch_with_duplicates_inside(sqs, fifo):
    url = fifo()
    earlier = send(sqs, url, "earlier", dedup="d-earlier")
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "e0", "MessageBody": "m0", "MessageGroupId": "g", "MessageDeduplicationId": "d0"},
        {"Id": "e1", "MessageBody": "m1", "MessageGroupId": "g", "MessageDeduplicationId": "d0"},
        {"Id": "e2", "MessageBody": "m2", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
        {"Id": "e3", "MessageBody": "m3", "MessageGroupId": "g",
         "MessageDeduplicationId": "d-earlier"},
    ])
    assert not resp.get("Failed")
    ok = {e["Id"]: e for e in resp["Successful"]}
    assert set(ok) == {"e0", "e1", "e2", "e3"}
    assert ok["e1"]["MessageId"] == ok["e0"]["MessageId"]
    assert ok["e3"]["MessageId"] == earlier["MessageId"]
    assert len({ok["e0"]["MessageId"], ok["e2"]["MessageId"], earlier["MessageId"]}) == 3
    assert bodies(receive(sqs, url)) == ["earlier", "m0", "m2"]


def test_batch_content_based_duplicates(sqs, fifo):
    url = fifo(ContentBasedDeduplication="true")
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"e{i}", "MessageBody": body, "MessageGroupId": "g"}
        for i, body in enumerate(["x", "y", "x"])])
    ok = {e["Id"]: e["MessageId"] for e in resp["Successful"]}
    assert ok["e2"] == ok["e0"] != ok["e1"]
    assert bodies(receive(sqs, url)) == ["x", "y"]


# --------------------------------------------------------------------------- attempt ids


def test_receive_request_attempt_id_retry_returns_same_messages(sqs, fifo):
    url = fifo()
    for i in range(4):
        send(sqs, url, f"m{i}")
    attempt = uuid.uuid4().hex
    first = receive(sqs, url, n=3, ReceiveRequestAttemptId=attempt)
    assert bodies(first) == ["m0", "m1", "m2"]
    retry = receive(sqs, url, n=3, ReceiveRequestAttemptId=attempt)
    assert [m["MessageId"] for m in retry] == [m["MessageId"] for m in first]
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    assert receive(sqs, url, ReceiveRequestAttemptId=uuid.uuid4().hex) == [], "group in flight"
    delete_all(sqs, url, retry)  # the retried receipt handles are valid
    assert bodies(receive(sqs, url, ReceiveRequestAttemptId=uuid.uuid4().hex)) == ["m3"]


def test_receive_request_attempt_id_belongs_to_its_queue(sqs, fifo):
    """An attempt id used on a deleted queue means nothing to a queue created later: the new
    queue's own messages are returned, never the old queue's."""
    attempt = "reused-attempt-" + uuid.uuid4().hex
    old = fifo()
    send(sqs, old, "old-queue")
    assert bodies(receive(sqs, old, ReceiveRequestAttemptId=attempt)) == ["old-queue"]
    sqs.delete_queue(QueueUrl=old)
    new = fifo()
    send(sqs, new, "new-queue")
    got = receive(sqs, new, ReceiveRequestAttemptId=attempt)
    assert bodies(got) == ["new-queue"]
    delete_all(sqs, new, got)
    a = sqs.get_queue_attributes(QueueUrl=new, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "0"
    assert a["ApproximateNumberOfMessagesNotVisible"] == "0"


# --------------------------------------------------------------------------- concurrency


def test_group_order_under_concurrent_consumers(endpoint, json_sqs, fifo):
    groups, per_group, consumers = 5, 40, 4
    total = groups * per_group
    url = fifo(client=json_sqs)
    for start in range(0, total, 10):
        resp = json_sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": f"g{i % groups}:{i // groups:03d}",
             "MessageGroupId": f"g{i % groups}", "MessageDeduplicationId": f"d{i}"}
            for i in range(start, start + 10)])
        assert not resp.get("Failed")

    lock = threading.Lock()
    processed: list[tuple[str, int]] = []  # in delete order, under the lock
    seen: dict[int, list[tuple[str, int]]] = {k: [] for k in range(consumers)}
    errors: list[BaseException] = []
    deadline = time.monotonic() + 90

    def consume(k):
        client = make_client(endpoint, "json")
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(processed) >= total:
                        return
                msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                              VisibilityTimeout=60, WaitTimeSeconds=1,
                                              ).get("Messages", [])
                for m in msgs:
                    group, index = m["Body"].split(":")
                    seen[k].append((group, int(index)))
                    with lock:
                        client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                        processed.append((group, int(index)))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=consume, args=(k,)) for k in range(consumers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(processed) == total, f"processed {len(processed)} of {total}"

    everything = sorted(x for k in seen for x in seen[k])
    assert everything == sorted((f"g{g}", i) for g in range(groups) for i in range(per_group))
    for k, items in seen.items():
        by_group = collections.defaultdict(list)
        for group, index in items:
            by_group[group].append(index)
        for group, indexes in by_group.items():
            assert indexes == sorted(indexes), f"consumer {k} saw {group} out of order"
    by_group = collections.defaultdict(list)
    for group, index in processed:
        by_group[group].append(index)
    for group, indexes in by_group.items():
        assert indexes == list(range(per_group)), f"{group} processed out of order: {indexes}"


# --------------------------------------------------------------------------- crash


@pytest.mark.timeout(180)
def test_kill_9_keeps_fifo_order_and_deduplication(private_server, tmp_path):
    data = tmp_path / "fifo-crash"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    url = sqs.create_queue(QueueName=unique_name("crash") + ".fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    groups = ["a", "b", "c", "d"]
    sent: dict[str, list[str]] = {g: [] for g in groups}  # bodies, in send order
    ids: dict[str, str] = {}  # dedup id -> MessageId
    n = 0
    for round_ in range(12):
        for g in groups:
            body = f"{g}-{round_:02d}"
            resp = send(sqs, url, body, group=g, dedup=f"d-{body}")
            ids[f"d-{body}"] = resp["MessageId"]
            sent[g].append(body)
            n += 1
        # duplicates: an earlier message of each group sent again
        dup = send(sqs, url, "dup body", group=groups[round_ % 4],
                   dedup=f"d-{groups[round_ % 4]}-{round_ // 2:02d}")
        assert dup["MessageId"] == ids[f"d-{groups[round_ % 4]}-{round_ // 2:02d}"]
    for start in range(0, 8, 4):  # and some through SendMessageBatch, with a duplicate inside
        entries = [{"Id": f"e{j}", "MessageBody": f"{g}-b{start}",
                    "MessageGroupId": g, "MessageDeduplicationId": f"d-{g}-b{start}"}
                   for j, g in enumerate(groups)]
        entries.append({"Id": "dup", "MessageBody": "dup body", "MessageGroupId": "a",
                        "MessageDeduplicationId": entries[0]["MessageDeduplicationId"]})
        resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not resp.get("Failed")
        answers = {e["Id"]: e["MessageId"] for e in resp["Successful"]}
        assert answers["dup"] == answers["e0"]
        for e in entries[:-1]:
            sent[e["MessageGroupId"]].append(e["MessageBody"])
            ids[e["MessageDeduplicationId"]] = answers[e["Id"]]
            n += 1

    # Delete the first batch (acknowledged: gone for good); leave a second batch in flight.
    deleted = receive(sqs, url)
    delete_all(sqs, url, deleted)
    in_flight = receive(sqs, url, visibility=2)
    assert deleted and in_flight
    deleted_bodies = set(bodies(deleted))

    srv.kill()
    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)

    # Deduplication ids are remembered across the restart (still within 5 minutes), also
    # those of deleted messages.
    for body in [deleted[0]["Body"], in_flight[0]["Body"], sent["d"][-1]]:
        resp = send(sqs2, url, "after restart", group=body[0], dedup=f"d-{body}")
        assert resp["MessageId"] == ids[f"d-{body}"]

    expected = n - len(deleted_bodies)
    got = drain(sqs2, url, expected, timeout=60)
    assert sqs2.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    got_bodies = bodies(got)
    assert "after restart" not in got_bodies and "dup body" not in got_bodies
    assert len(got_bodies) == len(set(got_bodies)), "a message was delivered twice"
    assert len({m["MessageId"] for m in got}) == len(got)
    assert set(got_bodies) | deleted_bodies == {b for g in groups for b in sent[g]}, "lost"
    assert not set(got_bodies) & deleted_bodies, "a deleted message came back"
    for g in groups:
        order = [b for b in got_bodies if b.startswith(f"{g}-")]
        assert order == [b for b in sent[g] if b not in deleted_bodies], f"group {g} order"
    in_flight_ids = {m["MessageId"] for m in in_flight}
    again = [m for m in got if m["MessageId"] in in_flight_ids]
    assert len(again) == len(in_flight)
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "2" for m in again)


# --------------------------------------------------------------------------- dead letters


def test_fifo_dead_letter_queue_must_be_fifo(sqs, fifo, make_queue):
    standard_arn = arn_of(sqs, make_queue("std-dlq"))
    url = fifo()
    policy = json.dumps({"deadLetterTargetArn": standard_arn, "maxReceiveCount": 2})
    assert_rejected(lambda: sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": policy}), "InvalidParameterValue")
    assert_rejected(lambda: sqs.create_queue(
        QueueName=unique_name("f") + ".fifo",
        Attributes={"FifoQueue": "true", "RedrivePolicy": policy}), "InvalidParameterValue")


def test_standard_queue_dead_letter_queue_must_be_standard(sqs, fifo, make_queue):
    fifo_arn = arn_of(sqs, fifo())
    policy = json.dumps({"deadLetterTargetArn": fifo_arn, "maxReceiveCount": 2})
    assert_rejected(lambda: sqs.create_queue(QueueName=unique_name("std"),
                                             Attributes={"RedrivePolicy": policy}),
                    "InvalidParameterValue")


def test_fifo_to_fifo_dead_letter_queue_keeps_group(sqs, fifo):
    dlq = fifo()
    src = fifo(RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq),
                                         "maxReceiveCount": 2}))
    src_arn = arn_of(sqs, src)
    for i in range(3):
        send(sqs, src, f"p{i}", group="poison")
    send(sqs, src, "other", group="fine")
    for count in ("1", "2"):
        msgs = receive(sqs, src, visibility=0)
        assert bodies(msgs) == ["p0", "p1", "p2", "other"]
        assert {m["Attributes"]["ApproximateReceiveCount"] for m in msgs} == {count}
    # A third receive would exceed maxReceiveCount: everything moves to the DLQ.
    assert receive(sqs, src) == []
    moved = receive(sqs, dlq)
    assert bodies(moved) == ["p0", "p1", "p2", "other"]
    assert [m["Attributes"]["MessageGroupId"] for m in moved] == ["poison"] * 3 + ["fine"]
    assert all(m["Attributes"]["DeadLetterQueueSourceArn"] == src_arn for m in moved)
    # The group order also holds in the DLQ.
    assert receive(sqs, dlq) == []
    src_attrs = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
    assert src_attrs["ApproximateNumberOfMessages"] == "0"
    assert src_attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_standard_queue_accepts_message_group_id(sqs, queue_url):
    """Standard queues take MessageGroupId too (fair queues) and return it on receive."""
    sqs.send_message(QueueUrl=queue_url, MessageBody="tenant", MessageGroupId="tenant-1")
    [msg] = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    assert msg["Body"] == "tenant"
    assert msg["Attributes"]["MessageGroupId"] == "tenant-1"


@pytest.mark.parametrize("batch", [False, True])
def test_long_poll_returns_when_a_delete_frees_the_group(sqs, fifo, batch):
    url = fifo()
    send(sqs, url, "first")
    send(sqs, url, "second")
    [first] = receive(sqs, url, n=1)
    got: list[dict] = []
    waiter = threading.Thread(target=lambda: got.extend(receive(sqs, url, n=1, WaitTimeSeconds=10)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)  # the long poll is waiting: the group is in flight
    if batch:
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "1", "ReceiptHandle": first["ReceiptHandle"]}])
    else:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    waiter.join(12)
    assert bodies(got) == ["second"]
    assert time.monotonic() - started < 3  # woken by the delete, not the end of the wait


# ------------------------------------------------------------ group order after visibility changes
# The scenarios and answers below are AWS's recorded ones (LocalStack's AWS-validated FIFO
# tests): groups are served in the order their oldest message became visible.


def _receive_default(sqs, url, n):
    """A receive with the queue's own visibility timeout."""
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n).get("Messages", [])


def _sends(sqs, url, *bodies_):
    for body in bodies_:
        send(sqs, url, body, group=body.split("-")[0])
    time.sleep(0.02)  # what follows happens at a later millisecond than the sends


def test_group_order_after_zero_visibility_receive(sqs, fifo):
    url = fifo()
    _sends(sqs, url, "g1-m1", "g2-m1", "g2-m2", "g3-m1", "g1-m2")
    assert bodies(receive(sqs, url, n=3, visibility=0)) == ["g1-m1", "g1-m2", "g2-m1"]
    assert bodies(receive(sqs, url, visibility=0)) == ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"]


def test_group_order_after_timeouts(manual_sqs, manual_server, fifo):
    from server import advance_clock

    sqs = manual_sqs
    url = fifo(client=sqs, VisibilityTimeout=1)
    for body in ("g1-m1", "g1-m2", "g1-m3", "g1-m4", "g2-m1", "g3-m1"):
        send(sqs, url, body, group=body.split("-")[0])
    assert bodies(_receive_default(sqs, url, 2)) == ["g1-m1", "g1-m2"]
    assert bodies(_receive_default(sqs, url, 1)) == ["g2-m1"]
    advance_clock(manual_server.url, 2)
    assert bodies(receive(sqs, url, visibility=0)) == ["g3-m1", "g1-m1", "g1-m2", "g1-m3", "g1-m4", "g2-m1"]


@pytest.mark.parametrize("change", [0, 1])
def test_head_made_visible_serves_its_group_again(manual_sqs, manual_server, fifo, change):
    """Ending (or shortening) the head's visibility makes the group available, behind the
    groups waiting since earlier, while its later messages stay in flight."""
    from server import advance_clock

    sqs = manual_sqs
    url = fifo(client=sqs, VisibilityTimeout=30)
    for body in ("g1-m1", "g1-m2", "g2-m1"):
        send(sqs, url, body, group=body.split("-")[0])
    first = _receive_default(sqs, url, 2)
    assert bodies(first) == ["g1-m1", "g1-m2"]
    advance_clock(manual_server.url, 1)  # the change happens after the sends, as on AWS
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"],
                                  VisibilityTimeout=change)
    advance_clock(manual_server.url, 2)
    assert bodies(_receive_default(sqs, url, 3)) == ["g2-m1", "g1-m1"]


@pytest.mark.parametrize("delete_both", [True, False])
def test_group_order_after_delete(sqs, fifo, delete_both):
    url = fifo()
    for body in ("g1-m1", "g2-m1", "g1-m2", "g2-m2", "g1-m3", "g1-m4", "g3-m1"):
        send(sqs, url, body, group=body.split("-")[0])
    got = receive(sqs, url, n=2)
    assert bodies(got) == ["g1-m1", "g1-m2"]
    delete_all(sqs, url, got if delete_both else got[:1])
    expected = ["g2-m1", "g2-m2", "g1-m3", "g1-m4", "g3-m1"] if delete_both else ["g2-m1", "g2-m2", "g3-m1"]
    assert bodies(receive(sqs, url)) == expected
