"""Durability and process lifecycle, each on a private server with its own data directory.

A 2xx answer means the change is on disk: kill -9 must lose nothing acknowledged.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError
from server import error_code, make_client, query_code, unique_name

pytestmark = pytest.mark.timeout(240)


def drain(sqs, url, timeout=60.0) -> list[dict]:
    """Receive and delete everything; stop after an empty 1 s long poll."""
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   VisibilityTimeout=300).get("Messages", [])
        if not msgs:
            break
        got += msgs
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return got


def test_kill_9_loses_nothing_acknowledged(private_server, tmp_path):
    data = tmp_path / "crash-data"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    name = unique_name("durable")
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": "120", "DelaySeconds": "0", "MessageRetentionPeriod": "86400",
        "MaximumMessageSize": "4096", "ReceiveMessageWaitTimeSeconds": "1",
    }, tags={"purpose": "crash-test"})["QueueUrl"]
    other = sqs.create_queue(QueueName=unique_name("other"))["QueueUrl"]

    acked: list[str] = []
    lock = threading.Lock()

    def send_range(start, stop):
        client = make_client(srv.endpoint)
        for i in range(start, stop):
            body = f"msg-{i:04d}"
            client.send_message(QueueUrl=url, MessageBody=body)
            with lock:
                acked.append(body)

    send_range(0, 150)
    threads = [threading.Thread(target=send_range, args=(150 + 50 * t, 200 + 50 * t))
               for t in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for b in range(10):  # 100 more through SendMessageBatch
        entries = [{"Id": f"e{j}", "MessageBody": f"msg-{400 + 10 * b + j:04d}"}
                   for j in range(10)]
        resp = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not resp.get("Failed")
        acked += [e["MessageBody"] for e in entries]
    assert len(acked) == 500

    srv.kill()  # kill -9 straight after the last acknowledgement
    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)

    assert sqs2.get_queue_url(QueueName=name)["QueueUrl"] == url
    listed = sqs2.list_queues().get("QueueUrls", [])
    assert url in listed and other in listed
    attrs = sqs2.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "120"
    assert attrs["MessageRetentionPeriod"] == "86400"
    assert attrs["MaximumMessageSize"] == "4096"
    assert attrs["ReceiveMessageWaitTimeSeconds"] == "1"
    assert attrs["ApproximateNumberOfMessages"] == "500"
    assert sqs2.list_queue_tags(QueueUrl=url)["Tags"] == {"purpose": "crash-test"}

    bodies = [m["Body"] for m in drain(sqs2, url)]
    counts = collections.Counter(bodies)
    missing = set(acked) - set(counts)
    dupes = {b: n for b, n in counts.items() if n > 1}
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {sorted(missing)[:5]}"
    assert not dupes, f"delivered more than once: {list(dupes)[:5]}"
    assert set(counts) == set(acked)


def test_in_flight_state_survives_kill_9(private_server, tmp_path):
    data = tmp_path / "inflight-data"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    url = sqs.create_queue(QueueName=unique_name("inflight"))["QueueUrl"]
    for i in range(10):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    received = []
    while len(received) < 6:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=6 - len(received),
                                        VisibilityTimeout=600).get("Messages", [])
    deleted, held = received[:3], received[3:]
    for m in deleted:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    srv.kill()
    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)

    attrs = sqs2.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "4"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "3"
    visible = drain(sqs2, url)
    assert sorted(m["Body"] for m in visible) == sorted(
        f"m{i}" for i in range(10) if f"m{i}" not in {m["Body"] for m in received})
    # The held messages are still invisible, and their receipt handles still work.
    sqs2.change_message_visibility(QueueUrl=url, ReceiptHandle=held[0]["ReceiptHandle"],
                                   VisibilityTimeout=0)
    [back] = sqs2.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert back["Body"] == held[0]["Body"]
    assert back["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs2.delete_message(QueueUrl=url, ReceiptHandle=held[1]["ReceiptHandle"])
    attrs = sqs2.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "2"


def test_deleted_queue_stays_deleted_after_kill_9(private_server, tmp_path):
    data = tmp_path / "dq-data"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    name = unique_name("gone")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.delete_queue(QueueUrl=url)
    srv.kill()
    srv2 = private_server(data_dir=data, port=srv.port)
    with pytest.raises(ClientError) as exc:
        make_client(srv2.endpoint).get_queue_url(QueueName=name)
    assert error_code(exc.value) == query_code("QueueDoesNotExist")


def test_clean_restart_keeps_everything(private_server, tmp_path):
    data = tmp_path / "clean-data"
    srv = private_server(data_dir=data)
    sqs = make_client(srv.endpoint)
    name = unique_name("clean")
    url = sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "0"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    assert srv.stop() == 0
    srv2 = private_server(data_dir=data, port=srv.port)
    sqs2 = make_client(srv2.endpoint)
    assert [m["Body"] for m in drain(sqs2, url)] == ["kept"]


def test_in_memory_keeps_nothing(private_server):
    srv = private_server(in_memory=True)
    sqs = make_client(srv.endpoint)
    name = unique_name("mem")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="volatile")
    assert [m["Body"] for m in drain(sqs, url)] == ["volatile"]
    sqs.send_message(QueueUrl=url, MessageBody="lost on restart")
    srv.stop()
    srv2 = private_server(in_memory=True, port=srv.port)
    sqs2 = make_client(srv2.endpoint)
    with pytest.raises(ClientError) as exc:
        sqs2.get_queue_url(QueueName=name)
    assert error_code(exc.value) == query_code("QueueDoesNotExist")
    assert sqs2.list_queues().get("QueueUrls", []) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(private_server, sig):
    srv = private_server()
    make_client(srv.endpoint).create_queue(QueueName=unique_name("sig"))
    start = time.monotonic()
    srv.proc.send_signal(sig)
    try:
        code = srv.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running 10 s after {sig.name}:\n{srv.log()}")
    assert code == 0, f"exit code {code} after {sig.name}:\n{srv.log()}"
    assert time.monotonic() - start < 5


def test_sigterm_during_long_poll(private_server):
    """An outstanding 20 s long poll does not hold up shutdown for long."""
    srv = private_server()
    sqs = make_client(srv.endpoint)
    url = sqs.create_queue(QueueName=unique_name("lp"))["QueueUrl"]
    outcome = {}

    def poll():
        try:
            outcome["resp"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        except Exception as e:  # noqa: BLE001 - a dropped connection is acceptable
            outcome["error"] = e

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(1.0)
    start = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"server still running 15 s after SIGTERM with a long poll open:\n{srv.log()}")
    assert code == 0, srv.log()
    assert time.monotonic() - start < 8
    t.join(timeout=10)
    if "resp" in outcome:
        assert outcome["resp"].get("Messages", []) == []
