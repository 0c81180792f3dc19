"""The environment pool: concurrency, throttling, retirement, idle stop, shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runtime_helpers import (
    CollectingSink,
    alive,
    body,
    invocation,
    run_pool,
    spec,
    wait_gone,
    write_code,
)

from postroom.runtime.api import RuntimeSettings, Throttled
from postroom.runtime.pool import EnvironmentPool

APP = """
    import os, subprocess, time
    def pid(event, context):
        time.sleep(event.get("sleep", 0))
        return os.getpid()
    def spawn(event, context):
        child = subprocess.Popen(["sleep", "60"])
        print(f"child={child.pid}")
        time.sleep(event.get("sleep", 0))
        return child.pid
"""


@pytest.fixture
def code(tmp_path):
    return write_code(tmp_path / "code", {"app.py": APP})


def test_parallel_invocations_get_their_own_environments(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario(pool, sink):
        calls = [asyncio.create_task(pool.invoke(fn, invocation(fn, {"sleep": 0.4})))
                 for _ in range(3)]
        await asyncio.sleep(0.2)
        busy = pool.busy(fn.function_arn)
        results = await asyncio.gather(*calls)
        after = pool.busy(fn.function_arn), pool.environments(fn.function_arn)
        warm = await pool.invoke(fn, invocation(fn, {}))
        return busy, results, after, warm

    busy, results, after, warm = run_pool(tmp_path / "work", scenario)
    assert busy == 3
    assert len({r.environment_id for r in results}) == 3
    assert len({body(r) for r in results}) == 3
    assert all(r.init_duration_ms is not None for r in results)
    assert after == (0, 3)
    assert warm.environment_id in {r.environment_id for r in results}
    assert warm.init_duration_ms is None


def test_reserved_and_account_concurrency_throttle(code, tmp_path):
    fn = spec(code, "app.pid")
    other = spec(code, "app.pid", name="other")

    async def scenario(pool, sink):
        calls = [asyncio.create_task(pool.invoke(fn, invocation(fn, {"sleep": 0.5}),
                                                 reserved_concurrency=2)) for _ in range(2)]
        await asyncio.sleep(0.1)
        reasons = []
        for target, reserved in ((fn, 2), (other, None), (other, 0)):
            try:
                await pool.invoke(target, invocation(target, {}), reserved_concurrency=reserved)
                reasons.append(None)
            except Throttled as e:
                reasons.append(e.reason)
        # Another account (or region) has its own limit.
        elsewhere = spec(code, "app.pid", name="other", account="210987654321")
        elsewhere_result = await pool.invoke(elsewhere, invocation(elsewhere, {}))
        done = await asyncio.gather(*calls)
        after = await pool.invoke(other, invocation(other, {}))
        return reasons, done, after, elsewhere_result

    reasons, done, after, elsewhere = run_pool(tmp_path / "work", scenario, account_concurrency=2)
    assert elsewhere.function_error is None
    assert reasons == ["ReservedFunctionConcurrentInvocationLimitExceeded",
                       "ConcurrentInvocationLimitExceeded",
                       "ReservedFunctionConcurrentInvocationLimitExceeded"]
    assert all(r.function_error is None for r in done)
    assert after.function_error is None  # capacity is back once they finish


def test_retire_stops_idle_now_and_busy_when_done(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario(pool, sink):
        idle_pid = body(await pool.invoke(fn, invocation(fn, {})))
        busy_call = asyncio.create_task(pool.invoke(fn, invocation(fn, {"sleep": 0.4})))
        await asyncio.sleep(0.05)
        # The idle one was taken by busy_call: make a second idle one beside it.
        second_idle = body(await pool.invoke(fn, invocation(fn, {})))
        pool.retire(fn.function_arn)
        idle_gone = await wait_gone(second_idle, 2.0)
        busy_result = await busy_call
        busy_pid = body(busy_result)
        busy_gone = await wait_gone(busy_pid, 2.0)
        fresh = await pool.invoke(fn, invocation(fn, {}))
        return idle_pid, busy_pid, idle_gone, busy_result, busy_gone, fresh

    idle_pid, busy_pid, idle_gone, busy_result, busy_gone, fresh = run_pool(tmp_path / "work", scenario)
    assert idle_pid == busy_pid  # the warm one ran the slow invocation
    assert idle_gone
    assert busy_result.function_error is None  # a busy environment finishes its invocation
    assert busy_gone
    assert fresh.init_duration_ms is not None  # cold start after retirement


def test_idle_environments_are_stopped(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario(pool, sink):
        pid = body(await pool.invoke(fn, invocation(fn, {})))
        await asyncio.sleep(0.1)
        still_there = alive(pid) and pool.environments(fn.function_arn) == 1
        gone = await wait_gone(pid, 3.0)
        return still_there, gone, pool.environments(fn.function_arn), sink

    still_there, gone, left, sink = run_pool(tmp_path / "work", scenario, idle_timeout_s=0.5)
    assert still_there and gone and left == 0


def test_stop_kills_everything_including_children(code, tmp_path):
    fn = spec(code, "app.spawn")

    async def scenario(pool, sink):
        idle_child = body(await pool.invoke(fn, invocation(fn, {})))
        busy = asyncio.create_task(pool.invoke(fn, invocation(fn, {"sleep": 30})))
        await asyncio.sleep(0.3)
        await pool.stop()
        result = await busy
        busy_child = int(re.search(r"child=(\d+)", result.log_tail).group(1))
        # stop() reaps the runtimes; their children got the group's SIGKILL too, but a
        # loaded kernel may take a moment to finish them (they are not ours to reap).
        gone = [await wait_gone(idle_child, 5.0), await wait_gone(busy_child, 5.0)]
        return gone, result, sink

    gone, result, sink = run_pool(tmp_path / "work", scenario)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.ExitError"
    assert "signal: killed" in body(result)["errorMessage"]
    assert gone == [True, True]
    assert not list((tmp_path / "work").iterdir())  # scratch directories removed


def test_a_cancelled_caller_does_not_leave_a_reusable_busy_environment(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario(pool, sink):
        first = body(await pool.invoke(fn, invocation(fn, {})))
        call = asyncio.create_task(pool.invoke(fn, invocation(fn, {"sleep": 5})))
        await asyncio.sleep(0.2)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        gone = await wait_gone(first, 2.0)
        after = await pool.invoke(fn, invocation(fn, {}))
        return gone, after

    gone, after = run_pool(tmp_path / "work", scenario)
    assert gone
    assert after.function_error is None and after.init_duration_ms is not None


HOLDER = """
import asyncio, json, sys
sys.path.insert(0, {tests!r})
from runtime_helpers import CollectingSink, invocation, spec
from pathlib import Path
from postroom.clock import SystemClock
from postroom.runtime.api import RuntimeSettings
from postroom.runtime.pool import EnvironmentPool

async def main():
    pool = EnvironmentPool(SystemClock(), RuntimeSettings(work_dir=Path({work!r})), CollectingSink())
    await pool.start()
    fn = spec(Path({code!r}), "x", runtime="provided.al2023")
    await pool.invoke(fn, invocation(fn, {{}}))

asyncio.run(main())
"""


def test_environments_die_with_a_killed_server(code, tmp_path):
    # A runtime that never calls the Runtime API: only the kernel's parent-death signal
    # can take it down with the server.
    pid_file = tmp_path / "pid"
    code = write_code(tmp_path / "stuck", {
        "bootstrap": f"#!/bin/sh\necho $$ > {pid_file}.tmp\nmv {pid_file}.tmp {pid_file}\nexec sleep 60\n"})
    script = HOLDER.format(tests=str(Path(__file__).parent), work=str(tmp_path / "work"),
                           code=str(code))
    holder = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(250):
            if pid_file.exists():
                break
            time.sleep(0.02)
        env_pid = int(pid_file.read_text())
        assert alive(env_pid)
        holder.send_signal(signal.SIGKILL)
        holder.wait(5)
        assert asyncio.run(wait_gone(env_pid, 3.0))
    finally:
        holder.kill()
        holder.wait()


def test_an_idle_environment_that_dies_is_cleaned_up_and_replaced(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario(pool, sink):
        first = await pool.invoke(fn, invocation(fn, {}))
        os.kill(body(first), signal.SIGKILL)
        for _ in range(100):
            if pool.environments(fn.function_arn) == 0:
                break
            await asyncio.sleep(0.02)
        left = pool.environments(fn.function_arn)
        again = await pool.invoke(fn, invocation(fn, {}))
        return first, left, again

    first, left, again = run_pool(tmp_path / "work", scenario)
    assert left == 0
    assert again.function_error is None and again.environment_id != first.environment_id


class ManualClock:
    """Engine time that moves only when the test says so."""

    def __init__(self) -> None:
        self.ms = 1_800_000_000_000
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self.ms

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.ms + int(seconds * 1000), future))
        await future

    async def wait_for(self, aw, timeout):
        task = asyncio.ensure_future(aw)
        if timeout is None:
            return await task
        timer = asyncio.ensure_future(self.sleep(timeout))
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        timer.cancel()
        if task.done():
            return task.result()
        task.cancel()
        raise TimeoutError

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)
        due = [f for t, f in self._sleepers if t <= self.ms]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self.ms]
        for future in due:
            if not future.done():
                future.set_result(None)


def test_idle_stop_follows_the_engine_clock(code, tmp_path):
    fn = spec(code, "app.pid")

    async def scenario():
        clock = ManualClock()
        pool = EnvironmentPool(clock, RuntimeSettings(work_dir=tmp_path / "work",
                                                      idle_timeout_s=60), CollectingSink())
        await pool.start()
        try:
            pid = body(await pool.invoke(fn, invocation(fn, {})))
            await asyncio.sleep(0.3)  # real time passes; engine time does not
            kept = alive(pid)
            clock.advance(59)
            await asyncio.sleep(0.1)
            kept_59 = alive(pid)
            clock.advance(2)
            gone = await wait_gone(pid, 3.0)
            return kept, kept_59, gone, pool.environments(fn.function_arn)
        finally:
            await pool.stop()

    assert asyncio.run(scenario()) == (True, True, True, 0)
