"""MessageRetentionPeriod is enforced. 60 s is AWS's minimum, so the scenario is set up at the
start of the session (``retention_scenario`` in conftest.py) and checked here, after most of
the suite has run; run alone, this test waits the full minute."""

from __future__ import annotations

import contextlib
import time

import pytest
from botocore.exceptions import ClientError


@pytest.mark.timeout(180)
def test_messages_expire_after_retention_period(retention_scenario):
    """Visible and in-flight messages older than the retention period are deleted."""
    state = retention_scenario
    if state.get("error"):
        raise state["error"]
    sqs, url = state["sqs"], state["url"]
    before = state["attributes_before"]
    assert before["ApproximateNumberOfMessages"] == "1"
    assert before["ApproximateNumberOfMessagesNotVisible"] == "1"

    time.sleep(max(0.0, state["sent"] + 62 - time.monotonic()))
    deadline = time.monotonic() + 30
    while True:
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        gone = (a["ApproximateNumberOfMessages"] == "0"
                and a["ApproximateNumberOfMessagesNotVisible"] == "0")
        if gone or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert gone, f"still counted more than 62 s after sending with 60 s retention: {a}"
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    # Releasing the expired in-flight message must not bring it back (an error is fine).
    with contextlib.suppress(ClientError):
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=state["receipt_handle"],
                                      VisibilityTimeout=0)
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
