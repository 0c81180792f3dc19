"""OverLimit: ReceiveMessage refuses once a queue holds the maximum of in-flight messages.

AWS's limit is about 120,000 per standard queue; a private server started with
`--sqs-max-in-flight 5` makes it reachable. The server recounts in-flight messages at most
once a second (AWS's count is approximate too), so after a delete or a visibility expiry
the tests move the server's manual clock a little over a second before expecting receives
to work again.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError
from server import ServerProcess, advance_clock, error_code, make_client, unique_name, wait_until

LIMIT = 5
RECOUNT_WAIT = 1.3  # > the server's 1 s recount interval


class LimitedServer(ServerProcess):
    def command(self) -> list[str]:
        return super().command() + ["--sqs-max-in-flight", str(LIMIT), "--clock", "manual"]


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    if os.environ.get("POSTROOM_TEST_ENDPOINT"):
        pytest.skip("needs a private server (POSTROOM_TEST_ENDPOINT is set)")
    data = tmp_path_factory.mktemp("over-limit")
    srv = LimitedServer(data / "data", log_dir=data).start()
    yield srv
    srv.stop()


@pytest.fixture
def limited(request, limited_server, protocol, _query_model):
    """A client of the limited server, in the test's protocol; its log is attached to
    failures."""
    request.node.postroom_servers = [limited_server]
    return make_client(limited_server.endpoint, protocol)


def receive(sqs, url, n=1, visibility=60):
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=n,
                               VisibilityTimeout=visibility).get("Messages", [])


def assert_over_limit(sqs, url):
    with pytest.raises(ClientError) as exc:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    assert error_code(exc.value) == "OverLimit", exc.value.response
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def fill(sqs, url, count):
    resp = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": f"m{i}"} for i in range(count)])
    assert not resp.get("Failed")


def test_over_limit_until_deleted(limited):
    sqs = limited
    url = sqs.create_queue(QueueName=unique_name("limit"))["QueueUrl"]
    fill(sqs, url, 10)  # + 1 sent below; 6 received and deleted, 5 left
    held = []
    for _ in range(LIMIT):
        [msg] = receive(sqs, url)
        held.append(msg)
    assert_over_limit(sqs, url)
    # Sends, queue attributes and deletes still work while receives are refused.
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesNotVisible"] == str(LIMIT)
    sqs.send_message(QueueUrl=url, MessageBody="still accepted")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held.pop()["ReceiptHandle"])
    advance_clock(limited.meta.endpoint_url, RECOUNT_WAIT)
    [msg] = receive(sqs, url)
    held.append(msg)
    assert_over_limit(sqs, url)
    # Other queues have their own count.
    other = sqs.create_queue(QueueName=unique_name("other"))["QueueUrl"]
    sqs.send_message(QueueUrl=other, MessageBody="x")
    assert receive(sqs, other)
    for m in held:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    advance_clock(limited.meta.endpoint_url, RECOUNT_WAIT)
    assert len(receive(sqs, url, n=LIMIT)) == LIMIT


def test_over_limit_until_visibility_expires(limited):
    sqs = limited
    url = sqs.create_queue(QueueName=unique_name("limit"))["QueueUrl"]
    fill(sqs, url, 6)
    for _ in range(LIMIT):
        assert receive(sqs, url, visibility=1)
    assert_over_limit(sqs, url)
    advance_clock(sqs.meta.endpoint_url, 1 + RECOUNT_WAIT)  # visible again, and recounted

    def receives():
        try:
            return receive(sqs, url, n=LIMIT, visibility=60)
        except ClientError as e:
            if error_code(e) != "OverLimit":
                raise
            return []

    got = wait_until(receives, timeout=10, interval=0.2)
    assert got, "receives should work again once the visibility timeouts have expired"


def test_over_limit_on_fifo_queue(limited):
    sqs = limited
    url = sqs.create_queue(QueueName=unique_name("limit") + ".fifo",
                           Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(LIMIT + 2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId=f"g{i}",
                         MessageDeduplicationId=f"d{i}")
    for _ in range(LIMIT):
        assert receive(sqs, url)
    assert_over_limit(sqs, url)


def test_new_queue_starts_with_nothing_in_flight(limited):
    """A queue created right after another was deleted does not inherit its in-flight
    count (AWS counts a queue's own in-flight messages)."""
    sqs = limited
    old = sqs.create_queue(QueueName=unique_name("old"))["QueueUrl"]
    fill(sqs, old, LIMIT)
    assert len(receive(sqs, old, n=LIMIT)) == LIMIT
    sqs.delete_queue(QueueUrl=old)
    new = sqs.create_queue(QueueName=unique_name("new"))["QueueUrl"]
    sqs.send_message(QueueUrl=new, MessageBody="first")
    [msg] = receive(sqs, new)
    assert msg["Body"] == "first"
