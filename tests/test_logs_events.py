"""CloudWatch Logs events against a real server: PutLogEvents rules and rejections,
GetLogEvents ranges and f/ b/ tokens, FilterLogEvents patterns, stream selection and paging."""

from __future__ import annotations

import re

import pytest
from logs_helpers import expect_error, group_name, logs_client, now_ms, put

DAY = 86_400_000


@pytest.fixture
def logs(endpoint):
    return logs_client(endpoint)


@pytest.fixture
def group(logs):
    name = group_name()
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    yield name
    logs.delete_log_group(logGroupName=name)


def _messages(events):
    return [e["message"] for e in events]


# -- PutLogEvents ------------------------------------------------------------------------


def test_put_updates_stream_and_group(logs, group):
    start = now_ms() - 10_000
    answer = logs.put_log_events(
        logGroupName=group, logStreamName="s", sequenceToken="ignored-as-aws-does",
        logEvents=[{"timestamp": start, "message": "héllo"}, {"timestamp": start + 5, "message": "b"}],
    )
    assert re.fullmatch(r"\d{56}", answer["nextSequenceToken"])
    assert "rejectedLogEventsInfo" not in answer
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["firstEventTimestamp"] == start
    assert stream["lastEventTimestamp"] == start + 5
    assert stream["lastIngestionTime"] >= start
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["storedBytes"] == len("héllo".encode()) + 1


def test_put_rejects_out_of_order_and_wide_batches(logs, group):
    now = now_ms()
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=group, logStreamName="s",
                 logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}],
                 message="Log events in a single PutLogEvents request must be in chronological order.")
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=group, logStreamName="s",
                 logEvents=[{"timestamp": now - DAY - 1000, "message": "a"}, {"timestamp": now, "message": "b"}],
                 message="The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    # 1,048,576 bytes counts the messages plus 26 bytes per event.
    exact = 1_048_576 - 26
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": now, "message": "x" * exact}])
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=group, logStreamName="s",
                 logEvents=[{"timestamp": now, "message": "x" * (exact - 25)},
                            {"timestamp": now, "message": "y"}])
    expect_error("InvalidParameterException", logs.put_log_events, logGroupName=group, logStreamName="s",
                 logEvents=[{"timestamp": now, "message": "x"}] * 10_001)
    unchecked = logs_client(logs.meta.endpoint_url, validate=False)
    expect_error("InvalidParameterException", unchecked.put_log_events, logGroupName=group, logStreamName="s",
                 logEvents=[{"timestamp": now, "message": ""}])
    assert logs.get_log_events(logGroupName=group, logStreamName="s")["events"][0]["message"] == "x" * exact


def test_put_to_missing_group_or_stream(logs, group):
    event = [{"timestamp": now_ms(), "message": "m"}]
    expect_error("ResourceNotFoundException", logs.put_log_events, logGroupName=group + "-x",
                 logStreamName="s", logEvents=event, message="The specified log group does not exist.")
    expect_error("ResourceNotFoundException", logs.put_log_events, logGroupName=group,
                 logStreamName="nope", logEvents=event, message="The specified log stream does not exist.")


def test_put_rejects_too_old_too_new_and_expired_events(logs, group):
    now = now_ms()
    old = now - 14 * DAY - 60_000
    answer = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": old, "message": "too old 1"},
        {"timestamp": old + 1, "message": "too old 2"},
        {"timestamp": old + 120_000, "message": "kept"},
    ])
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2}
    answer = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now, "message": "kept too"},
        {"timestamp": now + 3 * 3_600_000, "message": "too new"},
    ])
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    answer = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": now - DAY - 60_000, "message": "expired"},
        {"timestamp": now - 61_000, "message": "fresh"},
    ])
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    # "kept" (over 1 day old) may already be swept by the retention it now has.
    assert [m for m in _messages(events) if m != "kept"] == ["fresh", "kept too"]


# -- GetLogEvents ------------------------------------------------------------------------


def test_get_events_default_is_newest_page(logs, group):
    start = put(logs, group, "s", [f"m{i}" for i in range(10)])
    answer = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3)
    assert _messages(answer["events"]) == ["m7", "m8", "m9"]
    first = answer["events"][0]
    assert first["timestamp"] == start + 7 and first["ingestionTime"] >= start
    assert re.fullmatch(r"f/\d{56}", answer["nextForwardToken"])
    assert re.fullmatch(r"b/\d{56}", answer["nextBackwardToken"])
    # Backward from there, then forward again.
    back = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3,
                               nextToken=answer["nextBackwardToken"])
    assert _messages(back["events"]) == ["m4", "m5", "m6"]
    forward = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3,
                                  nextToken=back["nextForwardToken"])
    assert _messages(forward["events"]) == ["m7", "m8", "m9"]
    head = logs.get_log_events(logGroupName=group, logStreamName="s", limit=4, startFromHead=True)
    assert _messages(head["events"]) == ["m0", "m1", "m2", "m3"]


def test_get_events_forward_to_the_end_returns_the_same_token(logs, group):
    put(logs, group, "s", [f"m{i}" for i in range(7)])
    seen, token = [], None
    for _ in range(10):
        kwargs = {"nextToken": token} if token else {"startFromHead": True}
        answer = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3, **kwargs)
        seen += _messages(answer["events"])
        if answer["nextForwardToken"] == token:
            break
        token = answer["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(7)]
    assert answer["events"] == []
    # New events show up on the same token.
    put(logs, group, "s", ["late"], start=now_ms())
    answer = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token)
    assert _messages(answer["events"]) == ["late"]


def test_get_events_time_range_and_identifiers(logs, group):
    start = put(logs, group, "s", [f"m{i}" for i in range(10)], step=1000)
    answer = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True,
                                 startTime=start + 2000, endTime=start + 5000)
    assert _messages(answer["events"]) == ["m2", "m3", "m4"]  # endTime is exclusive
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    answer = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s", limit=1)
    assert _messages(answer["events"]) == ["m9"]
    expect_error("ValidationException", logs.get_log_events, logGroupName=group, logGroupIdentifier=arn,
                 logStreamName="s")
    expect_error("ResourceNotFoundException", logs.get_log_events, logGroupName=group, logStreamName="x",
                 message="The specified log stream does not exist.")
    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=group, logStreamName="s",
                 limit=10_001,
                 message="1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint:"
                         " Member must have value less than or equal to 10000")


def test_get_events_rejects_foreign_and_bad_tokens(logs, group):
    put(logs, group, "s", ["a"])
    logs.create_log_stream(logGroupName=group, logStreamName="other")
    token = logs.get_log_events(logGroupName=group, logStreamName="s")["nextForwardToken"]
    for bad in ("bogus", "f/123", token.replace("f/", "x/")):
        expect_error("InvalidParameterException", logs.get_log_events, logGroupName=group,
                     logStreamName="s", nextToken=bad, message="The specified nextToken is invalid.")
    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=group,
                 logStreamName="other", nextToken=token, message="The specified nextToken is invalid.")


# -- FilterLogEvents ---------------------------------------------------------------------


def test_filter_patterns_through_the_api(logs, group):
    start = put(logs, group, "s", [
        "[ERROR] disk full",
        "[WARN] disk almost full",
        '{"level": "ERROR", "latency": 700, "user": {"id": 7}}',
        '{"level": "INFO", "latency": 20}',
        '10.0.0.1 GET /index.html 404 512',
    ])

    def matched(pattern):
        return _messages(logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"])

    assert matched("ERROR") == ["[ERROR] disk full", '{"level": "ERROR", "latency": 700, "user": {"id": 7}}']
    assert matched('"disk full"') == ["[ERROR] disk full"]
    assert matched("disk -ERROR") == ["[WARN] disk almost full"]
    assert matched("?WARN ?404") == ["[WARN] disk almost full", "10.0.0.1 GET /index.html 404 512"]
    assert matched('{ $.level = "ERROR" && $.latency > 500 }') == [
        '{"level": "ERROR", "latency": 700, "user": {"id": 7}}']
    assert matched("{ $.user.id NOT EXISTS }") == ['{"level": "INFO", "latency": 20}']
    assert matched("[ip, method, path, status = 4*, bytes]") == ["10.0.0.1 GET /index.html 404 512"]
    everything = logs.filter_log_events(logGroupName=group)["events"]
    assert len(everything) == 5
    first = everything[0]
    assert first["logStreamName"] == "s" and first["timestamp"] == start
    assert re.fullmatch(r"\d{56}", first["eventId"])
    assert len({e["eventId"] for e in everything}) == 5
    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=group,
                 filterPattern="{ $.level = }")


def test_filter_streams_times_and_paging(logs, group):
    base = now_ms() - 120_000
    for name in ("s", "app-1", "app-2"):
        if name != "s":
            logs.create_log_stream(logGroupName=group, logStreamName=name)
    # Interleaved timestamps across streams: answers come in timestamp order.
    put(logs, group, "s", ["s0", "s1", "s2"], start=base, step=30)
    put(logs, group, "app-1", ["a0", "a1", "a2"], start=base + 10, step=30)
    put(logs, group, "app-2", ["b0", "b1", "b2"], start=base + 20, step=30)

    def messages(**kwargs):
        return _messages(logs.filter_log_events(logGroupName=group, **kwargs)["events"])

    assert messages() == ["s0", "a0", "b0", "s1", "a1", "b1", "s2", "a2", "b2"]
    assert messages(logStreamNames=["app-2", "s", "missing"]) == ["s0", "b0", "s1", "b1", "s2", "b2"]
    assert messages(logStreamNamePrefix="app-") == ["a0", "b0", "a1", "b1", "a2", "b2"]
    assert messages(startTime=base + 30, endTime=base + 60) == ["s1", "a1", "b1", "s2"]  # both inclusive
    answer = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="app-")
    assert sorted(s["logStreamName"] for s in answer["searchedLogStreams"]) == ["app-1", "app-2"]
    pages, token = [], None
    while True:
        kwargs = {"limit": 4, **({"nextToken": token} if token else {})}
        answer = logs.filter_log_events(logGroupName=group, **kwargs)
        pages.append(_messages(answer["events"]))
        token = answer.get("nextToken")
        if not token:
            break
    assert sum(pages, []) == ["s0", "a0", "b0", "s1", "a1", "b1", "s2", "a2", "b2"]
    assert all(len(p) <= 4 for p in pages)
    paginated = [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern="?a1 ?b2", PaginationConfig={"PageSize": 1}) for e in page["events"]]
    assert paginated == ["a1", "b2"]
    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=group,
                 logStreamNames=["s"], logStreamNamePrefix="s")
    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=group,
                 nextToken="bogus", message="The specified nextToken is invalid.")
    expect_error("ResourceNotFoundException", logs.filter_log_events, logGroupName=group + "-x",
                 message="The specified log group does not exist.")
