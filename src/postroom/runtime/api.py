"""The types ``lambda_/`` and the execution-environment pool trade in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """Everything needed to start an execution environment for one function version.

    Environments are reused only for an equal spec: a code or configuration change gives a
    new spec, and environments of the old one are retired."""

    account: str
    region: str
    function_name: str
    function_arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    runtime: str  # "python3.12", "nodejs20.x", "provided.al2023", ...
    handler: str
    code_dir: Path  # the unpacked code: LAMBDA_TASK_ROOT
    layer_dirs: tuple[Path, ...] = ()  # unpacked layers, in the function's order
    environment: tuple[tuple[str, str], ...] = ()  # the function's own variables
    timeout_s: int = 3
    memory_mb: int = 128
    revision: str = ""  # changes whenever code or configuration changes
    log_group: str = ""  # "/aws/lambda/<name>" unless LoggingConfig says otherwise


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation handed to an environment."""

    request_id: str
    payload: bytes
    invoked_function_arn: str  # as the caller named it (qualified when it was)
    client_context: str | None = None  # base64 JSON, passed through
    cognito_identity: str | None = None
    trace_id: str | None = None


@dataclass(slots=True)
class InvocationResult:
    """What an environment answered (or why it could not)."""

    payload: bytes
    function_error: str | None  # None on success; "Unhandled" for errors, timeouts, crashes
    log_tail: str  # this invocation's log text (START .. REPORT), for LogType=Tail
    duration_ms: float
    billed_duration_ms: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None  # set on a cold start
    environment_id: str = ""
    error_type: str | None = None  # e.g. "Runtime.ImportModuleError", "Sandbox.Timedout"


class Throttled(Exception):
    """No environment may be started: the function's or the account's concurrency is used up."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "ReservedFunctionConcurrentInvocationLimitExceeded" | "ConcurrentInvocationLimitExceeded"


class LogSink(Protocol):
    """Where environments' output goes (CloudWatch Logs storage): non-blocking, buffered."""

    def write(self, account: str, region: str, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Append (timestamp ms, message) events to a stream of the function's account and
        region, creating group and stream on first use."""
        ...


@dataclass
class RuntimeSettings:
    """Server options for execution environments."""

    endpoint_url: str = "http://127.0.0.1:4566"  # AWS_ENDPOINT_URL given to handlers
    secret_access_key: str = "test"  # handlers' secret key (checked when auth is on)
    idle_timeout_s: float = 300.0  # an idle environment is stopped after this long
    account_concurrency: int = 1000  # AWS's default account limit
    interpreters: dict[str, str] = field(default_factory=dict)  # runtime id -> executable
    work_dir: Path | None = None  # where environments' scratch (/tmp) directories go
    # The AWS SDK for JavaScript v3 that Node handlers get without bundling it, as on AWS
    # (installed by `postroom node-sdk`; see runtime/node_sdk.py).
    node_sdk_dir: Path | None = None
