"""The in-flight limit (OverLimit) and message-move task lifecycle: errors, cancel,
ListMessageMoveTasks counters, and a task that survives kill -9."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from server import ServerProcess, advance_clock, error_code, unique_name, wait_until


class LimitedServer(ServerProcess):
    """A private server with a low in-flight limit."""

    def command(self) -> list[str]:
        return super().command() + ["--sqs-max-in-flight", "5", "--clock", "manual"]


def _sqs(endpoint):
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def test_over_limit_when_in_flight_limit_is_reached(tmp_path):
    server = LimitedServer(tmp_path / "data", log_dir=tmp_path).start()
    try:
        sqs = _sqs(server.endpoint)
        url = sqs.create_queue(QueueName="lim", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(8)])
        assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5)["Messages"]) == 5
        with pytest.raises(Exception) as info:
            sqs.receive_message(QueueUrl=url)
        assert error_code(info.value) == "OverLimit"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        # Once the visibility timeout ends (and the count is retaken) receives work again.
        advance_clock(server.endpoint, 2.2)
        assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    finally:
        server.stop()


def _arn(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _fill_dlq(sqs, count):
    dlq = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    src = sqs.create_queue(QueueName=unique_name("src"), Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": _arn(sqs, dlq), "maxReceiveCount": 1}),
    })["QueueUrl"]
    for i in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=src, Entries=[
            {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(min(10, count - i))])
    while sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10).get("Messages"):
        pass  # each message is received once, then moved to the DLQ on the next receive
    wait_until(lambda: int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])[
        "Attributes"]["ApproximateNumberOfMessages"]) == count)
    return src, dlq


def test_move_task_errors_cancel_and_listing(json_sqs):
    sqs = json_sqs
    src, dlq = _fill_dlq(sqs, 20)
    dlq_arn = _arn(sqs, dlq)
    with pytest.raises(Exception) as info:
        sqs.start_message_move_task(SourceArn=_arn(sqs, src))  # not a dead-letter queue
    assert error_code(info.value) == "InvalidParameterValue"
    with pytest.raises(Exception) as info:
        sqs.start_message_move_task(SourceArn=dlq_arn.replace("dlq", "nope"))
    assert error_code(info.value) == "ResourceNotFoundException"
    with pytest.raises(Exception) as info:
        sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=501)
    assert error_code(info.value) == "InvalidParameterValue"

    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    with pytest.raises(Exception) as info:
        sqs.start_message_move_task(SourceArn=dlq_arn)  # one active task per source
    assert error_code(info.value) == "InvalidParameterValue"
    [running] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["ApproximateNumberOfMessagesToMove"] == 20
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert moved < 20
    [done] = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert done["Status"] == "CANCELLED" and "TaskHandle" not in done
    with pytest.raises(Exception) as info:
        sqs.cancel_message_move_task(TaskHandle="foobared")
    assert error_code(info.value) == "InvalidParameterValue"


def test_move_task_resumes_after_kill_9(private_server):
    server = private_server()
    sqs = _sqs(server.endpoint)
    src, dlq = _fill_dlq(sqs, 12)
    dlq_arn = _arn(sqs, dlq)
    sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=4)
    time.sleep(1.2)
    server.kill()
    server = private_server(data_dir=server.data_dir, port=server.port)
    sqs = _sqs(server.endpoint)
    wait_until(lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED",
               timeout=20)
    [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
    assert task["ApproximateNumberOfMessagesMoved"] == 12
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not got:
            break
        bodies += [m["Body"] for m in got]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(12))
