"""Declarative resources: ``postroom apply FILE`` and ``postroom serve --config FILE
--init-dir DIR`` create what a TOML file declares, change nothing the second time, and
name the file, line and resource in every error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from postroom.declare.apply import Applier, zip_directory
from postroom.declare.config import ConfigError, load
from postroom.testing import PostroomServer

ISSUE_EXAMPLE = """\
[[queues]]
name = "orders"
attributes = { VisibilityTimeout = "60", RedrivePolicy = '{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:orders-dlq","maxReceiveCount":"3"}' }

[[queues]]
name = "orders-dlq"
tags = { team = "payments" }

[[topics]]
name = "events"

[[subscriptions]]
topic = "events"
protocol = "sqs"
endpoint = "arn:aws:sqs:us-east-1:000000000000:orders"
attributes = { RawMessageDelivery = "true" }
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    server = PostroomServer(clock="system", log_dir=tmp_path_factory.mktemp("declare")).start()
    yield server
    server.stop()


@pytest.fixture
def pr(fresh):
    fresh.reset()
    return fresh


def write(tmp_path: Path, text: str, name: str = "postroom.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def apply(pr, path: Path) -> list[str]:
    lines: list[str] = []
    Applier(pr.url, lines.append).apply(load(path))
    return lines


def test_the_issue_example_applies_and_twice_changes_nothing(pr, tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE)
    first = apply(pr, path)
    assert len(first) == 5, first  # 2 queues, a redrive policy, a topic, a subscription
    assert any('queue "orders"' in line and f"{path}:1" in line for line in first), first
    assert apply(pr, path) == []
    sqs, sns = pr.client("sqs"), pr.client("sns")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "60"
    assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":orders-dlq")
    dlq = sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"]
    assert sqs.list_queue_tags(QueueUrl=dlq)["Tags"] == {"team": "payments"}
    sns.publish(TopicArn="arn:aws:sns:us-east-1:000000000000:events", Message="raw body")
    [msg] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert msg["Body"] == "raw body"


def test_a_changed_file_updates_only_what_changed(pr, tmp_path):
    apply(pr, write(tmp_path, ISSUE_EXAMPLE))
    changed = ISSUE_EXAMPLE.replace('VisibilityTimeout = "60"', 'VisibilityTimeout = "30"').replace(
        'RawMessageDelivery = "true"', 'RawMessageDelivery = "false"').replace(
        '"maxReceiveCount":"3"', '"maxReceiveCount":5')
    lines = apply(pr, write(tmp_path, changed))
    assert len(lines) == 3, lines
    assert any("updated VisibilityTimeout of queue" in line for line in lines)
    assert any("set RedrivePolicy of queue" in line for line in lines)
    assert any("updated RawMessageDelivery of subscription" in line for line in lines)
    sqs = pr.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "30"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 5
    assert apply(pr, write(tmp_path, changed)) == []


def test_accounts_and_regions(pr, tmp_path):
    path = write(tmp_path, """\
        account = "111111111111"
        region = "eu-west-1"
        [[queues]]
        name = "a"
        [[topics]]
        name = "t"
        region = "us-west-2"
    """)
    apply(pr, path)
    sqs = pr.client("sqs", region="eu-west-1", aws_access_key_id="111111111111")
    assert sqs.get_queue_url(QueueName="a")["QueueUrl"].endswith("/111111111111/a")
    sns = pr.client("sns", region="us-west-2", aws_access_key_id="111111111111")
    assert sns.list_topics()["Topics"] == [{"TopicArn": "arn:aws:sns:us-west-2:111111111111:t"}]
    assert apply(pr, path) == []


FUNCTION = """\
[[functions]]
FunctionName = "greeter"
Runtime = "python3.12"
Handler = "app.handler"
code_dir = "code"
Timeout = 10
Environment = { Variables = { GREETING = "hello" } }
"""


def test_functions_from_a_code_directory(pr, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.environ['GREETING'] + ' ' + event['name']\n")
    path = write(tmp_path, FUNCTION)
    assert [line.split(" (")[0] for line in apply(pr, path)] == ['created function "greeter"']
    assert apply(pr, path) == []
    lam = pr.client("lambda")
    answer = lam.invoke(FunctionName="greeter", Payload=b'{"name": "ada"}')
    assert json.loads(answer["Payload"].read()) == "hello ada"
    (code / "app.py").write_text("def handler(event, context):\n    return 'v2'\n")
    changed = write(tmp_path, FUNCTION.replace("Timeout = 10", "Timeout = 20"))
    lines = apply(pr, changed)
    assert [line.split(" (")[0] for line in lines] == [
        'updated Timeout of function "greeter"', 'updated the code of function "greeter"']
    assert lam.get_function_configuration(FunctionName="greeter")["Timeout"] == 20
    assert json.loads(lam.invoke(FunctionName="greeter", Payload=b"{}")["Payload"].read()) == "v2"
    assert apply(pr, changed) == []


def test_zips_depend_only_on_content(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    first = zip_directory(tmp_path)
    os.utime(tmp_path / "a.py", (0, 0))
    assert zip_directory(tmp_path) == first


@pytest.mark.parametrize("text, where, message", [
    ('[[queues]]\nname = "q"\n\n[[queues]]\nnam = "typo"\n', ":4", 'queue #2: unknown key \'nam\''),
    ('[[queues]]\nname = "q"\nattributes = { VisibilityTimeout = 60 }\n', ":1", 'queue "q": attributes must be a table of strings'),
    ('[[subscriptions]]\ntopic = "t"\nprotocol = "sqs"\n', ":1", "subscription #1: missing 'endpoint'"),
    ('[[functions]]\nFunctionName = "f"\nCode = { ZipFile = "x" }\ncode_dir = "."\n', ":1", "unknown key 'Code' (use code_dir"),
    ('[[functions]]\nFunctionName = "f"\ncode_dir = "."\nRuntme = "python3.12"\n', ":1", "unknown key 'Runtme'"),
    ('[[event_source_mappings]]\nFunctionName = "f"\n', ":1", "missing 'EventSourceArn'"),
    ('[[queues]]\nname = "q"\n[[queues]]\nname = "q"\n', ":3", 'queue "q": declared twice (first at'),
    ('[[queues]]\nname = "q"\naccount = "12"\n', ":1", "account must be 12 digits"),
    ('[[queue]]\nname = "q"\n', ":1", "unknown section 'queue'"),
    ('[[queues]]\nname = "q\n', ":2", "not valid TOML"),
])
def test_file_errors_name_file_line_and_resource(tmp_path, text, where, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert str(info.value).startswith(f"{path}{where}: "), str(info.value)
    assert message in str(info.value)


def test_server_errors_name_file_line_and_resource(pr, tmp_path):
    path = write(tmp_path, '[[queues]]\nname = "ok"\n\n[[queues]]\nname = "bad"\nattributes = { VisibilityTimeout = "99999" }\n')
    with pytest.raises(ConfigError) as info:
        apply(pr, path)
    text = str(info.value)
    assert text.startswith(f'{path}:4: queue "bad": InvalidAttributeValue'), text
    path = write(tmp_path, '[[subscriptions]]\ntopic = "missing"\nprotocol = "sqs"\nendpoint = "arn:aws:sqs:us-east-1:000000000000:ok"\n')
    with pytest.raises(ConfigError, match=rf"^{path}:1: subscription #1: NotFound"):
        apply(pr, path)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postroom", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **(env or {})))


def test_postroom_apply_command(pr, tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE)
    done = run_cli("apply", str(path), env={"AWS_ENDPOINT_URL": pr.url})
    assert done.returncode == 0, done.stderr
    assert "created queue \"orders\"" in done.stdout and "5 change(s)" in done.stdout
    again = run_cli("apply", str(path), "--endpoint-url", pr.url)
    assert again.returncode == 0 and again.stdout.strip() == f"{path}: nothing to change"
    broken = write(tmp_path, '[[queues]]\nname = "x"\nattributes = { DelaySeconds = "-1" }\n', "broken.toml")
    failed = run_cli("apply", str(broken), "--endpoint-url", pr.url)
    assert failed.returncode == 1 and f'{broken}:1: queue "x": InvalidAttributeValue' in failed.stderr


def test_serve_with_config_and_init_hooks(tmp_path):
    path = write(tmp_path, ISSUE_EXAMPLE)
    ready = tmp_path / "init" / "ready.d"
    ready.mkdir(parents=True)
    (ready / "01-hello.sh").write_text('echo "hello from $AWS_ENDPOINT_URL"\n')
    (ready / "02-queue.py").write_text(textwrap.dedent("""\
        import boto3
        sqs = boto3.client("sqs")
        print("orders is", sqs.get_queue_url(QueueName="orders")["QueueUrl"])
        sqs.create_queue(QueueName="from-hook")
    """))
    (ready / "notes.txt").write_text("not a script")
    server = PostroomServer(clock="system", log_dir=tmp_path,
                            args=["--config", str(path), "--init-dir", str(tmp_path / "init")]).start()
    try:
        deadline = time.monotonic() + 30
        while "init hook 02-queue.py: done" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        log = server.log()
        assert f"applied {path}: 5 change(s)" in log
        assert f"init hook 01-hello.sh: hello from {server.url}" in log
        assert "init hook 02-queue.py: orders is " in log
        assert "init hook notes.txt skipped" in log
        assert log.index("applied") < log.index("init hook 01-hello.sh: running")
        server.client("sqs").get_queue_url(QueueName="from-hook")
    finally:
        server.stop()


def test_serve_refuses_a_broken_config_before_listening(tmp_path):
    path = write(tmp_path, '[[topics]]\nname = "t"\ncolour = "red"\n')
    done = run_cli("serve", "--in-memory", "--port", "0", "--config", str(path))
    assert done.returncode == 1
    assert f"{path}:1: topic \"t\": unknown key 'colour'" in done.stderr
    assert "ready on" not in done.stderr
