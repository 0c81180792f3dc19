"""Reserved concurrency counted in storage: two Lambda services (two "nodes", each with its
own environment pool and lease keeper) on one store never run more invocations of a
function than its ReservedConcurrentExecutions, and a node that dies frees its slots once
their time-to-live has passed on the engine clock.

In-process, on SQLite or, with POSTROOM_TEST_STORE=postgresql://..., on PostgreSQL (a fresh
schema per test). Functions are real processes; the clock is manual.
"""

from __future__ import annotations

import asyncio
import io
import sys
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from store_helpers import open_test_store

from postroom.clock import ManualClock
from postroom.lambda_.service import LambdaService
from postroom.leases import Leases
from postroom.protocol.context import RequestContext
from postroom.protocol.errors import AWSError
from postroom.runtime.api import RuntimeSettings
from postroom.services import Apis
from postroom.storage.sql.store import SqlStore

pytestmark = pytest.mark.timeout(120)

ACCOUNT, REGION = "000000000000", "us-east-1"
CTX = RequestContext(ACCOUNT, REGION, "test", "http://localhost", "r")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/r"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
TTL_S = 9.0
RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
# Sleeps as long as the event says (real time); answers when it started and ended.
HANDLER = """
import time

def handler(event, context):
    started = time.time()
    time.sleep(event.get("sleep", 0))
    return {"started": started, "ended": time.time()}
"""


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", HANDLER)
    return buf.getvalue()


class Node:
    """One node's Lambda service: its own pool, its own lease keeper (owner = node name)."""

    def __init__(self, store: SqlStore, clock: ManualClock, root: Path, name: str) -> None:
        self.leases = Leases(store.leases, clock, name, notifier=store.notifier, ttl_s=TTL_S)
        # Functions run with the test's own interpreter (it has awslambdaric).
        runtime = RuntimeSettings(interpreters={RUNTIME: sys.executable})
        self.svc = LambdaService(store, clock, root, Apis(), runtime, leases=self.leases)

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.svc.call(operation, params, CTX) or {}

    async def invoke(self, sleep: float = 0) -> dict[str, Any]:
        """Run the function; its answer, or the throttling Reason (any other error raises)."""
        try:
            out = await self.call("Invoke", FunctionName="f", Payload=orjson.dumps({"sleep": sleep}))
        except AWSError as error:
            if error.code != "TooManyRequestsException":
                raise
            return {"throttled": error.fields.get("Reason")}
        assert "FunctionError" not in out, out
        return orjson.loads(out["Payload"])


def two_nodes(tmp_path: Path, scenario: Callable[[SqlStore, ManualClock, Node, Node], Awaitable[None]]) -> None:
    async def main() -> None:
        store, drop = open_test_store(tmp_path)
        await store.start()
        clock = ManualClock(1_700_000_000_000)
        a, b = Node(store, clock, tmp_path / "a", "a"), Node(store, clock, tmp_path / "b", "b")
        try:
            await a.svc.start()
            await b.svc.start()
            await a.call("CreateFunction", FunctionName="f", Runtime=RUNTIME, Handler="app.handler", Role=ROLE,
                         Code={"ZipFile": _zip()}, Timeout=120)
            await asyncio.wait_for(scenario(store, clock, a, b), 90)
        finally:
            for node in (a, b):
                await node.svc.stop()
                await node.leases.close()
            await store.close()
            drop()

    asyncio.run(main())


async def stored_rows(store: SqlStore) -> list[tuple[str, str]]:
    """(node, function ARN) of every running invocation's row."""
    return await store._committer.run(
        lambda conn, txn: conn.execute("SELECT node, function FROM lambda_running ORDER BY node").fetchall()
    )


async def until(predicate: Callable[[], bool], timeout: float = 20) -> None:
    """Wait (real time: environments start in real time) until ``predicate()`` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_reserved_concurrency_one_holds_across_two_nodes(tmp_path):
    """Six invocations at once, three on each node, of a function with reserved concurrency
    1: exactly one runs, the other five are throttled with AWS's Reason, whichever node they
    reached; once it has ended, either node runs the next one."""

    async def scenario(store: SqlStore, clock: ManualClock, a: Node, b: Node) -> None:
        await a.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=1)
        await a.invoke()  # a warm environment on each node: both can start at once
        await b.invoke()
        answers = await asyncio.gather(*(node.invoke(sleep=0.5) for node in (a, b, a, b, a, b)))
        ran = [answer for answer in answers if "started" in answer]
        assert len(ran) == 1, answers
        assert [answer.get("throttled") for answer in answers if "throttled" in answer] == [RESERVED] * 5
        assert sum(node.svc.counters.of(ARN).throttles for node in (a, b)) == 5
        assert await stored_rows(store) == []  # every slot given back
        assert "started" in await b.invoke() and "started" in await a.invoke()

    two_nodes(tmp_path, scenario)


def test_a_slot_is_held_while_its_invocation_runs_and_renewed_past_its_ttl(tmp_path):
    """A's invocation runs on while engine time moves far past the slot's time-to-live: A
    renews it, so B stays throttled; when it ends, B runs."""

    async def scenario(store: SqlStore, clock: ManualClock, a: Node, b: Node) -> None:
        await b.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=1)
        await a.invoke()  # warm: no cold start (its init timeout is engine time) when time moves
        running = asyncio.create_task(a.invoke(sleep=3))
        await until(lambda: a.svc.slots.held == 1)
        assert await stored_rows(store) == [("a", ARN)]
        await clock.advance(3 * TTL_S)
        assert await b.invoke() == {"throttled": RESERVED}
        assert "started" in await running
        assert a.svc.slots.held == 0 and await stored_rows(store) == []
        assert "started" in await b.invoke()

    two_nodes(tmp_path, scenario)


def test_the_slots_of_a_node_that_dies_free_after_their_ttl(tmp_path):
    """A takes the only slot and dies (no renewal, no release: its row stays): B is
    throttled until the row's time-to-live has passed, then runs."""

    async def scenario(store: SqlStore, clock: ManualClock, a: Node, b: Node) -> None:
        await a.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=1)
        await a.invoke()  # warm, as above
        hung = asyncio.create_task(a.invoke(sleep=60))  # outlives the test; killed at A's stop
        await until(lambda: a.svc.slots.held == 1)
        await a.svc.slots.stop()  # A dies: its renewals stop, its row stays
        await clock.advance(TTL_S - 1)
        assert await b.invoke() == {"throttled": RESERVED}
        await clock.advance(1)
        assert "started" in await b.invoke()
        assert await stored_rows(store) == []  # A's expired row went when B took the slot
        hung.cancel()

    two_nodes(tmp_path, scenario)


class CountingRunning:
    """Storage of running invocations that counts the calls made to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await method(*args, **kwargs)

        return call


def test_no_store_call_without_reserved_concurrency_or_with_zero(tmp_path):
    """A function without reserved concurrency runs with no storage operation for its slot;
    reserved concurrency 0 throttles without asking storage; 2 takes and gives back a row."""

    async def scenario(store: SqlStore, clock: ManualClock, a: Node, b: Node) -> None:
        counting = CountingRunning(store.running)
        a.svc.slots._store = counting  # type: ignore[assignment]  # watch what the slots ask of storage
        assert "started" in await a.invoke()
        assert counting.calls == []
        await a.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=0)
        assert await a.invoke() == {"throttled": RESERVED}
        assert counting.calls == []
        await a.call("PutFunctionConcurrency", FunctionName="f", ReservedConcurrentExecutions=2)
        assert "started" in await a.invoke()
        assert counting.calls == ["claim", "release"]

    two_nodes(tmp_path, scenario)
