"""Dead-letter redrive: StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask."""

from __future__ import annotations

import json

from server import receive_all, wait_until


def arn_of(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]


def fill_dlq(sqs, make_queue, count):
    """A source queue whose `count` messages have been moved to its DLQ; (src, dlq)."""
    dlq = make_queue("dlq")
    src = make_queue("src", attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})})
    for i in range(count):
        sqs.send_message(QueueUrl=src, MessageBody=f"m{i}")
    assert len(receive_all(sqs, src, count, VisibilityTimeout=0)) >= count
    # Each message has been received once; later receives move them to the DLQ instead.

    def all_in_dlq():
        sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10)
        a = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) == count

    assert wait_until(all_in_dlq, timeout=15, interval=0.3)
    return src, dlq


def finished(sqs, dlq_arn):
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn).get("Results", [])
    return tasks and tasks[0]["Status"] in ("COMPLETED", "FAILED", "CANCELLED") and tasks[0]


def test_move_back_to_source(sqs, make_queue):
    src, dlq = fill_dlq(sqs, make_queue, 3)
    dlq_arn = arn_of(sqs, dlq)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    task = wait_until(lambda: finished(sqs, dlq_arn), timeout=30)
    assert task and task["Status"] == "COMPLETED", task
    assert task["SourceArn"] == dlq_arn
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    moved = receive_all(sqs, src, 3)
    assert sorted(m["Body"] for m in moved) == ["m0", "m1", "m2"]
    a = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "0"


def test_move_to_explicit_destination(sqs, make_queue):
    src, dlq = fill_dlq(sqs, make_queue, 2)
    dest = make_queue("dest")
    dlq_arn, dest_arn = arn_of(sqs, dlq), arn_of(sqs, dest)
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                MaxNumberOfMessagesPerSecond=100)
    task = wait_until(lambda: finished(sqs, dlq_arn), timeout=30)
    assert task and task["Status"] == "COMPLETED", task
    assert task.get("DestinationArn") == dest_arn
    assert sorted(m["Body"] for m in receive_all(sqs, dest, 2)) == ["m0", "m1"]
    assert sqs.receive_message(QueueUrl=src, WaitTimeSeconds=1).get("Messages", []) == []
