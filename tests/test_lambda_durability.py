"""Lambda state survives restarts and kill -9 (code files included), a reserved-concurrency
slot does not outlive a killed server, and the aws CLI smoke."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError
from lambda_helpers import ROLE, client, function_name, zip_code
from server import ServerProcess, on_postgres
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


SLEEP = {"app.py": "import time\n\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return {}\n"}


def test_a_reserved_slot_held_at_kill_9_frees_after_a_restart(private_server, tmp_path):
    """Reserved concurrency 1, the server killed mid-invocation: after a restart the function
    runs again. On SQLite at once (the locked data dir proves the old rows are a dead run's);
    on a shared PostgreSQL store within the slot's time-to-live (``--lease-ttl``)."""
    # SQLite: a TTL far longer than the test, so only the start's cleanup can free the slot.
    data, args = tmp_path / "data", ["--lease-ttl", "2" if on_postgres() else "120"]
    srv = private_server(data_dir=data, args=args)
    lam = client(srv.endpoint)
    name = function_name()
    lam.create_function(FunctionName=name, Role=ROLE, Runtime="python3.12", Handler="app.handler",
                        Code={"ZipFile": zip_code(SLEEP)}, Timeout=60)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    running = threading.Thread(target=_invoke_quietly, args=(lam, name, 30), daemon=True)
    running.start()
    assert _wait_for_answer(lam, name, "TooManyRequestsException", 10)  # its slot is taken
    srv.kill()

    srv2 = ServerProcess(data, port=srv.port, log_dir=tmp_path, args=args).start()
    try:
        lam2 = client(srv2.endpoint)
        if not on_postgres():
            assert lam2.invoke(FunctionName=name, Payload=b'{"sleep": 0}')["StatusCode"] == 200
        else:
            assert _wait_for_answer(lam2, name, 200, 10)
    finally:
        srv2.stop()


def _invoke_quietly(lam, name: str, sleep: float) -> None:
    """Invoke until the invocation runs (the test's own probes may hold the one slot for a
    moment and throttle it), then until the server is killed under it."""
    while True:
        try:
            lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}).encode())
        except ClientError as error:
            if error.response["Error"]["Code"] == "TooManyRequestsException":
                time.sleep(0.05)
                continue
            return
        except Exception:  # noqa: BLE001 - the server is killed under it
            return
        return


def _wait_for_answer(lam, name: str, wanted: int | str, timeout: float) -> bool:
    """Invoke (sleep 0) until the answer is ``wanted`` (a status or an error code)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got: int | str = lam.invoke(FunctionName=name, Payload=b'{"sleep": 0}')["StatusCode"]
        except ClientError as error:
            got = error.response["Error"]["Code"]
        if got == wanted:
            return True
        time.sleep(0.1)
    return False


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
