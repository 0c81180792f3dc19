"""Functions end to end through a real server: the README's aws CLI flow, Node and custom
(`provided`) runtimes, layers with aws-lambda-powertools, code updates, versions and
aliases, timeouts and init failures."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lambda_helpers import ROLE, client, create_function, function_name, zip_code

NODE = shutil.which("node")
CURL = shutil.which("curl")


@pytest.fixture(scope="module")
def lam(endpoint):
    return client(endpoint)


def invoke(lam, name, payload, **kwargs):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), **kwargs)
    return resp, json.loads(resp["Payload"].read() or b"null")


def aws(endpoint: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("aws")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run([str(cli), "--endpoint-url", endpoint, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_readme_cli_flow(endpoint, tmp_path):
    (tmp_path / "app.py").write_text(
        "def handler(event, context):\n"
        "    return {'hello': event.get('name'), 'request': context.aws_request_id}\n"
    )
    (tmp_path / "fn.zip").write_bytes(zip_code({"app.py": (tmp_path / "app.py").read_text()}))
    name = function_name("hello")
    created = aws(endpoint, "lambda", "create-function", "--function-name", name, "--runtime", "python3.12",
                  "--handler", "app.handler", "--zip-file", "fileb://fn.zip", "--role", ROLE, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    # The v1 CLI passes --payload as it is; v2 needs --cli-binary-format raw-in-base64-out.
    sync = aws(endpoint, "lambda", "invoke", "--function-name", name,
               "--payload", '{"name":"ada"}', "out.json", cwd=tmp_path)
    assert sync.returncode == 0, sync.stderr
    assert json.loads(sync.stdout)["StatusCode"] == 200
    answer = json.loads((tmp_path / "out.json").read_text())
    assert answer["hello"] == "ada" and len(answer["request"]) == 36
    event = aws(endpoint, "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
                "--payload", "{}", "out2.json", cwd=tmp_path)
    assert event.returncode == 0, event.stderr
    assert json.loads(event.stdout)["StatusCode"] == 202


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_handlers_esm_and_commonjs(lam):
    esm = create_function(lam, {"index.mjs": (
        "export const handler = async (event, context) => {\n"
        "  console.log('event', JSON.stringify(event));\n"
        "  return { got: event, name: context.functionName, left: context.getRemainingTimeInMillis() > 0 };\n"
        "};\n")}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, esm, {"a": 1}, LogType="Tail")
    assert body == {"got": {"a": 1}, "name": esm, "left": True}
    assert "\tINFO\tevent {\"a\":1}" in base64.b64decode(resp["LogResult"]).decode()
    cjs = create_function(lam, {"lib/app.js": (
        "exports.handler = function (event, context, callback) {\n"
        "  if (event.fail) { return callback(new TypeError('nope')); }\n"
        "  callback(null, { ok: true });\n"
        "};\n")}, runtime="nodejs20.x", handler="lib/app.handler")
    assert invoke(lam, cjs, {})[1] == {"ok": True}
    resp, body = invoke(lam, cjs, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "nope"


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_provided_runtime_runs_a_shell_bootstrap(lam):
    bootstrap = (
        "#!/bin/sh\nset -eu\n"
        "while true; do\n"
        "  HEADERS=$(mktemp)\n"
        "  EVENT=$(curl -sS -LD \"$HEADERS\" \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next\")\n"
        "  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id \"$HEADERS\" | tr -d '[:space:]' | cut -d: -f2)\n"
        "  curl -sS -X POST \"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$ID/response\""
        " -d \"{\\\"echo\\\": $EVENT, \\\"handler\\\": \\\"$_HANDLER\\\"}\" > /dev/null\n"
        "done\n"
    )
    name = create_function(lam, {"bootstrap": bootstrap}, modes={"bootstrap": 0o755},
                           runtime="provided.al2023", handler="my.handler")
    assert invoke(lam, name, {"k": "v"})[1] == {"echo": {"k": "v"}, "handler": "my.handler"}


def _powertools_layer() -> bytes:
    import aws_lambda_powertools

    package = Path(aws_lambda_powertools.__file__).parent
    files = {}
    for path in package.rglob("*.py"):
        files["python/aws_lambda_powertools/" + path.relative_to(package).as_posix()] = path.read_bytes()
    return zip_code(files)


def test_layer_with_aws_lambda_powertools(lam):
    layer = lam.publish_layer_version(LayerName=function_name("powertools"), Content={"ZipFile": _powertools_layer()},
                                      CompatibleRuntimes=["python3.12"])
    code = (
        "from aws_lambda_powertools import Logger\n"
        "from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source\n"
        "logger = Logger(service='orders')\n"
        "@event_source(data_class=SQSEvent)\n"
        "def handler(event, context):\n"
        "    bodies = [r.body for r in event.records]\n"
        "    logger.info('processing', extra={'count': len(bodies)})\n"
        "    return {'bodies': bodies}\n"
    )
    name = create_function(lam, {"app.py": code}, Layers=[layer["LayerVersionArn"]])
    event = {"Records": [{"messageId": "1", "body": "a", "eventSource": "aws:sqs"},
                         {"messageId": "2", "body": "b", "eventSource": "aws:sqs"}]}
    resp, body = invoke(lam, name, event, LogType="Tail")
    assert body == {"bodies": ["a", "b"]}, body
    log = base64.b64decode(resp["LogResult"]).decode()
    assert '"service":"orders"' in log.replace(" ", "") and '"count":2' in log.replace(" ", "")


def test_code_update_versions_and_aliases(lam):
    name = create_function(lam, {"app.py": "def handler(e, c):\n    return 'one'\n"})
    assert invoke(lam, name, {})[1] == "one"
    v1 = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=v1)
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"app.py": "def handler(e, c):\n    return 'two'\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    assert invoke(lam, name, {})[1] == "two"
    resp, body = invoke(lam, name, {}, Qualifier="live")
    assert body == "one" and resp["ExecutedVersion"] == v1


def test_timeout_kills_the_environment(lam):
    name = create_function(lam, {"app.py": "import time\ndef handler(e, c):\n    time.sleep(5)\n"}, Timeout=1)
    resp, body = invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]


def test_init_failures_answer_aws_error_types(lam):
    broken = create_function(lam, {"app.py": "import not_a_module_anywhere\n"})
    resp, body = invoke(lam, broken, {})
    assert resp["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ImportModuleError"
    missing = create_function(lam, {"app.py": "x = 1\n"})
    resp, body = invoke(lam, missing, {})
    assert resp["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.HandlerNotFound"


def _node_sdk_installed() -> bool:
    from postroom.runtime.node_sdk import default_dir

    return (default_dir() / "node_modules" / "@aws-sdk" / "client-sqs").is_dir()


@pytest.mark.skipif(NODE is None or not _node_sdk_installed(),
                    reason="node or the Node SDK (postroom node-sdk) is not installed")
def test_node_handler_uses_the_aws_sdk_without_bundling_it(lam, endpoint):
    sqs = client(endpoint, "sqs")
    url = sqs.create_queue(QueueName=function_name("from-node"))["QueueUrl"]
    name = create_function(lam, {"index.js": (
        "const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');\n"
        "const sqs = new SQSClient({});\n"
        "exports.handler = async (event) => {\n"
        "  const out = await sqs.send(new SendMessageCommand({ QueueUrl: event.queue, MessageBody: 'from node' }));\n"
        "  return { id: out.MessageId };\n"
        "};\n")}, runtime="nodejs20.x", handler="index.handler")
    resp, body = invoke(lam, name, {"queue": url})
    assert "FunctionError" not in resp, body
    [msg] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert msg["Body"] == "from node" and msg["MessageId"] == body["id"]
