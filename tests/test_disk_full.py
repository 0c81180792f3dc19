"""Issue 11, defect 4: a full disk answers 503 ServiceUnavailable (not a 500), receives and
deletes keep working so queues can be drained, the log says so once, and writes resume by
themselves when space returns. Runs on a small tmpfs; skipped where mounting is impossible."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError
from server import ServerProcess, make_client, on_postgres, unique_name
from sns_helpers import sns_client

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(on_postgres(), reason="SQLite's full disk (PostgreSQL manages its own)"),
]


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount_point)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _fill(directory) -> os.PathLike:
    """Take every free byte of the disk with a filler file."""
    filler = directory / f"filler-{uuid.uuid4().hex[:6]}"
    chunk = bytes(1024 * 1024)
    with open(filler, "wb", buffering=0) as f:
        for size in (1024 * 1024, 4096, 1):
            try:
                while True:
                    f.write(chunk[:size])
            except OSError:
                pass
    return filler


def _status(error: ClientError) -> int:
    return error.response["ResponseMetadata"]["HTTPStatusCode"]


def test_full_disk_refuses_writes_keeps_draining_and_recovers(small_disk, private_server):
    server = private_server(data_dir=small_disk / "data")
    sqs, query_sqs, sns = make_client(server.endpoint), make_client(server.endpoint, "query"), sns_client(server.endpoint)
    url = sqs.create_queue(QueueName=unique_name("full"))["QueueUrl"]
    topic = sns.create_topic(Name=unique_name("full"))["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
    for i in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"before {i}")
    filler = _fill(small_disk)

    body = "x" * 200_000
    refused = None
    for _ in range(500):  # the WAL may still have room for a few sends
        try:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        except ClientError as error:
            refused = error
            break
    assert refused is not None, "sends never failed on a full disk"
    assert _status(refused) == 503
    assert refused.response["Error"]["Code"] == "ServiceUnavailable"
    assert "storage is full" in refused.response["Error"]["Message"]
    for client in (sqs, query_sqs):  # both protocols, and every kind of write
        with pytest.raises(ClientError) as caught:
            client.send_message(QueueUrl=url, MessageBody="small")
        assert _status(caught.value) == 503
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic, Message="m")
    assert _status(caught.value) == 503
    # A failed write leaves the cached record as it was (issue 11: cache updated before commit).
    with pytest.raises(ClientError) as caught:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="new")
    assert _status(caught.value) == 503
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("DisplayName", "") == ""
    with pytest.raises(ClientError) as caught:
        sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="RawMessageDelivery",
                                        AttributeValue="true")
    assert _status(caught.value) == 503
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert attributes["RawMessageDelivery"] == "false"

    # Draining still works: receive and delete everything that was stored.
    drained = 0
    for _ in range(30):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        drained += len(got)
    assert drained >= 20

    os.unlink(filler)  # space returns: writes resume without a restart
    sqs.send_message(QueueUrl=url, MessageBody="after")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="new")
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "new"
    [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert message["Body"] == "after"

    log = server.log()
    assert log.count("storage is full") == 1, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert "writes resume" in log


def test_restart_on_a_full_disk_drains_and_recovers(small_disk, private_server):
    server = private_server(data_dir=small_disk / "data")
    sqs = make_client(server.endpoint)
    url = sqs.create_queue(QueueName=unique_name("restart"))["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"kept {i}")
    server.stop()
    filler = _fill(small_disk)
    server.start()  # the reserve left by the last run makes room to open the database
    with pytest.raises(ClientError) as caught:
        for _ in range(200):
            sqs.send_message(QueueUrl=url, MessageBody="x" * 100_000)
    assert _status(caught.value) == 503
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == [f"kept {i}" for i in range(5)]
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    os.unlink(filler)
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert "Traceback" not in server.log()


def test_first_start_on_a_full_disk_fails_clearly(small_disk, tmp_path):
    filler = _fill(small_disk)
    proc = ServerProcess(small_disk / "fresh", log_dir=tmp_path)
    done = subprocess.run(proc.command(), capture_output=True, text=True, timeout=30, cwd=str(tmp_path))
    os.unlink(filler)
    assert done.returncode != 0
    assert "is full" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
