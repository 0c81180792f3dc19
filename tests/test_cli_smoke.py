"""The v1 aws CLI against Postroom (it needs --endpoint-url; it ignores AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from server import ACCOUNT, md5_hex, unique_name


def aws_executable() -> str | None:
    candidate = Path(sys.executable).parent / "aws"
    if candidate.exists():
        return str(candidate)
    return shutil.which("aws")


@pytest.fixture
def aws(endpoint, tmp_path):
    exe = aws_executable()
    if exe is None:
        pytest.fail("the aws CLI (awscli, a test dependency) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        HOME=str(tmp_path),
    )

    def run(*args):
        proc = subprocess.run(
            [exe, "--endpoint-url", endpoint, "--output", "json", "sqs", *args],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 0, f"aws sqs {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    return run


@pytest.mark.timeout(180)
def test_cli_round_trip(aws):
    name = unique_name("cli")
    url = aws("create-queue", "--queue-name", name)["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    assert aws("get-queue-url", "--queue-name", name)["QueueUrl"] == url
    sent = aws("send-message", "--queue-url", url, "--message-body", "from the cli")
    assert sent["MD5OfMessageBody"] == md5_hex("from the cli")
    got = aws("receive-message", "--queue-url", url, "--wait-time-seconds", "5",
              "--attribute-names", "All")
    [msg] = got["Messages"]
    assert msg["Body"] == "from the cli"
    assert msg["MessageId"] == sent["MessageId"]
    aws("delete-message", "--queue-url", url, "--receipt-handle", msg["ReceiptHandle"])
    aws("delete-queue", "--queue-url", url)
    listed = aws("list-queues", "--queue-name-prefix", name)
    assert url not in listed.get("QueueUrls", [])
