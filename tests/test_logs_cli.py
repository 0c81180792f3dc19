"""CloudWatch Logs end to end: logs survive restarts and kill -9, the AWS CLI reads them,
and a follower polling FilterLogEvents the way `aws logs tail --follow` does sees every
event exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from logs_helpers import group_name, logs_client, now_ms, put

AWS = str(Path(sys.executable).with_name("aws"))


def _aws(endpoint: str, *args: str) -> dict:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    done = subprocess.run([AWS, "--endpoint-url", endpoint, "--output", "json", "logs", *args],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("stop", ["sigterm", "kill"])
def test_logs_survive_restart(private_server, tmp_path, stop):
    data = tmp_path / "data"
    server = private_server(data_dir=data)
    logs = logs_client(server.endpoint)
    name = group_name()
    logs.create_log_group(logGroupName=name, tags={"team": "a"})
    logs.put_retention_policy(logGroupName=name, retentionInDays=30)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    start = put(logs, name, "s", [f"line {i}" for i in range(20)])
    before_group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    before_stream = logs.describe_log_streams(logGroupName=name)["logStreams"]
    server.stop() if stop == "sigterm" else server.kill()
    again = private_server(data_dir=data)
    logs = logs_client(again.endpoint)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == before_group
    assert logs.describe_log_streams(logGroupName=name)["logStreams"] == before_stream
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"team": "a"}
    events = logs.get_log_events(logGroupName=name, logStreamName="s", startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(start + i, f"line {i}") for i in range(20)]
    # Ids keep growing after a restart: new events sort after the old ones at equal times.
    put(logs, name, "s", ["after restart"], start=start + 19)
    events = logs.filter_log_events(logGroupName=name)["events"]
    assert events[-1]["message"] == "after restart"
    assert len({e["eventId"] for e in events}) == 21


def test_aws_cli_reads_events(endpoint):
    logs = logs_client(endpoint)
    name = group_name()
    logs.create_log_group(logGroupName=name)
    try:
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        put(logs, name, "s", [f"ERROR {i}" if i % 2 else f"ok {i}" for i in range(30)])
        got = _aws(endpoint, "get-log-events", "--log-group-name", name, "--log-stream-name", "s",
                   "--start-from-head", "--limit", "5")
        assert [e["message"] for e in got["events"]] == ["ok 0", "ERROR 1", "ok 2", "ERROR 3", "ok 4"]
        assert got["nextForwardToken"].startswith("f/")
        # The CLI follows nextToken itself; a page size of 4 makes it take several pages.
        filtered = _aws(endpoint, "filter-log-events", "--log-group-name", name,
                        "--filter-pattern", "ERROR", "--page-size", "4")
        assert [e["message"] for e in filtered["events"]] == [f"ERROR {i}" for i in range(1, 30, 2)]
        groups = _aws(endpoint, "describe-log-groups", "--log-group-name-prefix", name)
        assert [g["logGroupName"] for g in groups["logGroups"]] == [name]
    finally:
        logs.delete_log_group(logGroupName=name)


def test_follow_like_aws_logs_tail(endpoint):
    """The calls `aws logs tail --follow` (CLI v2) makes: FilterLogEvents from startTime,
    pages by nextToken, then polls again from the newest timestamp seen, skipping event ids
    it has shown. (CLI v1, in this venv, has no `logs tail`.)"""
    logs = logs_client(endpoint)
    name = group_name()
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="a")
    logs.create_log_stream(logGroupName=name, logStreamName="b")
    start = now_ms()
    sent: list[str] = []

    def writer():
        for i in range(12):
            stream = "ab"[i % 2]
            ts = now_ms()
            messages = [f"{stream}-{i}-{k}" for k in range(3)]
            logs.put_log_events(logGroupName=name, logStreamName=stream,
                                logEvents=[{"timestamp": ts, "message": m} for m in messages])
            sent.extend(messages)
            time.sleep(0.15)

    thread = threading.Thread(target=writer)
    thread.start()
    shown: list[str] = []
    kwargs = {"logGroupName": name, "interleaved": True, "startTime": start}
    seen: dict[int, set[str]] = defaultdict(set)
    deadline = time.monotonic() + 3.5
    try:
        while time.monotonic() < deadline:
            answer = logs.filter_log_events(**kwargs)
            for event in answer["events"]:
                if event["eventId"] not in seen[event["timestamp"]]:
                    seen[event["timestamp"]].add(event["eventId"])
                    shown.append(event["message"])
            if seen:
                newest = max(seen)
                seen = defaultdict(set, {newest: seen[newest]})
            if "nextToken" in answer:
                kwargs["nextToken"] = answer["nextToken"]
            else:
                kwargs.pop("nextToken", None)
                if seen:
                    kwargs["startTime"] = max(seen)
                if not thread.is_alive() and len(shown) >= len(sent):
                    break
                time.sleep(0.2)
    finally:
        thread.join()
        logs.delete_log_group(logGroupName=name)
    assert sorted(shown) == sorted(sent) and len(shown) == 36


FUNCTION = '''
import json

def handler(event, context):
    print("hello from", event["who"])
    print(json.dumps({"level": "ERROR", "code": 42}))
    return "ok"
'''


def test_function_output_reaches_its_log_group(endpoint):
    """What a function prints lands in /aws/lambda/<name> (START, the lines, END, REPORT),
    one stream per environment, readable with FilterLogEvents, GetLogEvents and the CLI."""
    from lambda_helpers import client, create_function

    lam, logs = client(endpoint), logs_client(endpoint)
    name = create_function(lam, {"app.py": FUNCTION})
    group = f"/aws/lambda/{name}"
    try:
        before = now_ms()
        for who in ("a", "b"):
            lam.invoke(FunctionName=name, Payload=json.dumps({"who": who}).encode())
        deadline = time.monotonic() + 10
        messages: list[str] = []
        while time.monotonic() < deadline:
            try:
                events = logs.filter_log_events(logGroupName=group)["events"]
            except logs.exceptions.ResourceNotFoundException:
                events = []  # the group appears with the first flush
            messages = [e["message"] for e in events]
            if sum(m.startswith("REPORT") for m in messages) == 2:
                break
            time.sleep(0.1)
        assert [m for m in messages if m.startswith("hello")] == ["hello from a\n", "hello from b\n"]
        assert sum(m.startswith("START RequestId:") for m in messages) == 2
        assert all(e["timestamp"] >= before - 1000 for e in events)
        json_hits = logs.filter_log_events(logGroupName=group, filterPattern="{ $.code = 42 }")["events"]
        assert len(json_hits) == 2
        [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]  # one warm environment
        got = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
        assert [e["message"] for e in got["events"]] == messages
        cli = _aws(endpoint, "filter-log-events", "--log-group-name", group, "--filter-pattern", "hello")
        assert [e["message"] for e in cli["events"]] == ["hello from a\n", "hello from b\n"]
    finally:
        lam.delete_function(FunctionName=name)
