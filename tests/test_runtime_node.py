"""Node.js functions in execution environments (the project's own bootstrap.mjs)."""

from __future__ import annotations

import re
import shutil

import pytest
from runtime_helpers import body, invocation, run_pool, spec, write_code

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

NODE = "nodejs20.x"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

FILES = {
    "index.js": """
        console.log("loading index");
        exports.handler = async (event, context) => {
          console.log("got", JSON.stringify(event));
          console.warn("careful\\nsecond line");
          return {
            event,
            awsRequestId: context.awsRequestId,
            functionName: context.functionName,
            functionVersion: context.functionVersion,
            invokedFunctionArn: context.invokedFunctionArn,
            memoryLimitInMB: context.memoryLimitInMB,
            logGroupName: context.logGroupName,
            logStreamName: context.logStreamName,
            remaining: context.getRemainingTimeInMillis(),
            waits: context.callbackWaitsForEmptyEventLoop,
            clientContext: context.clientContext,
            identity: context.identity,
            endpoint: process.env.AWS_ENDPOINT_URL,
            layer: (() => { try { return require("layer-dep").value; } catch (e) { return null; } })(),
          };
        };
        exports.callback = (event, context, callback) => {
          setTimeout(() => console.log("timer ran before the answer"), 30);
          callback(null, { via: "callback", n: event.n });
        };
        exports.noWait = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = false;
          callback(null, "answered at once");
        };
        exports.fails = async () => { throw new TypeError("bad input"); };
        exports.failsCallback = (event, context, callback) => callback(new Error("via callback"));
        exports.nested = { deeper: { fn: async () => "nested ok" } };
        exports.notAFunction = 42;
        exports.crashes = async () => {
          setTimeout(() => { throw new RangeError("thrown from a timer"); }, 5);
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return "never";
        };
        exports.rejects = async () => {
          Promise.reject(new Error("nobody caught me"));
          await new Promise((resolve) => setTimeout(resolve, 1000));
          return "never";
        };
    """,
    "lib/esm.mjs": "export const handler = async (event) => ({ esm: true, event });\n",
    "lib/common.cjs": "module.exports.handler = async () => 'cjs ok';\n",
    "syntax.js": "exports.handler = async () => { return 1 +; };\n",
    "moduletype/package.json": '{"type": "module"}\n',
    "moduletype/app.js": "export const handler = async () => 'esm .js ok';\n",
}


@pytest.fixture
def code(tmp_path):
    return write_code(tmp_path / "code", FILES)


def test_async_handler_context_and_console(code, tmp_path):
    layer = write_code(tmp_path / "layer", {
        "nodejs/node_modules/layer-dep/index.js": "module.exports.value = 'from layer';\n"})
    fn = spec(code, "index.handler", runtime=NODE, timeout_s=4, layer_dirs=(layer,))

    async def scenario(pool, sink):
        first = await pool.invoke(fn, invocation(
            fn, {"k": "v"}, client_context="eyJjdXN0b20iOnsiYSI6MX19",
            cognito_identity='{"cognitoIdentityId":"id-9"}'))
        second = await pool.invoke(fn, invocation(fn, {"k": 2}))
        return first, second, sink

    first, second, sink = run_pool(tmp_path / "work", scenario, endpoint_url="http://127.0.0.1:9")
    assert first.function_error is None, first.payload
    doc = body(first)
    rid = doc["awsRequestId"]
    assert doc["event"] == {"k": "v"}
    assert doc["functionName"] == "fn" and doc["functionVersion"] == "$LATEST"
    assert doc["invokedFunctionArn"] == fn.function_arn
    assert doc["memoryLimitInMB"] == "128"
    assert doc["logGroupName"] == "/aws/lambda/fn"
    assert doc["logStreamName"].endswith(first.environment_id)
    assert 3000 < doc["remaining"] <= 4000
    assert doc["waits"] is True
    assert doc["clientContext"] == {"custom": {"a": 1}}
    assert doc["identity"] == {"cognitoIdentityId": "id-9"}
    assert doc["endpoint"] == "http://127.0.0.1:9"
    assert doc["layer"] == "from layer"
    lines = first.log_tail.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert re.fullmatch(rf"{ISO}\t{rid}\tINFO\tgot {{\"k\":\"v\"}}", lines[1])
    # A multi-line message is one event, as on AWS.
    warn = [m for _, _, _, m in sink.events if "careful" in m]
    assert len(warn) == 2 and re.fullmatch(rf"{ISO}\t{rid}\tWARN\tcareful\nsecond line\n", warn[0])
    assert re.search(rf"{ISO}\tundefined\tINFO\tloading index", sink.text())
    assert second.environment_id == first.environment_id and second.init_duration_ms is None


@pytest.mark.parametrize("handler,expected", [
    ("lib/esm.handler", {"esm": True, "event": {"n": 1}}),
    ("lib/common.handler", "cjs ok"),
    ("moduletype/app.handler", "esm .js ok"),
    ("index.nested.deeper.fn", "nested ok"),
    ("index.callback", {"via": "callback", "n": 1}),
    ("index.noWait", "answered at once"),
])
def test_module_kinds_and_handler_styles(code, tmp_path, handler, expected):
    fn = spec(code, handler, runtime=NODE)

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {"n": 1}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error is None, result.payload
    assert body(result) == expected
    if handler == "index.callback":  # waited for the event loop to empty before answering
        assert "timer ran before the answer" in result.log_tail


@pytest.mark.parametrize("handler,error_type,message", [
    ("index.fails", "TypeError", "bad input"),
    ("index.failsCallback", "Error", "via callback"),
])
def test_handler_errors(code, tmp_path, handler, error_type, message):
    fn = spec(code, handler, runtime=NODE)

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == error_type
    doc = body(result)
    assert doc["errorType"] == error_type and doc["errorMessage"] == message
    assert doc["trace"][0] == f"{error_type}: {message}"
    assert re.search(rf"{ISO}\t[0-9a-f-]{{36}}\tERROR\tInvoke Error \t", result.log_tail)


@pytest.mark.parametrize("handler,error_type,message", [
    ("missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"),
    ("index.absent", "Runtime.HandlerNotFound", "index.absent is undefined or not exported"),
    ("index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"),
    ("syntax.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"),
])
def test_init_errors(code, tmp_path, handler, error_type, message):
    fn = spec(code, handler, runtime=NODE)

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {})), pool.environments(fn.function_arn)

    result, left = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == error_type
    doc = body(result)
    assert doc["errorType"] == error_type
    assert doc["errorMessage"].startswith(message), doc
    assert doc["trace"][0].startswith(f"{error_type}: {message}")
    assert left == 0


@pytest.mark.parametrize("handler,error_type,message", [
    ("index.crashes", "RangeError", "thrown from a timer"),
    ("index.rejects", "Runtime.UnhandledPromiseRejection", "Error: nobody caught me"),
])
def test_a_crash_answers_the_invocation_and_the_next_one_starts_fresh(code, tmp_path, handler,
                                                                      error_type, message):
    fn = spec(code, handler, runtime=NODE, timeout_s=5)

    async def scenario(pool, sink):
        first = await pool.invoke(fn, invocation(fn, {}))
        second = await pool.invoke(fn, invocation(fn, {}))
        return first, second

    first, second = run_pool(tmp_path / "work", scenario)
    assert first.function_error == "Unhandled" and first.error_type == error_type
    assert body(first)["errorMessage"] == message
    assert first.duration_ms < 1000  # answered at the crash, not at the timeout
    assert second.error_type == error_type
    assert second.environment_id != first.environment_id
    assert second.init_duration_ms is not None
