"""Lambda state survives restarts and kill -9 (code files included), and the aws CLI smoke."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request

import pytest
from lambda_helpers import ROLE, client, function_name, zip_code
from server import ServerProcess
from test_cli_smoke import aws_executable

CODE = {"app.py": "def handler(event, context):\n    return event\n"}


def test_everything_survives_kill_9(private_server, tmp_path):
    data = tmp_path / "data"
    srv = private_server(data_dir=data)
    lam = client(srv.endpoint)
    name = function_name()
    lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Runtime="python3.12",
        Handler="app.handler",
        Code={"ZipFile": zip_code(CODE)},
        Tags={"k": "v"},
        Timeout=7,
    )
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Timeout=8)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.add_permission(
        FunctionName=name, StatementId="s", Action="lambda:InvokeFunction", Principal="*"
    )
    layer = lam.publish_layer_version(
        LayerName="shared", Content={"ZipFile": zip_code({"python/x.py": "X=1"})}
    )
    before = lam.get_function(FunctionName=name)
    srv.kill()

    srv2 = ServerProcess(data, port=srv.port, log_dir=tmp_path).start()
    try:
        lam2 = client(srv2.endpoint)
        after = lam2.get_function(FunctionName=name)
        assert after["Configuration"] == before["Configuration"]
        assert after["Tags"] == {"k": "v"}
        assert after["Concurrency"] == {"ReservedConcurrentExecutions": 3}
        assert lam2.get_function_configuration(FunctionName=name, Qualifier="live")["Timeout"] == 7
        assert lam2.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0
        assert (
            json.loads(lam2.get_policy(FunctionName=name)["Policy"])["Statement"][0]["Sid"] == "s"
        )
        assert lam2.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
        with urllib.request.urlopen(after["Code"]["Location"], timeout=5) as resp:
            assert resp.read() == zip_code(CODE)
        assert not list((data / "lambda").rglob("*.zip"))  # zips live in storage
        [unpacked] = os.listdir(data / "lambda" / "unpacked")
        assert (data / "lambda" / "unpacked" / unpacked / "app.py").read_text() == CODE["app.py"]
        # Counters survive too: the next version is 2, the next layer version 2.
        assert lam2.publish_version(FunctionName=name)["Version"] == "2"
        assert (
            lam2.publish_layer_version(LayerName="shared", Content={"ZipFile": zip_code(CODE)})[
                "Version"
            ]
            == 2
        )
    finally:
        srv2.stop()


@pytest.mark.timeout(180)
def test_aws_cli_create_get_list(endpoint, tmp_path):
    exe = aws_executable()
    if exe is None:
        pytest.fail("the aws CLI (awscli, a test dependency) is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "creds"),
        HOME=str(tmp_path),
    )
    package = tmp_path / "code.zip"
    package.write_bytes(zip_code(CODE))
    name = function_name("cli")

    def aws(*args: str) -> dict:
        proc = subprocess.run(
            [exe, "--endpoint-url", endpoint, "--output", "json", "lambda", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"aws lambda {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return json.loads(proc.stdout) if proc.stdout.strip() else {}

    created = aws(
        "create-function",
        "--function-name",
        name,
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "app.handler",
        "--zip-file",
        f"fileb://{package}",
    )
    assert created["State"] == "Pending"
    aws("wait", "function-active-v2", "--function-name", name)
    assert aws("get-function", "--function-name", name)["Configuration"]["State"] == "Active"
    names = [f["FunctionName"] for f in aws("list-functions")["Functions"]]
    assert name in names
    aws("delete-function", "--function-name", name)
