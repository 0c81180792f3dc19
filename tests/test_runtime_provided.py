"""Custom runtimes (provided.al2023): a shell-script bootstrap speaking the Runtime API with curl."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from runtime_helpers import body, invocation, run_pool, spec, write_code

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

BOOTSTRAP = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
post() { curl -s -o /dev/null -w '%{http_code}' -X POST "$@"; }
echo "bootstrap starting in $(pwd) with $_HANDLER"
echo "response before next answered $(post "$API/invocation/not-issued/response" -d '{}')"
echo "unknown path answered $(curl -s -o /dev/null -w '%{http_code}' "$API/nothing")"
while true; do
  HEADERS="$TMPDIR/headers"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  header() { grep -i "^$1:" "$HEADERS" | cut -d' ' -f2- | tr -d '\r'; }
  ID=$(header Lambda-Runtime-Aws-Request-Id)
  echo "handling $ID"
  echo "unknown request id answered $(post "$API/invocation/not-issued/response" -d '{}')"
  case "$EVENT" in
    *fail*)
      post "$API/invocation/$ID/error" -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \
        -d '{"errorMessage":"asked to fail","errorType":"Custom.Failure","stackTrace":[]}' >/dev/null ;;
    *exit*)
      exit 7 ;;
    *)
      BODY="{\"event\":$EVENT,\"deadline\":\"$(header Lambda-Runtime-Deadline-Ms)\",\"arn\":\"$(header Lambda-Runtime-Invoked-Function-Arn)\",\"trace\":\"$(header Lambda-Runtime-Trace-Id)\",\"context\":$(header Lambda-Runtime-Client-Context),\"identity\":$(header Lambda-Runtime-Cognito-Identity),\"path\":\"$PATH\"}"
      echo "response answered $(post "$API/invocation/$ID/response" -d "$BODY")"
      echo "second response answered $(post "$API/invocation/$ID/response" -d '{}')"
      echo "late init error answered $(post "$API/init/error" -d '{}')"
      echo "second response said $(curl -s -X POST "$API/invocation/$ID/response" -d '{}')" ;;
  esac
done
"""

INIT_FAILS = r"""#!/bin/sh
curl -s -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \
  -H "Lambda-Runtime-Function-Error-Type: Custom.InitFailed" \
  -d '{"errorMessage":"no config","errorType":"Custom.InitFailed"}'
exit 1
"""


def test_shell_bootstrap_with_curl(tmp_path):
    code = write_code(tmp_path / "code", {"bootstrap": BOOTSTRAP})
    layer = tmp_path / "layer"
    (layer / "bin").mkdir(parents=True)
    fn = spec(code, "function.handler", runtime="provided.al2023", layer_dirs=(layer,))

    async def scenario(pool, sink):
        inv = invocation(fn, {"hello": "world"}, trace_id="Root=1-5759e988-bd862e3fe1be46a994272793",
                         client_context="eyJjdXN0b20iOnt9fQ==", cognito_identity='{"cognitoIdentityId":"x"}')
        first = await pool.invoke(fn, inv)
        failed = await pool.invoke(fn, invocation(fn, {"please": "fail"}))
        exited = await pool.invoke(fn, invocation(fn, {"please": "exit"}))
        return inv, first, failed, exited, sink

    inv, first, failed, exited, sink = run_pool(tmp_path / "work", scenario)
    assert first.function_error is None, first.payload
    doc = body(first)
    assert doc["event"] == {"hello": "world"}
    assert int(doc["deadline"]) > 1_600_000_000_000  # epoch ms
    assert doc["arn"] == fn.function_arn
    assert doc["trace"] == inv.trace_id and doc["context"] == {"custom": {}}  # decoded
    assert doc["identity"] == {"cognitoIdentityId": "x"}
    assert doc["path"].startswith(str(layer / "bin"))
    assert f"handling {inv.request_id}" in first.log_tail
    assert first.init_duration_ms is not None

    assert failed.function_error == "Unhandled" and failed.error_type == "Custom.Failure"
    assert body(failed) == {"errorMessage": "asked to fail", "errorType": "Custom.Failure",
                            "stackTrace": []}
    assert failed.environment_id == first.environment_id

    assert exited.error_type == "Runtime.ExitError"
    assert body(exited)["errorMessage"].endswith("Runtime exited with error: exit status 7")

    text = sink.text()
    assert f"bootstrap starting in {code} with function.handler" in text
    assert "response before next answered 403" in text
    assert "unknown request id answered 400" in text
    assert "late init error answered 403" in text
    said = json.loads(re.search(r"second response said (.*)", text).group(1))
    assert said == {"errorMessage": "State transition from RuntimeResponseSentState to "
                                    "InvocationResponse failed for runtime. Error: State "
                                    "transition is not allowed",
                    "errorType": "InvalidStateTransition"}
    assert "unknown path answered 404" in text
    assert "response answered 202" in text
    assert "second response answered 403" in text


def test_init_error_is_the_answer(tmp_path):
    code = write_code(tmp_path / "code", {"bootstrap": INIT_FAILS})
    fn = spec(code, "x", runtime="provided.al2")

    async def scenario(pool, sink):
        return await pool.invoke(fn, invocation(fn, {}))

    result = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled" and result.error_type == "Custom.InitFailed"
    assert body(result) == {"errorMessage": "no config", "errorType": "Custom.InitFailed"}


def test_missing_bootstrap(tmp_path):
    code = write_code(tmp_path / "code", {"main.sh": "echo hi\n"})
    fn = spec(code, "x", runtime="provided")

    async def scenario(pool, sink):
        inv = invocation(fn, {})
        return inv, await pool.invoke(fn, inv)

    inv, result = run_pool(tmp_path / "work", scenario)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    assert re.fullmatch(
        rf"RequestId: {inv.request_id} Error: Couldn't find valid bootstrap\(s\): \[{code}/bootstrap\]",
        body(result)["errorMessage"])
