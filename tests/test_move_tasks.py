"""Dead-letter redrive: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask,
DeadLetterQueueSourceArn and RedriveAllowPolicy.

Tasks run in the background: every check polls with a generous timeout and nothing assumes
how fast the machine is.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from server import error_code, make_client, unique_name, wait_until

FINAL = ("COMPLETED", "FAILED", "CANCELLED")


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def counts(sqs, url) -> tuple[int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def redrive(dlq_arn, max_receive_count=1):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})


def dead_letter(sqs, src, dlq, bodies):
    """Send `bodies` to `src` (whose maxReceiveCount is 1) and receive until all of them
    have moved to `dlq`."""
    for start in range(0, len(bodies), 10):
        resp = sqs.send_message_batch(QueueUrl=src, Entries=[
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:start + 10])])
        assert not resp.get("Failed")
    already = counts(sqs, dlq)[0]

    def all_moved():
        # The first receive of each message counts 1; the next one moves it instead.
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return counts(sqs, dlq)[0] == already + len(bodies)

    assert wait_until(all_moved, timeout=30, interval=0.05)


def fill_dlq(sqs, make_queue, count, prefix="m"):
    """A source queue whose `count` messages have been moved to its DLQ: (src, dlq)."""
    dlq = make_queue("dlq")
    src = make_queue("src", attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq))})
    dead_letter(sqs, src, dlq, [f"{prefix}{i:02d}" for i in range(count)])
    return src, dlq


def tasks(sqs, dlq_arn, **kwargs):
    return sqs.list_message_move_tasks(SourceArn=dlq_arn, **kwargs).get("Results", [])


def wait_for_status(sqs, dlq_arn, statuses=FINAL, timeout=60):
    def check():
        found = tasks(sqs, dlq_arn)
        return found and found[0]["Status"] in statuses and found[0]

    task = wait_until(check, timeout=timeout, interval=0.1)
    assert task, f"no task reached {statuses}: {tasks(sqs, dlq_arn)}"
    return task


def drain(sqs, url, timeout=30.0, expected=None) -> list[dict]:
    """Receive and delete until `expected` messages arrived, or until an empty 1 s poll."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (expected is None or len(got) < expected):
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=60,
                                   AttributeNames=["All"]).get("Messages", [])
        if not msgs and expected is None:
            break
        got += msgs
        for m in msgs:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def assert_error(call, code):
    with pytest.raises(ClientError) as exc:
        call()
    assert error_code(exc.value) == code, exc.value.response
    return exc.value


def make_handle(task_id, source_arn):
    """A task handle in AWS's format: base64 of {"taskId": ..., "sourceArn": ...}."""
    doc = json.dumps({"taskId": task_id, "sourceArn": source_arn}, separators=(",", ":"))
    return base64.b64encode(doc.encode()).decode()


# --------------------------------------------------------------------------- start


def test_move_back_to_each_original_source(sqs, make_queue):
    dlq = make_queue("dlq")
    dlq_arn = arn_of(sqs, dlq)
    one = make_queue("one", attributes={"RedrivePolicy": redrive(dlq_arn)})
    two = make_queue("two", attributes={"RedrivePolicy": redrive(dlq_arn)})
    dead_letter(sqs, one, dlq, ["one-a", "one-b"])
    dead_letter(sqs, two, dlq, ["two-a", "two-b", "two-c"])

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    task = wait_for_status(sqs, dlq_arn)
    assert task["Status"] == "COMPLETED", task
    assert task["SourceArn"] == dlq_arn
    assert "DestinationArn" not in task
    assert "TaskHandle" not in task, "TaskHandle only while RUNNING"
    assert task["ApproximateNumberOfMessagesMoved"] == 5
    assert task["ApproximateNumberOfMessagesToMove"] == 5
    assert isinstance(task["StartedTimestamp"], int) and task["StartedTimestamp"] > 0
    assert sorted(m["Body"] for m in drain(sqs, one, expected=2)) == ["one-a", "one-b"]
    assert sorted(m["Body"] for m in drain(sqs, two, expected=3)) == ["two-a", "two-b", "two-c"]
    assert counts(sqs, dlq) == (0, 0)


def test_move_to_destination_arn(sqs, make_queue):
    src, dlq = fill_dlq(sqs, make_queue, 3)
    dest = make_queue("dest")
    dlq_arn, dest_arn = arn_of(sqs, dlq), arn_of(sqs, dest)
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                MaxNumberOfMessagesPerSecond=100)
    task = wait_for_status(sqs, dlq_arn)
    assert task["Status"] == "COMPLETED", task
    assert task["DestinationArn"] == dest_arn
    assert task["MaxNumberOfMessagesPerSecond"] == 100
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert sorted(m["Body"] for m in drain(sqs, dest, expected=3)) == ["m00", "m01", "m02"]
    assert drain(sqs, src) == []
    assert counts(sqs, dlq) == (0, 0)


@pytest.mark.parametrize("rate", [0, -1, 501, 1000])
def test_rate_out_of_range_rejected(sqs, make_queue, rate):
    dlq = make_queue("dlq")
    make_queue("src", attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq))})
    assert_error(lambda: sqs.start_message_move_task(
        SourceArn=arn_of(sqs, dlq), MaxNumberOfMessagesPerSecond=rate), "InvalidParameterValue")
    assert tasks(sqs, arn_of(sqs, dlq)) == []


def test_source_that_is_not_a_dead_letter_queue_rejected(sqs, make_queue):
    """AWS: InvalidParameterValue, "Source queue must be configured as a Dead Letter Queue."."""
    plain, dest = make_queue("plain"), make_queue("dest")
    assert_error(lambda: sqs.start_message_move_task(
        SourceArn=arn_of(sqs, plain), DestinationArn=arn_of(sqs, dest)), "InvalidParameterValue")


def test_missing_source_or_destination(sqs, make_queue):
    missing = f"arn:aws:sqs:us-east-1:000000000000:{unique_name('missing')}"
    assert_error(lambda: sqs.start_message_move_task(SourceArn=missing),
                 "ResourceNotFoundException")
    assert_error(lambda: sqs.list_message_move_tasks(SourceArn=missing),
                 "ResourceNotFoundException")
    src, dlq = fill_dlq(sqs, make_queue, 1)
    assert_error(lambda: sqs.start_message_move_task(
        SourceArn=arn_of(sqs, dlq), DestinationArn=missing), "ResourceNotFoundException")


def test_second_task_on_the_same_source_rejected(sqs, make_queue):
    """AWS (recorded): InvalidParameterValue, "There is already a task running. Only one
    active task is allowed for a source queue arn at a given time."."""
    src, dlq = fill_dlq(sqs, make_queue, 10)
    dlq_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn,
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    try:
        err = assert_error(lambda: sqs.start_message_move_task(SourceArn=dlq_arn),
                           "InvalidParameterValue")
        assert "already a task running" in err.response["Error"]["Message"]
    finally:
        try:
            sqs.cancel_message_move_task(TaskHandle=handle)
        except ClientError:
            pass
    wait_for_status(sqs, dlq_arn)
    # Once the first task has ended, a new one may start.
    sqs.start_message_move_task(SourceArn=dlq_arn)
    assert wait_for_status(sqs, dlq_arn)["Status"] == "COMPLETED"
    assert len(drain(sqs, src, expected=10)) == 10


# --------------------------------------------------------------------------- cancel, list


def test_cancel_slow_task_and_list_history(sqs, make_queue):
    count = 20
    src, dlq = fill_dlq(sqs, make_queue, count)
    dest = make_queue("dest")
    dlq_arn, dest_arn = arn_of(sqs, dlq), arn_of(sqs, dest)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                         MaxNumberOfMessagesPerSecond=1)["TaskHandle"]

    [running] = tasks(sqs, dlq_arn)
    assert running["Status"] == "RUNNING"
    assert running["TaskHandle"] == handle
    assert running["ApproximateNumberOfMessagesToMove"] == count
    assert running["MaxNumberOfMessagesPerSecond"] == 1
    assert running["DestinationArn"] == dest_arn

    def some_moved():
        [t] = tasks(sqs, dlq_arn)
        return t["Status"] == "RUNNING" and t["ApproximateNumberOfMessagesMoved"] >= 1 and t

    assert wait_until(some_moved, timeout=30, interval=0.1), tasks(sqs, dlq_arn)
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle)
    assert 0 <= cancelled["ApproximateNumberOfMessagesMoved"] < count

    task = wait_for_status(sqs, dlq_arn, statuses=("CANCELLED",))
    assert "TaskHandle" not in task
    moved = task["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < count
    time.sleep(2.5)  # a cancelled task moves nothing more
    assert tasks(sqs, dlq_arn)[0]["ApproximateNumberOfMessagesMoved"] == moved
    assert counts(sqs, dlq) == (count - moved, 0)
    assert len(drain(sqs, dest, expected=moved)) == moved

    # A new task moves the rest; ListMessageMoveTasks shows the newest first.
    sqs.start_message_move_task(SourceArn=dlq_arn)
    wait_for_status(sqs, dlq_arn)
    assert [t["Status"] for t in tasks(sqs, dlq_arn)] == ["COMPLETED"]  # default: 1 result
    assert [t["Status"] for t in tasks(sqs, dlq_arn, MaxResults=1)] == ["COMPLETED"]
    history = tasks(sqs, dlq_arn, MaxResults=10)
    assert [t["Status"] for t in history] == ["COMPLETED", "CANCELLED"]
    assert history[0]["ApproximateNumberOfMessagesToMove"] == count - moved
    assert history[0]["ApproximateNumberOfMessagesMoved"] == count - moved
    assert history[0]["StartedTimestamp"] >= history[1]["StartedTimestamp"]
    assert all("TaskHandle" not in t for t in history)
    assert len(drain(sqs, src, expected=count - moved)) == count - moved
    assert counts(sqs, dlq) == (0, 0)


def test_cancel_unknown_task_handle(sqs, make_queue):
    """AWS (recorded): a well-formed handle naming an existing queue but no task is
    ResourceNotFoundException "Task does not exist."."""
    dlq = make_queue("dlq")
    make_queue("src", attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq))})
    handle = make_handle(str(uuid.uuid4()), arn_of(sqs, dlq))
    assert_error(lambda: sqs.cancel_message_move_task(TaskHandle=handle),
                 "ResourceNotFoundException")


def test_cancel_malformed_task_handle(sqs):
    """AWS (recorded): a handle that does not decode is InvalidParameterValue, "Value for
    parameter TaskHandle is invalid."."""
    assert_error(lambda: sqs.cancel_message_move_task(TaskHandle="foobared"),
                 "InvalidParameterValue")


def test_cancel_finished_task_rejected(sqs, make_queue):
    src, dlq = fill_dlq(sqs, make_queue, 1)
    dlq_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert wait_for_status(sqs, dlq_arn)["Status"] == "COMPLETED"
    with pytest.raises(ClientError):
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert tasks(sqs, dlq_arn)[0]["Status"] == "COMPLETED"


# --------------------------------------------------------------------------- attributes


def test_dead_letter_queue_source_arn(sqs, make_queue):
    src, dlq = fill_dlq(sqs, make_queue, 2)
    src_arn = arn_of(sqs, src)
    msgs = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0,
                               AttributeNames=["All"])["Messages"]
    assert len(msgs) == 2
    assert all(m["Attributes"]["DeadLetterQueueSourceArn"] == src_arn for m in msgs)
    only = sqs.receive_message(QueueUrl=dlq, AttributeNames=["DeadLetterQueueSourceArn"],
                               VisibilityTimeout=0)["Messages"][0]
    assert only["Attributes"] == {"DeadLetterQueueSourceArn": src_arn}
    # Messages sent straight to a queue carry no DeadLetterQueueSourceArn.
    sqs.send_message(QueueUrl=src, MessageBody="fresh")
    [fresh] = sqs.receive_message(QueueUrl=src, AttributeNames=["All"])["Messages"]
    assert "DeadLetterQueueSourceArn" not in fresh["Attributes"]


@pytest.mark.parametrize("allow", [
    {"redrivePermission": "denyAll"},
    {"redrivePermission": "byQueue", "sourceQueueArns": ["OTHER"]},
], ids=["denyAll", "byQueue-excluding"])
def test_redrive_allow_policy_refuses_source(sqs, make_queue, allow):
    other_arn = arn_of(sqs, make_queue("other"))
    if "sourceQueueArns" in allow:
        allow = {**allow, "sourceQueueArns": [other_arn]}
    dlq = make_queue("dlq", attributes={"RedriveAllowPolicy": json.dumps(allow)})
    dlq_arn = arn_of(sqs, dlq)
    src = make_queue("src")
    assert_error(lambda: sqs.set_queue_attributes(
        QueueUrl=src, Attributes={"RedrivePolicy": redrive(dlq_arn)}), "InvalidParameterValue")
    assert_error(lambda: sqs.create_queue(
        QueueName=unique_name("src2"), Attributes={"RedrivePolicy": redrive(dlq_arn)}),
        "InvalidParameterValue")
    a = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["All"])["Attributes"]
    assert "RedrivePolicy" not in a


@pytest.mark.parametrize("permission", ["byQueue", "allowAll"])
def test_redrive_allow_policy_admits_source(sqs, make_queue, permission):
    src = make_queue("src")
    src_arn = arn_of(sqs, src)
    allow = {"redrivePermission": permission}
    if permission == "byQueue":
        allow["sourceQueueArns"] = [arn_of(sqs, make_queue("other")), src_arn]
    dlq = make_queue("dlq", attributes={"RedriveAllowPolicy": json.dumps(allow)})
    sqs.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": redrive(arn_of(sqs, dlq))})
    dead_letter(sqs, src, dlq, ["poison"])
    [msg] = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert msg["Body"] == "poison"
    assert msg["Attributes"]["DeadLetterQueueSourceArn"] == src_arn


# --------------------------------------------------------------------------- restart


@pytest.mark.timeout(180)
def test_task_interrupted_by_kill_9_completes_after_restart(private_server, tmp_path):
    count = 8
    data = tmp_path / "move-crash"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    dlq = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    src = sqs.create_queue(QueueName=unique_name("src"),
                           Attributes={"RedrivePolicy": redrive(dlq_arn)})["QueueUrl"]
    dead_letter(sqs, src, dlq, [f"m{i:02d}" for i in range(count)])
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)

    def partly_moved():
        [t] = tasks(sqs, dlq_arn)
        return t["Status"] == "RUNNING" and t["ApproximateNumberOfMessagesMoved"] >= 2 and t

    assert wait_until(partly_moved, timeout=60, interval=0.1), tasks(sqs, dlq_arn)
    srv.kill()

    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)
    task = wait_for_status(sqs2, dlq_arn, timeout=90)
    assert task["Status"] == "COMPLETED", task
    assert task["ApproximateNumberOfMessagesMoved"] == count
    assert task["ApproximateNumberOfMessagesToMove"] == count
    got = drain(sqs2, src, expected=count, timeout=60)
    assert drain(sqs2, src) == [], "a message was moved twice"
    assert sorted(m["Body"] for m in got) == [f"m{i:02d}" for i in range(count)]
    assert counts(sqs2, dlq) == (0, 0)
