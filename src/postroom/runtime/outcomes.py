"""How an invocation ended, in AWS's words: answers, error documents and exit wording."""

from __future__ import annotations

import base64
import binascii
import signal
from dataclasses import dataclass

import orjson

_SIGNAL_TEXT = {  # how AWS (Go's os/exec) names the signal that ended a runtime
    signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted", signal.SIGINT: "interrupt", signal.SIGBUS: "bus error",
}


@dataclass(slots=True)
class Outcome:
    """How an invocation (or the init before it) ended."""

    payload: bytes
    function_error: str | None = None
    error_type: str | None = None
    status: str | None = None  # REPORT's Status: "error" | "timeout"
    log_lines: tuple[str, ...] = ()  # platform lines before END
    message: str | None = None  # an init failure whose answer still needs the request id


def error_payload(error_type: str, request_id: str, message: str) -> bytes:
    return orjson.dumps({"errorType": error_type,
                         "errorMessage": f"RequestId: {request_id} Error: {message}"})


def timeout_outcome(request_id: str, timeout_s: float) -> Outcome:
    # The current shape (AWS console and SDK answers since 2023):
    # {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: <id> Error: Task timed
    # out after 3.00 seconds"}, see AWS's "Troubleshoot invocation issues in Lambda"
    # (troubleshooting-invocation.html#troubleshooting-timeouts). The log shows it only as
    # REPORT's "Status: timeout" (the older "<time> <id> Task timed out after N.NN seconds"
    # line is gone).
    text = f"Task timed out after {timeout_s:.2f} seconds"
    return Outcome(error_payload("Sandbox.Timedout", request_id, text), "Unhandled",
                   "Sandbox.Timedout", "timeout")


def too_large_outcome(limit: int) -> Outcome:
    payload = orjson.dumps({
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({limit} bytes).",
        "errorType": "Function.ResponseSizeTooLarge"})
    return Outcome(payload, "Unhandled", "Function.ResponseSizeTooLarge")


def exit_text(returncode: int) -> str:
    """AWS's wording for a runtime that exited."""
    if returncode < 0:
        sig = -returncode
        try:
            name = _SIGNAL_TEXT.get(signal.Signals(sig), signal.Signals(sig).name)
        except ValueError:
            name = str(sig)
        return f"Runtime exited with error: signal: {name}"
    if returncode == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: exit status {returncode}"


def decoded_client_context(value: str | None) -> str | None:
    """Invoke takes ClientContext as base64 JSON; the Runtime API hands runtimes the JSON."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return value


def body_error_type(body: bytes) -> str | None:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = doc.get("errorType") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None
