"""Helpers for the execution-environment tests: specs, a collecting LogSink, a pool runner."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from postroom.clock import SystemClock
from postroom.runtime.api import FunctionSpec, Invocation, InvocationResult, RuntimeSettings
from postroom.runtime.pool import EnvironmentPool

PY_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ACCOUNT = "123456789012"
REGION = "us-east-1"


class CollectingSink:
    """A LogSink keeping every event: (group, stream, timestamp ms, message)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int, str]] = []
        self.places: set[tuple[str, str]] = set()  # (account, region) written to

    def write(self, account: str, region: str, group: str, stream: str,
              events: list[tuple[int, str]]) -> None:
        self.places.add((account, region))
        self.events.extend((group, stream, ts, msg) for ts, msg in events)

    def text(self, stream: str | None = None) -> str:
        return "".join(m for _, s, _, m in self.events if stream is None or s == stream)


def write_code(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, body in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
        if name == "bootstrap" or name.endswith("/bootstrap"):
            path.chmod(0o755)
    return directory


def spec(code_dir: Path, handler: str, runtime: str = PY_RUNTIME, name: str = "fn",
         **kwargs: Any) -> FunctionSpec:
    account = kwargs.pop("account", ACCOUNT)
    return FunctionSpec(
        account=account, region=REGION, function_name=name,
        function_arn=f"arn:aws:lambda:{REGION}:{account}:function:{name}",
        version=kwargs.pop("version", "$LATEST"), runtime=runtime, handler=handler,
        code_dir=code_dir, log_group=f"/aws/lambda/{name}", **kwargs)


def invocation(fn: FunctionSpec, payload: Any = None, **kwargs: Any) -> Invocation:
    return Invocation(request_id=str(uuid.uuid4()), payload=json.dumps(payload).encode(),
                      invoked_function_arn=fn.function_arn, **kwargs)


def body(result: InvocationResult) -> Any:
    return json.loads(result.payload)


def run_pool(work_dir: Path, scenario: Callable[[EnvironmentPool, CollectingSink], Awaitable[Any]],
             **settings: Any) -> Any:
    """Run ``scenario`` against a fresh pool (stopped afterwards) on its own event loop."""

    async def main() -> Any:
        sink = CollectingSink()
        pool = EnvironmentPool(SystemClock(), RuntimeSettings(work_dir=work_dir, **settings), sink)
        await pool.start()
        try:
            return await scenario(pool, sink)
        finally:
            await pool.stop()

    if os.environ.get("POSTROOM_TEST_LOOP") == "asyncio":
        return asyncio.run(main())
    import uvloop  # the server's own loop

    return uvloop.run(main())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is as good as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def wait_gone(pid: int, within_s: float = 5.0) -> bool:
    for _ in range(int(within_s / 0.02)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.02)
    return not alive(pid)
