"""The manual clock end to end (``postroom serve --clock manual``): every engine timer
waits for ``POST /_postroom/clock``, and ``POST /_postroom/reset`` empties everything."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError
from server import error_code, http_get_json
from sns_helpers import HttpEndpoint, confirm_via_url

from postroom.testing import PostroomServer
from postroom.testing.server import PostroomError


@pytest.fixture(scope="module")
def manual(tmp_path_factory):
    server = PostroomServer(log_dir=tmp_path_factory.mktemp("manual-clock")).start()
    yield server
    server.stop()


@pytest.fixture
def pr(manual):
    manual.reset()
    return manual


@pytest.fixture
def sqs(pr):
    return pr.client("sqs")


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def messages(sqs, url: str, **kwargs) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                   **kwargs).get("Messages", [])]


def in_thread(fn):
    """Run ``fn`` in a thread; returns (thread, result list)."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


# -- the control endpoints ---------------------------------------------------------------


def test_clock_reads_and_moves_only_when_told(pr):
    status, state = http_get_json(pr.url + "/_postroom/clock")
    assert status == 200 and state["mode"] == "manual"
    time.sleep(0.05)
    assert pr.now_ms() == state["now_ms"]
    assert pr.advance(1.5) == state["now_ms"] + 1500
    status, moved = post(pr.url + "/_postroom/clock", b'{"now": "2099-01-01T00:00:00Z"}')
    assert status == 200 and moved["now"] == "2099-01-01T00:00:00.000Z"
    assert pr.set_time(moved["now_ms"] + 1) == moved["now_ms"] + 1


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b"{}", b'{"advance_seconds": -1}', b'{"advance_seconds": "5"}',
    b'{"advance_seconds": true}', b'{"advance_seconds": 1, "now_ms": 5}', b'{"now": "yesterday"}',
    b'{"now_ms": 0}', b'{"advance_seconds": 1e300}', b'{"speed": 2}',
])
def test_bad_clock_requests_are_refused(pr, body):
    before = pr.now_ms()
    status, doc = post(pr.url + "/_postroom/clock", body)
    assert status == 400, doc
    assert doc["error"]["code"] == "InvalidRequest" and doc["error"]["message"]
    assert pr.now_ms() == before


def test_the_system_clock_cannot_be_moved(endpoint):
    status, state = http_get_json(endpoint + "/_postroom/clock")
    assert status == 200 and state["mode"] == "system"
    assert abs(state["now_ms"] - time.time() * 1000) < 5000
    status, doc = post(endpoint + "/_postroom/clock", b'{"advance_seconds": 60}')
    assert status == 409 and doc["error"]["code"] == "ClockNotManual"


def test_control_paths_refuse_other_methods(pr):
    request = urllib.request.Request(pr.url + "/_postroom/reset", method="GET")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 405


def test_reset_empties_queues_topics_and_cool_downs(pr, sqs):
    sns, logs, iam = pr.client("sns"), pr.client("logs"), pr.client("iam")
    logs.create_log_group(logGroupName="kept")
    iam.create_user(UserName="kept")
    url = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    topic = sns.create_topic(Name="t")["TopicArn"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    sqs.purge_queue(QueueUrl=url)
    pr.reset()
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert sns.list_topics()["Topics"] == [] and sns.list_subscriptions()["Subscriptions"] == []
    assert logs.describe_log_groups()["logGroups"] == []
    logs.create_log_group(logGroupName="kept")  # no cached copy says it exists
    assert iam.list_users()["Users"] == []
    iam.create_user(UserName="kept")
    with pytest.raises(ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="m")
    assert error_code(info.value) in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
    again = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sqs.purge_queue(QueueUrl=again)  # no cool-down left over from before the reset
    assert messages(sqs, again) == []


# -- SQS timers --------------------------------------------------------------------------


def test_delay_seconds(pr, sqs):
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    pr.advance(899)
    assert messages(sqs, url) == []
    pr.advance(1)
    assert messages(sqs, url) == ["later"]


def test_visibility_timeout_and_change(pr, sqs):
    url = sqs.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [m] = sqs.receive_message(QueueUrl=url)["Messages"]
    pr.advance(29.9)
    assert messages(sqs, url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=600)
    pr.advance(599)
    assert messages(sqs, url) == []
    pr.advance(1)
    got = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_retention_deletes_visible_and_in_flight_messages(pr, sqs):
    """(Moved here from a real-time test that waited the 60 s minimum retention.)"""
    url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    [inflight] = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody="visible")
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    before = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert [before[k] for k in counts] == ["1", "1"]
    pr.advance(59)
    assert messages(sqs, url, VisibilityTimeout=0) == ["visible"]
    pr.advance(2)
    deadline = time.monotonic() + 5  # the sweep runs on its own task once time has moved
    while True:
        after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if [after[k] for k in counts] == ["0", "0"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [after[k] for k in counts] == ["0", "0"]
    assert messages(sqs, url) == []
    try:  # releasing the expired in-flight message must not bring it back (an error is fine)
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=inflight["ReceiptHandle"],
                                      VisibilityTimeout=0)
    except ClientError:
        pass
    assert messages(sqs, url) == []


def test_long_poll_deadline_is_engine_time(pr, sqs):
    url = sqs.create_queue(QueueName="poll")["QueueUrl"]
    thread, out = in_thread(lambda: messages(sqs, url, WaitTimeSeconds=20))
    time.sleep(0.5)
    assert thread.is_alive(), "a 20 s long poll returned after 0.5 s of real time"
    pr.advance(20)
    thread.join(5)
    assert out == [[]]


def test_long_poll_wakes_when_a_delay_ends(pr, sqs):
    url = sqs.create_queue(QueueName="poll-delay")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="soon", DelaySeconds=10)
    thread, out = in_thread(lambda: messages(sqs, url, WaitTimeSeconds=20))
    time.sleep(0.3)
    assert thread.is_alive()
    pr.advance(10)
    thread.join(5)
    assert out == [["soon"]]


def test_fifo_deduplication_window(pr, sqs):
    url = sqs.create_queue(QueueName="dedup.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    send = dict(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="d")
    first = sqs.send_message(**send)["MessageId"]
    pr.advance(299)
    assert sqs.send_message(**send)["MessageId"] == first  # still a duplicate
    pr.advance(1)
    assert sqs.send_message(**send)["MessageId"] != first
    assert messages(sqs, url) == ["m", "m"]  # two messages now, not three


def test_purge_and_delete_cool_downs(pr, sqs):
    url = sqs.create_queue(QueueName="cool")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    pr.advance(59)
    with pytest.raises(ClientError) as info:
        sqs.purge_queue(QueueUrl=url)
    assert "PurgeQueueInProgress" in error_code(info.value)
    pr.advance(1)
    sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    pr.advance(59)
    with pytest.raises(ClientError) as info:
        sqs.create_queue(QueueName="cool")
    assert "QueueDeletedRecently" in error_code(info.value)
    pr.advance(1)
    sqs.create_queue(QueueName="cool")


def test_throttled_move_task_moves_per_engine_second(pr, sqs):
    dlq = sqs.create_queue(QueueName="moves-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    src = sqs.create_queue(QueueName="moves-src", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    src_arn = sqs.get_queue_attributes(QueueUrl=src, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for i in range(6):
        sqs.send_message(QueueUrl=dlq, MessageBody=str(i))
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=src_arn, MaxNumberOfMessagesPerSecond=2)

    def moved() -> int:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        return tasks[0]["ApproximateNumberOfMessagesMoved"]

    deadline = time.monotonic() + 5
    while moved() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert moved() == 2  # one second's worth; the next chunk waits for engine time
    pr.advance(1)
    deadline = time.monotonic() + 5
    while moved() < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert moved() == 4


# -- SNS ---------------------------------------------------------------------------------


def test_sns_http_retry_waits_for_engine_time(pr):
    sns = pr.client("sns")
    topic = sns.create_topic(Name="retried")["TopicArn"]
    hook = HttpEndpoint(statuses=[500]).start()
    try:
        arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url,
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
        confirm_via_url(hook, sns, arn)
        sns.publish(TopicArn=topic, Message="hello")
        assert len(hook.wait_for("Notification", 1)) == 1
        time.sleep(0.5)
        assert len(hook.of_type("Notification")) == 1  # AWS's default policy: retry after 20 s
        pr.advance(20)
        got = hook.wait_for("Notification", 2, timeout=5)
        assert len(got) == 2 and got[1].json()["Message"] == "hello"
    finally:
        hook.stop()


def test_plugin_server_refuses_control_after_stop(tmp_path):
    server = PostroomServer(clock="system", log_dir=tmp_path).start()
    try:
        with pytest.raises(PostroomError, match="ClockNotManual"):
            server.advance(1)
    finally:
        server.stop()


# -- Lambda ------------------------------------------------------------------------------

RECORDS_ATTEMPT = """\
import boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=event["url"], MessageBody="attempt")
    raise RuntimeError("always fails")
"""


def count_messages(sqs, url: str, expected: int, timeout: float = 20.0) -> int:
    """Receive (without waiting on the engine's clock) until ``expected`` arrived or time is up."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        seen += len(got)
        if not got:
            time.sleep(0.05)
    return seen


def test_async_invoke_retries_wait_for_engine_time(pr, sqs):
    from lambda_helpers import create_function

    lam = pr.client("lambda")
    attempts = sqs.create_queue(QueueName="attempts")["QueueUrl"]
    name = create_function(lam, {"app.py": RECORDS_ATTEMPT})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"url": attempts}).encode())
    assert count_messages(sqs, attempts, 1) == 1
    time.sleep(0.5)
    assert count_messages(sqs, attempts, 1, timeout=0.2) == 0  # AWS: the retry is a minute later
    pr.advance(60)
    assert count_messages(sqs, attempts, 1) == 1
    pr.advance(119)
    assert count_messages(sqs, attempts, 1, timeout=0.5) == 0  # and the next two minutes later
    pr.advance(1)
    assert count_messages(sqs, attempts, 1) == 1
    pr.advance(3600)
    assert count_messages(sqs, attempts, 1, timeout=0.5) == 0  # two retries, then no more


def test_functions_and_their_logs_work_while_time_stands_still(pr):
    from lambda_helpers import create_function

    lam, logs = pr.client("lambda"), pr.client("logs")
    name = create_function(lam, {"app.py": "def handler(event, context):\n    print('hi', event)\n    return 1\n"})
    before = pr.now_ms()
    assert json.loads(lam.invoke(FunctionName=name, Payload=b'{"n": 1}')["Payload"].read()) == 1
    deadline = time.monotonic() + 10  # lines are flushed on real time, not engine time
    lines: list[str] = []
    while not any("hi {'n': 1}" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            continue  # the group is made with the first lines' commit (lazily, as on AWS)
        lines = [e["message"] for e in found]
    assert any("hi {'n': 1}" in line for line in lines), lines
    assert pr.now_ms() == before
    pr.reset()
    assert lam.list_functions()["Functions"] == []
