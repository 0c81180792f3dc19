"""In-process harness for the mapping pollers: real SQS (in-memory SQLite) and a small fake
of the Lambda internal API whose handler is a Python coroutine."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson

from postroom.clock import SystemClock
from postroom.pollers.sqs import MappingPollers
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.sqs.api import OutgoingMessage
from postroom.sqs.service import SqsService
from postroom.storage import mappings as states
from postroom.storage.mappings import MappingRecord
from postroom.storage.sqlite import SqliteStore

ACCOUNT, REGION = "000000000000", "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:worker"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")


@dataclass(frozen=True)
class Info:
    function_arn: str
    timeout_s: int
    reserved_concurrency: int | None


@dataclass
class Result:
    payload: bytes
    function_error: str | None = None
    executed_version: str = "$LATEST"


Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class Fail(Exception):
    """Raised by a test handler: the invocation ends with a function error."""


class Throttle(Exception):
    """Raised by a test handler: the invocation is throttled."""


@dataclass
class FakeFunctions:
    """LambdaApi's surface the pollers use; ``handler(event)`` returns the answer (any JSON
    value, or bytes as they are) or raises Fail / Throttle."""

    handler: Handler
    timeout_s: int = 3
    reserved: int | None = None
    missing: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    async def function(self, name: str, *, account: str, region: str, qualifier: str | None = None) -> Info:
        if self.missing:
            raise AWSError("ResourceNotFoundException", f"Function not found: {name}", status=404)
        return Info(FUNCTION_ARN, self.timeout_s, self.reserved)

    async def invoke(self, function: str, payload: bytes, *, account: str, region: str) -> Result:
        event = orjson.loads(payload)
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            answer = await self.handler(event)
        except Throttle:
            raise AWSError("TooManyRequestsException", "Rate Exceeded.", status=429) from None
        except Fail as exc:
            return Result(orjson.dumps({"errorMessage": str(exc), "errorType": "Fail"}), "Unhandled")
        finally:
            self.active -= 1
        self.events.append(event)
        return Result(answer if isinstance(answer, bytes) else orjson.dumps(answer))

    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


class Harness:
    def __init__(self, functions: FakeFunctions) -> None:
        self.functions = functions
        self.clock = SystemClock()

    async def __aenter__(self) -> Harness:
        self.store = SqliteStore(None)
        await self.store.start()
        self.sqs = SqsService(self.store, self.clock)
        await self.sqs.start()
        self.apis = SimpleNamespace(sqs=self.sqs.api, lambda_=self.functions)
        self.pollers = MappingPollers(self.store.mappings, self.apis, self.clock)
        await self.pollers.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pollers.stop()
        self.sqs.begin_shutdown()
        await self.sqs.stop()
        await self.store.close()

    async def queue(self, *, fifo: bool = False, visibility: int = 30, dlq: str | None = None,
                    max_receives: int = 1) -> str:
        name = f"q-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
        attributes = {"VisibilityTimeout": str(visibility)}
        if fifo:
            attributes["FifoQueue"] = "true"
        if dlq:
            attributes["RedrivePolicy"] = orjson.dumps(
                {"deadLetterTargetArn": dlq, "maxReceiveCount": max_receives}).decode()
        await self.sqs.call("CreateQueue", {"QueueName": name, "Attributes": attributes}, CTX)
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    async def send(self, arn: str, body: str, *, group: str | None = None,
                   attributes: dict[str, Any] | None = None) -> str:
        dedup = uuid.uuid4().hex if group else None
        return await self.sqs.api.send(arn, OutgoingMessage(body, attributes or {}, group, dedup))

    async def map(self, source: str, **settings: Any) -> MappingRecord:
        mapping = MappingRecord(
            uuid=str(uuid.uuid4()), account=ACCOUNT, region=REGION, function_arn=FUNCTION_ARN,
            source_arn=source, batch_size=settings.pop("batch_size", 10),
            batching_window_s=settings.pop("window", 0), enabled=True, state=states.CREATING,
            last_modified_ms=self.clock.now_ms(), **settings,
        )
        await self.store.mappings.save(mapping)
        self.pollers.refresh(mapping)
        return mapping

    async def depth(self, arn: str) -> tuple[int, int]:
        """(visible, in flight) messages of a queue."""
        ref = self.sqs.api.queue(arn)
        assert ref is not None
        counts = await self.store.counts(ref.id, self.clock.now_ms())
        return counts.visible, counts.not_visible

    async def drain(self, arn: str, expected: int, timeout: float = 10) -> list[str]:
        """Bodies received from a queue (not mapped) until ``expected`` have come."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            messages = await self.sqs.api.receive(arn, max_messages=10, wait_seconds=1)
            got.extend(m.body for m in messages)
            if messages:
                await self.sqs.api.delete(arn, [m.receipt_handle for m in messages])
        return got


async def eventually(check: Callable[[], Any], timeout: float = 10, step: float = 0.02) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            assert value, "condition not met in time"
            return value
        await asyncio.sleep(step)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]
