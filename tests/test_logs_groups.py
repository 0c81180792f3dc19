"""CloudWatch Logs log groups and streams against a real server: create, describe with
prefixes, patterns, ordering and paging, delete, retention settings, tags, errors."""

from __future__ import annotations

import pytest
from logs_helpers import expect_error, group_name, logs_client, now_ms, put

ACCOUNT = "000000000000"
NOT_FOUND = "The specified log group does not exist."


@pytest.fixture
def logs(endpoint):
    return logs_client(endpoint)


@pytest.fixture
def group(logs):
    name = group_name()
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except Exception:  # noqa: BLE001 - the test may have deleted it
        pass


def test_create_describe_delete_group(logs):
    name = group_name()
    before = now_ms()
    logs.create_log_group(logGroupName=name, tags={"env": "test"})
    [described] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    assert described["logGroupName"] == name
    assert described["arn"] == arn + ":*"
    assert described["logGroupArn"] == arn
    assert before - 1000 <= described["creationTime"] <= now_ms() + 1000
    assert described["storedBytes"] == 0
    assert described["metricFilterCount"] == 0
    assert described["logGroupClass"] == "STANDARD"
    assert "retentionInDays" not in described
    expect_error("ResourceAlreadyExistsException", logs.create_log_group, logGroupName=name,
                 message="The specified log group already exists")
    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    expect_error("ResourceNotFoundException", logs.delete_log_group, logGroupName=name, message=NOT_FOUND)


def test_group_name_rules(logs):
    expect_error("InvalidParameterException", logs.create_log_group, logGroupName="bad name!")
    expect_error("InvalidParameterException", logs.create_log_group, logGroupName="a" * 513,
                 message="Invalid LogGroup or LogStream, both must have length less than or equal to 512.")
    name = "/" + "a" * 511
    logs.create_log_group(logGroupName=name)
    logs.delete_log_group(logGroupName=name)


def test_describe_groups_prefix_pattern_and_paging(logs):
    base = group_name()
    names = [f"{base}/{suffix}" for suffix in ("alpha", "beta", "gamma", "delta", "Alphabet")]
    for name in names:
        logs.create_log_group(logGroupName=name)
    try:
        listed = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]]
        assert listed == sorted(names)
        by_pattern = logs.describe_log_groups(logGroupNamePattern=base.rsplit("/", 1)[1] + "/alpha")
        assert [g["logGroupName"] for g in by_pattern["logGroups"]] == [f"{base}/alpha"]  # case-sensitive
        assert set(by_pattern["logGroups"][0]) == {
            "logGroupName", "creationTime", "arn", "logGroupArn", "logGroupClass", "metricFilterCount"}
        pages, token = [], None
        while True:
            kwargs = {"logGroupNamePrefix": base, "limit": 2}
            if token:
                kwargs["nextToken"] = token
            page = logs.describe_log_groups(**kwargs)
            pages.append([g["logGroupName"] for g in page["logGroups"]])
            token = page.get("nextToken")
            if not token:
                break
        assert [len(p) for p in pages] == [2, 2, 1]
        assert sum(pages, []) == sorted(names)
        expect_error("InvalidParameterException", logs.describe_log_groups, logGroupNamePrefix=base,
                     logGroupNamePattern="x",
                     message="LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{base}/gamma"
        by_ids = logs.describe_log_groups(logGroupIdentifiers=[f"{base}/beta", arn, f"{base}/none"])
        assert [g["logGroupName"] for g in by_ids["logGroups"]] == [f"{base}/beta", f"{base}/gamma"]
        assert logs.describe_log_groups(logGroupNamePrefix=base, logGroupClass="INFREQUENT_ACCESS")["logGroups"] == []
        expect_error("InvalidParameterException", logs.describe_log_groups, limit=51)
        expect_error("InvalidParameterException", logs.describe_log_groups, nextToken="bogus",
                     message="The specified nextToken is invalid.")
    finally:
        for name in names:
            logs.delete_log_group(logGroupName=name)


def test_groups_are_per_account_and_region(endpoint, logs, group):
    other_account = logs_client(endpoint, access_key="111122223333")
    other_region = logs_client(endpoint, region="eu-west-1")
    for client in (other_account, other_region):
        assert client.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
        expect_error("ResourceNotFoundException", client.create_log_stream, logGroupName=group,
                     logStreamName="s", message=NOT_FOUND)
    other_account.create_log_group(logGroupName=group)  # the same name elsewhere is another group
    other_account.delete_log_group(logGroupName=group)


def test_retention_policy_settings(logs, group):
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["retentionInDays"] == 7
    expect_error(
        "InvalidParameterException", logs.put_retention_policy, logGroupName=group, retentionInDays=2,
        message="1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint:"
                " Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365,"
                " 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]")
    logs.delete_retention_policy(logGroupName=group)
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in described
    missing = group + "-missing"
    expect_error("ResourceNotFoundException", logs.put_retention_policy, logGroupName=missing,
                 retentionInDays=1, message=NOT_FOUND)
    expect_error("ResourceNotFoundException", logs.delete_retention_policy, logGroupName=missing)


def test_log_group_tags(logs):
    name = group_name()
    logs.create_log_group(logGroupName=name, tags={"env": "testing1"})
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}"
    try:
        logs.tag_resource(resourceArn=arn, tags={"test1": "val1", "test2": "val2"})
        expected = {"env": "testing1", "test1": "val1", "test2": "val2"}
        assert logs.list_tags_log_group(logGroupName=name)["tags"] == expected
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == expected
        logs.tag_log_group(logGroupName=name, tags={"test3": "val3"})
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {**expected, "test3": "val3"}
        # The model's ARN pattern has no "*": the ":*" form DescribeLogGroups shows is refused.
        expect_error("InvalidParameterException", logs.list_tags_for_resource, resourceArn=arn + ":*")
        logs.untag_log_group(logGroupName=name, tags=["env", "test3"])
        logs.untag_resource(resourceArn=arn, tagKeys=["test1"])
        assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"test2": "val2"}
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"test2": "val2"}
        many = {f"k{i}": "v" for i in range(50)}
        expect_error("TooManyTagsException", logs.tag_resource, resourceArn=arn, tags=many)
        expect_error("InvalidParameterException", logs.tag_log_group, logGroupName=name, tags=many)
        missing = arn + "-missing"
        expect_error("ResourceNotFoundException", logs.list_tags_for_resource, resourceArn=missing)
        expect_error("ResourceNotFoundException", logs.tag_resource, resourceArn=missing, tags={"a": "b"})
        expect_error("ResourceNotFoundException", logs.untag_resource, resourceArn=missing, tagKeys=["a"])
        expect_error("ResourceNotFoundException", logs.list_tags_log_group, logGroupName=name + "-missing")
        expect_error("InvalidParameterException", logs.list_tags_for_resource, resourceArn="not-an-arn")
    finally:
        logs.delete_log_group(logGroupName=name)


def test_create_describe_delete_streams(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    expect_error("ResourceAlreadyExistsException", logs.create_log_stream, logGroupName=group,
                 logStreamName="s1", message="The specified log stream already exists")
    expect_error("ResourceNotFoundException", logs.create_log_stream, logGroupName=group + "-x",
                 logStreamName="s1", message=NOT_FOUND)
    expect_error("InvalidParameterException", logs.create_log_stream, logGroupName=group,
                 logStreamName="has:colon")
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["logStreamName"] == "s1"
    assert stream["arn"] == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}:log-stream:s1"
    assert stream["storedBytes"] == 0
    assert "firstEventTimestamp" not in stream and "lastIngestionTime" not in stream
    logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    expect_error("ResourceNotFoundException", logs.delete_log_stream, logGroupName=group,
                 logStreamName="s1", message="The specified log stream does not exist.")


def test_describe_streams_order_prefix_paging(logs, group):
    start = now_ms() - 60_000
    # Stream names in one order, last event times in another.
    for name, offset in (("a", 30), ("b", 10), ("c", 20), ("d", None)):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        if offset is not None:
            put(logs, group, name, ["x"], start=start + offset)

    def names(**kwargs):
        return [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, **kwargs)["logStreams"]]

    assert names() == ["a", "b", "c", "d"]
    assert names(descending=True) == ["d", "c", "b", "a"]
    assert names(orderBy="LastEventTime") == ["d", "b", "c", "a"]
    assert names(orderBy="LastEventTime", descending=True) == ["a", "c", "b", "d"]
    assert names(logStreamNamePrefix="c") == ["c"]
    expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName=group,
                 orderBy="LastEventTime", logStreamNamePrefix="a",
                 message="Cannot order by LastEventTime with a logStreamNamePrefix.")
    page = logs.describe_log_streams(logGroupName=group, limit=3, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in page["logStreams"]] == ["a", "c", "b"]
    rest = logs.describe_log_streams(logGroupName=group, limit=3, orderBy="LastEventTime",
                                     descending=True, nextToken=page["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["d"] and "nextToken" not in rest
    expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName=group,
                 nextToken=page["nextToken"], message="The specified nextToken is invalid.")
    [a] = [s for s in logs.describe_log_streams(logGroupName=group)["logStreams"] if s["logStreamName"] == "a"]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == start + 30
    assert a["lastIngestionTime"] >= start


def test_describe_streams_by_identifier(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{group}"
    for identifier in (group, arn):
        streams = logs.describe_log_streams(logGroupIdentifier=identifier)["logStreams"]
        assert [s["logStreamName"] for s in streams] == ["s"]
    expect_error("ValidationException", logs.describe_log_streams, logGroupName=group,
                 logGroupIdentifier=arn,
                 message="LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    expect_error("ResourceNotFoundException", logs.describe_log_streams, logGroupName=group + "-x",
                 message=NOT_FOUND)


def test_deleting_group_removes_streams_and_events(logs):
    name = group_name()
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    put(logs, name, "s", ["gone"])
    logs.delete_log_group(logGroupName=name)
    logs.create_log_group(logGroupName=name)
    try:
        assert logs.describe_log_streams(logGroupName=name)["logStreams"] == []
        assert logs.filter_log_events(logGroupName=name)["events"] == []
    finally:
        logs.delete_log_group(logGroupName=name)


def test_deletion_protection(logs):
    name = group_name()
    logs.create_log_group(logGroupName=name, deletionProtectionEnabled=True)
    [described] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert described["deletionProtectionEnabled"] is True
    message = "Cannot delete log group with deletion protection enabled. Disable deletion protection first."
    expect_error("ValidationException", logs.delete_log_group, logGroupName=name, message=message)
    logs.put_log_group_deletion_protection(logGroupIdentifier=name, deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName=name)
    expect_error("ResourceNotFoundException", logs.put_log_group_deletion_protection,
                 logGroupIdentifier=name, deletionProtectionEnabled=True, message=NOT_FOUND)


def test_unsupported_operations_answer_invalid_operation(logs):
    expect_error("InvalidOperationException", logs.start_query, logGroupName="x", startTime=1,
                 endTime=2, queryString="fields @message")
    expect_error("InvalidOperationException", logs.describe_metric_filters)
