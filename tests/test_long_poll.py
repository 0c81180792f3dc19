"""Long polling: WaitTimeSeconds and ReceiveMessageWaitTimeSeconds.

Timing assertions are deliberately loose: a woken poll must return well before its wait
time, and an empty poll must not return much earlier than asked.
"""

from __future__ import annotations

import threading
import time

from server import receive_all


class Poller(threading.Thread):
    """Runs one receive_message call in the background and records its duration."""

    def __init__(self, sqs, url, **kwargs):
        super().__init__(daemon=True)
        self.sqs, self.url, self.kwargs = sqs, url, kwargs
        self.result = None
        self.error = None
        self.elapsed = None
        self.started = threading.Event()

    def run(self):
        self.started.set()
        start = time.monotonic()
        try:
            self.result = self.sqs.receive_message(QueueUrl=self.url, **self.kwargs)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.elapsed = time.monotonic() - start

    def messages(self):
        assert self.error is None, self.error
        return self.result.get("Messages", [])


def test_empty_long_poll_waits(sqs, queue_url):
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)
    elapsed = time.monotonic() - start
    assert resp.get("Messages", []) == []
    assert elapsed >= 1.8, f"returned after {elapsed:.2f} s, asked to wait 2 s"
    assert elapsed < 10


def test_long_poll_wakes_on_send(sqs, queue_url, client_factory, protocol):
    sender = client_factory(protocol)
    poller = Poller(sqs, queue_url, WaitTimeSeconds=10)
    poller.start()
    poller.started.wait()
    time.sleep(0.5)
    sender.send_message(QueueUrl=queue_url, MessageBody="wake up")
    poller.join(timeout=30)
    assert not poller.is_alive()
    assert [m["Body"] for m in poller.messages()] == ["wake up"]
    assert poller.elapsed < 5, f"long poll returned after {poller.elapsed:.2f} s"


def test_long_poll_wakes_on_batch_send(sqs, queue_url, client_factory, protocol):
    sender = client_factory(protocol)
    poller = Poller(sqs, queue_url, WaitTimeSeconds=10, MaxNumberOfMessages=10)
    poller.start()
    poller.started.wait()
    time.sleep(0.5)
    sender.send_message_batch(QueueUrl=queue_url, Entries=[
        {"Id": str(i), "MessageBody": f"b{i}"} for i in range(3)])
    poller.join(timeout=30)
    assert 1 <= len(poller.messages()) <= 3
    assert poller.elapsed < 5


def test_long_poll_returns_existing_message_at_once(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="ready")
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
    assert [m["Body"] for m in resp["Messages"]] == ["ready"]
    assert time.monotonic() - start < 3


def test_long_poll_wakes_when_delay_ends(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="delayed", DelaySeconds=1)
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
    elapsed = time.monotonic() - start
    assert [m["Body"] for m in resp.get("Messages", [])] == ["delayed"]
    assert 0.5 <= elapsed < 6


def test_long_poll_wakes_when_visibility_expires(sqs, queue_url):
    sqs.send_message(QueueUrl=queue_url, MessageBody="returns")
    sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=1)
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=10)
    elapsed = time.monotonic() - start
    assert [m["Body"] for m in resp.get("Messages", [])] == ["returns"]
    assert elapsed < 6


def test_long_poll_wakes_on_change_visibility(sqs, queue_url, client_factory, protocol):
    other = client_factory(protocol)
    sqs.send_message(QueueUrl=queue_url, MessageBody="released")
    [msg] = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)["Messages"]
    poller = Poller(other, queue_url, WaitTimeSeconds=10)
    poller.start()
    poller.started.wait()
    time.sleep(0.5)
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"],
                                  VisibilityTimeout=0)
    poller.join(timeout=30)
    assert [m["Body"] for m in poller.messages()] == ["released"]
    assert poller.elapsed < 5


def test_queue_default_wait_time(sqs, make_queue):
    url = make_queue(attributes={"ReceiveMessageWaitTimeSeconds": "2"})
    start = time.monotonic()
    resp = sqs.receive_message(QueueUrl=url)
    elapsed = time.monotonic() - start
    assert resp.get("Messages", []) == []
    assert elapsed >= 1.8, "ReceiveMessageWaitTimeSeconds applies when WaitTimeSeconds is absent"


def test_wait_time_zero_overrides_queue_default(sqs, make_queue):
    url = make_queue(attributes={"ReceiveMessageWaitTimeSeconds": "5"})
    start = time.monotonic()
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert time.monotonic() - start < 2.5


def test_concurrent_pollers_share_messages(sqs, queue_url, client_factory, protocol):
    """Three pollers, two messages: each message goes to exactly one poller."""
    pollers = [Poller(client_factory(protocol), queue_url, WaitTimeSeconds=3,
                      VisibilityTimeout=60) for _ in range(3)]
    for p in pollers:
        p.start()
    for p in pollers:
        p.started.wait()
    time.sleep(0.5)
    sqs.send_message(QueueUrl=queue_url, MessageBody="one")
    sqs.send_message(QueueUrl=queue_url, MessageBody="two")
    for p in pollers:
        p.join(timeout=30)
    bodies = [m["Body"] for p in pollers for m in p.messages()]
    # Pollers may also miss a message; whatever they did not get is still in the queue.
    bodies += [m["Body"] for m in receive_all(sqs, queue_url, 2 - len(bodies))]
    assert sorted(bodies) == ["one", "two"]
