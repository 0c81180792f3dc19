"""Python functions in execution environments (AWS's runtime client, awslambdaric)."""

from __future__ import annotations

import base64
import re
import sys

import pytest
from runtime_helpers import (
    ACCOUNT,
    REGION,
    body,
    invocation,
    run_pool,
    spec,
    wait_gone,
    write_code,
)

APP = """
    import os, sys, time
    print("init output")

    def echo(event, context):
        print("handling", event)
        return {
            "event": event,
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "env": {k: os.environ.get(k) for k in (
                "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_EXECUTION_ENV",
                "LAMBDA_TASK_ROOT", "_HANDLER", "TZ", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "MY_SETTING", "TMPDIR", "LANG")},
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "client_custom": context.client_context and context.client_context.custom,
            "identity_id": context.identity and context.identity.cognito_identity_id,
        }

    def fail(event, context):
        print("about to fail")
        raise ValueError("the order is invalid")

    def slow(event, context):
        print(f"sleeping pid={os.getpid()}")
        time.sleep(30)

    def leave(event, context):
        print("leaving")
        sys.stdout.flush()
        os._exit(3)

    def big(event, context):
        return "x" * 7_000_000

    def pid(event, context):
        return os.getpid()

    def chatty(event, context):
        for i in range(event["lines"]):
            print(f"line {i:05d} " + "x" * 90)
        sys.stdout.write("no newline at the end")
        return "done"
"""


@pytest.fixture
def code(tmp_path):
    return write_code(tmp_path / "code", {"app.py": APP, "broken.py": "import no_such_module\n"})


def test_echo_context_environment_and_logs(code, tmp_path):
    fn = spec(code, "app.echo", environment=(("MY_SETTING", "42"), ("AWS_REGION", "eu-west-1")),
              memory_mb=256, timeout_s=5)

    async def scenario(pool, sink):
        first = await pool.invoke(fn, invocation(
            fn, {"order": 1}, trace_id="Root=1-abc-def",
            client_context=base64.b64encode(b'{"custom": {"tenant": "t1"}}').decode(),
            cognito_identity='{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}'))
        second = await pool.invoke(fn, invocation(fn, {"order": 2}))
        return first, second, sink

    first, second, sink = run_pool(tmp_path / "work", scenario, endpoint_url="http://127.0.0.1:9999")
    assert first.function_error is None, first.payload
    doc = body(first)
    assert doc["event"] == {"order": 1}
    assert doc["function_name"] == "fn" and doc["function_version"] == "$LATEST"
    assert doc["invoked_function_arn"] == fn.function_arn
    assert doc["memory_limit_in_mb"] == "256"
    assert doc["log_group_name"] == "/aws/lambda/fn"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", doc["log_stream_name"])
    assert doc["log_stream_name"].endswith(first.environment_id)
    assert 4000 < doc["remaining_ms"] <= 5000
    assert doc["trace"] == "Root=1-abc-def"
    assert doc["client_custom"] == {"tenant": "t1"}
    assert doc["identity_id"] == "id-1"
    env = doc["env"]
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9999"
    assert env["AWS_REGION"] == REGION and env["AWS_DEFAULT_REGION"] == REGION  # reserved wins
    assert env["MY_SETTING"] == "42"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/fn"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == doc["log_stream_name"]
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{fn.runtime}"
    assert env["LAMBDA_TASK_ROOT"] == str(code) == doc["cwd"]
    assert env["_HANDLER"] == "app.echo"
    assert env["TZ"] == ":UTC" and env["LANG"] == "en_US.UTF-8"
    assert env["AWS_ACCESS_KEY_ID"] == ACCOUNT
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["TMPDIR"].startswith(str(tmp_path / "work"))

    # Cold start: init duration reported; the tail runs from START to REPORT.
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    rid = doc["request_id"]
    lines = first.log_tail.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[1] == "handling {'order': 1}"
    assert lines[2] == f"END RequestId: {rid}"
    assert re.fullmatch(
        rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t", lines[3])
    assert first.billed_duration_ms >= first.duration_ms + first.init_duration_ms
    assert first.max_memory_used_mb > 0

    # Warm: same environment, no init.
    assert second.environment_id == first.environment_id
    assert body(second)["pid"] == doc["pid"]
    assert second.init_duration_ms is None and "Init Duration" not in second.log_tail
    assert body(second)["trace"] is None

    # The stream holds init output, then both invocations in order.
    text = sink.text(doc["log_stream_name"])
    assert text.index("init output") < text.index(f"START RequestId: {rid}")
    assert text.index(f"REPORT RequestId: {rid}") < text.index("handling {'order': 2}")
    assert all(g == "/aws/lambda/fn" for g, _, _, _ in sink.events)
    assert sink.places == {(ACCOUNT, REGION)}


def test_handler_exception(code, tmp_path):
    fn = spec(code, "app.fail")

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == "ValueError"
    doc = body(result)
    assert doc["errorType"] == "ValueError"
    assert doc["errorMessage"] == "the order is invalid"
    assert isinstance(doc["stackTrace"], list) and "app.py" in doc["stackTrace"][0]
    assert "about to fail" in result.log_tail
    assert "[ERROR] ValueError: the order is invalid" in result.log_tail


@pytest.mark.parametrize("handler,error_type,message", [
    ("broken.handler", "Runtime.ImportModuleError",
     "Unable to import module 'broken': No module named 'no_such_module'"),
    ("nothere.handler", "Runtime.ImportModuleError", "Unable to import module 'nothere'"),
    ("app.missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'"),
])
def test_init_errors_answer_the_cold_invocation(code, tmp_path, handler, error_type, message):
    fn = spec(code, handler)

    async def scenario(pool, sink):
        first = await pool.invoke(fn, invocation(fn, {}))
        second = await pool.invoke(fn, invocation(fn, {}))
        return first, second, pool.environments(fn.function_arn)

    first, second, left = run_pool(tmp_path / "work", scenario)
    for result in (first, second):
        assert result.function_error == "Unhandled"
        assert result.error_type == error_type
        doc = body(result)
        assert doc["errorType"] == error_type
        assert doc["errorMessage"].startswith(message), doc
        assert result.init_duration_ms is not None
        lines = result.log_tail.splitlines()
        assert lines[-1].endswith(f"\tStatus: error\tError Type: {error_type}")
        report = [line for line in lines if line.startswith("INIT_REPORT")]
        assert len(report) == 1 and re.fullmatch(
            rf"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: init\tStatus: error\t"
            rf"Error Type: {error_type}", report[0])
        assert lines.index(report[0]) < [i for i, v in enumerate(lines) if v.startswith("START")][0]
    assert first.environment_id != second.environment_id  # discarded after the failure
    assert left == 0


def test_timeout_kills_the_process(code, tmp_path):
    fn = spec(code, "app.slow", timeout_s=1)

    async def scenario(pool, sink):
        inv = invocation(fn, {})
        result = await pool.invoke(fn, inv)
        pid = int(re.search(r"sleeping pid=(\d+)", result.log_tail).group(1))
        gone = await wait_gone(pid)
        again = await pool.invoke(fn, invocation(fn, {}))
        return inv, result, again, gone

    inv, result, again, gone = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Sandbox.Timedout"
    assert body(result) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {inv.request_id} Error: Task timed out after 1.00 seconds",
    }
    assert result.duration_ms == 1000.0
    assert result.log_tail.splitlines()[-1].endswith("\tStatus: timeout")
    assert gone
    assert again.environment_id != result.environment_id  # the timed-out one was killed


def test_process_exit_mid_invocation(code, tmp_path):
    fn = spec(code, "app.leave")

    async def scenario(pool, sink):
        inv = invocation(fn, {})
        return inv, await pool.invoke(fn, inv)

    inv, result = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.ExitError"
    assert body(result) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with error: exit status 3",
    }
    assert "leaving" in result.log_tail
    assert "Runtime.ExitError" in result.log_tail


def test_response_too_large(code, tmp_path):
    fn = spec(code, "app.big")

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert body(result)["errorType"] == "Function.ResponseSizeTooLarge"


def test_layers_are_on_the_path(tmp_path):
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    layer_a = write_code(tmp_path / "layer-a", {"python/shared_lib.py": "VALUE = 'from layer a'\n"})
    layer_b = write_code(tmp_path / "layer-b", {
        f"python/lib/{version}/site-packages/deep_lib.py": "VALUE = 'from layer b'\n"})
    code = write_code(tmp_path / "code", {"app.py": """
        import shared_lib, deep_lib
        def handler(event, context):
            return [shared_lib.VALUE, deep_lib.VALUE]
    """})
    fn = spec(code, "app.handler", layer_dirs=(layer_a, layer_b))

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error is None, result.payload
    assert body(result) == ["from layer a", "from layer b"]


def test_everything_printed_before_the_answer_is_in_its_log(code, tmp_path):
    fn = spec(code, "app.chatty")

    async def scenario(pool, sink):
        results = [await pool.invoke(fn, invocation(fn, {"lines": 3000})) for _ in range(2)]
        return results, sink

    results, sink = run_pool(tmp_path / "work", scenario)
    for result in results:
        lines = result.log_tail.splitlines()
        assert lines[0].startswith("START") and lines[-2].startswith("END")
        printed = [line for line in lines if line.startswith("line ")]
        assert len(printed) == 3000 and printed[-1].startswith("line 02999 ")
        assert lines[-3] == "no newline at the end"
    text = sink.text()
    assert text.count("line 02999 ") == 2
    assert text.index("no newline at the end") < text.index("END RequestId")
