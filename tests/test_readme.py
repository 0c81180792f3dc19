"""The README's commands, run as a user would paste them: the quickstart (environment,
aws CLI, boto3) against a fresh server, and the pytest-plugin example in a pytest of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from server import http_get_json
from test_cli_smoke import aws_executable

from postroom.testing import PostroomServer

README = Path(__file__).resolve().parent.parent / "README.md"
DEFAULT_ENDPOINT = "http://localhost:4566"


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced block."""
    return re.findall(r"```(\w*)\n(.*?)```", text, re.S)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A server started the way the pytest plugin starts it (``--port 0``: the ready line
    names the real port)."""
    server = PostroomServer(clock="system", log_dir=tmp_path_factory.mktemp("readme")).start()
    yield server
    server.stop()


def test_port_0_logs_the_port_it_got(fresh):
    port = int(fresh.url.rsplit(":", 1)[1])
    assert port != 0
    status, health = http_get_json(fresh.url + "/health")
    assert status == 200 and health["status"] == "ok"


def test_quickstart_runs_as_written(fresh, tmp_path):
    quick = section("Quickstart")
    [(_, exports), (_, cli), (lang, python)] = blocks(quick)
    assert lang == "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"))
    for name, value in re.findall(r"(AWS_\w+)=(\S+)", exports):
        env[name] = value.replace(DEFAULT_ENDPOINT, fresh.url)
    assert env["AWS_ENDPOINT_URL"] == fresh.url

    aws = aws_executable()
    assert aws is not None, "the aws CLI (a test dependency) is not installed"
    for command in cli.replace("\\\n", " ").splitlines():
        if not command.strip():
            continue
        args = command.replace(DEFAULT_ENDPOINT, fresh.url).split()
        assert args[0] == "aws"
        proc = subprocess.run([aws, *args[1:]], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    assert '"Body": "hello"' in proc.stdout

    proc = subprocess.run([sys.executable, "-c", python], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hello"]
    sqs = fresh.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    fanned = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in fanned] == ["fanned out"]


def test_the_pytest_plugin_example_does_not_wait_out_its_timeouts(tmp_path):
    [(lang, example)] = blocks(section("Testing your code against Postroom"))
    assert lang == "python"
    extra = textwrap.dedent('''
        def test_each_test_starts_empty(postroom, postroom_url):
            assert postroom_url == postroom.url
            assert postroom.client("sqs").list_queues().get("QueueUrls", []) == []
            assert postroom.client("sns").list_topics()["Topics"] == []


        def test_time_only_moves_forward(postroom):
            before = postroom.now_ms()
            assert postroom.advance(0.5) == before + 500
            assert postroom.set_time(before + 1000) == before + 1000
    ''')
    (tmp_path / "test_example.py").write_text(example + "\n" + extra)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", "-vv",
         "test_example.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    call = re.search(r"([\d.]+)s call\s+test_example.py::test_an_unprocessed_order", proc.stdout)
    # The example's queue hides a received message for 60 s and it advances the clock past
    # that: on a real clock it would take a minute. Well under a second on a quiet machine;
    # the bound leaves room for a loaded one (other suites sharing its 2 cores).
    assert call and float(call.group(1)) < 5.0, proc.stdout
    assert time.monotonic() - started < 60


def test_the_resources_example_applies(fresh, tmp_path):
    from postroom.declare.apply import Applier
    from postroom.declare.config import load

    fresh.reset()
    [(lang, text)] = blocks(section("Declaring resources"))
    assert lang == "toml"
    (tmp_path / "postroom.toml").write_text(text)
    code = tmp_path / "functions" / "worker"
    code.mkdir(parents=True)
    (code / "app.py").write_text("def handler(event, context):\n    return None\n")
    config = load(tmp_path / "postroom.toml")
    assert [len(config.of(k)) for k in ("queues", "topics", "subscriptions", "functions",
                                        "event_source_mappings")] == [2, 1, 1, 1, 1]
    # The mapping (applied last, below) would let the function take the queue's messages.
    mappings, config.resources["event_source_mappings"] = config.resources["event_source_mappings"], []
    lines: list[str] = []
    assert Applier(fresh.url, lines.append).apply(config) == 6, lines
    assert Applier(fresh.url, lines.append).apply(config) == 0
    sqs, sns = fresh.client("sqs"), fresh.client("sns")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    topic = "arn:aws:sns:us-east-1:000000000000:events"
    sns.publish(TopicArn=topic, Message="skipped", MessageAttributes={
        "type": {"DataType": "String", "StringValue": "refund"}})
    sns.publish(TopicArn=topic, Message="kept", MessageAttributes={
        "type": {"DataType": "String", "StringValue": "order"}})
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["kept"]
    lam = fresh.client("lambda")
    assert lam.get_function(FunctionName="worker")["Configuration"]["Environment"] == {
        "Variables": {"STAGE": "dev"}}
    config.resources["event_source_mappings"] = mappings
    assert Applier(fresh.url, lines.append).apply(config) == 1, lines
    assert Applier(fresh.url, lines.append).apply(config) == 0, lines
    [mapping] = lam.list_event_source_mappings(FunctionName="worker")["EventSourceMappings"]
    assert mapping["BatchSize"] == 10 and mapping["EventSourceArn"].endswith(":orders")
    fresh.reset()
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_postroom_arg_reaches_the_server(tmp_path):
    (tmp_path / "test_limit.py").write_text(textwrap.dedent('''
        import pytest
        from botocore.exceptions import ClientError


        def test_over_limit(postroom):
            sqs = postroom.client("sqs")
            url = sqs.create_queue(QueueName="q")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="a")
            sqs.send_message(QueueUrl=url, MessageBody="b")
            assert sqs.receive_message(QueueUrl=url)["Messages"]
            with pytest.raises(ClientError, match="OverLimit"):
                sqs.receive_message(QueueUrl=url)
    '''))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTEST_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--postroom-arg=--sqs-max-in-flight=1", "test_limit.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
