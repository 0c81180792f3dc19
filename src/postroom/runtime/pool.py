"""The pool of execution environments: warm reuse, concurrency limits, retirement, idle stop."""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections import defaultdict
from collections.abc import Awaitable, Callable

from postroom.clock import Clock
from postroom.runtime.api import (
    FunctionSpec,
    Invocation,
    InvocationResult,
    LogSink,
    RuntimeSettings,
    Throttled,
)
from postroom.runtime.environment import Environment, EnvironmentLost


class EnvironmentPool:
    """Runs invocations in local processes, one invocation per environment at a time.

    Idle environments of an equal spec are reused (most recently used first, as AWS tends
    to); otherwise one is started (a cold start)."""

    def __init__(
        self, clock: Clock, settings: RuntimeSettings, logs: LogSink,
        prepare: Callable[[FunctionSpec], Awaitable[None]] | None = None,
    ) -> None:
        self._clock = clock
        # Awaited before each cold start: puts the spec's code in place (fetching it if need be).
        self._prepare = prepare
        self._settings = settings
        self._logs = logs
        self._idle: dict[FunctionSpec, list[Environment]] = defaultdict(list)
        self._by_function: dict[str, set[Environment]] = defaultdict(set)
        self._busy: dict[str, int] = defaultdict(int)
        self._busy_account: dict[tuple[str, str], int] = defaultdict(int)  # (account, region)
        self._reaper: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self._running = False

    async def start(self) -> None:
        _raise_open_file_limit()
        self._running = True
        self._reaper = asyncio.create_task(self._reap_idle())

    async def stop(self) -> None:
        """Kill every environment (busy ones answer Runtime.ExitError) and wait for them."""
        self._running = False
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        envs = [env for group in self._by_function.values() for env in group]
        self._idle.clear()
        await asyncio.gather(*(env.stop() for env in envs), *self._stopping,
                             return_exceptions=True)
        self._by_function.clear()

    def busy(self, function_arn: str) -> int:
        """Environments of this function running (or starting for) an invocation."""
        return self._busy.get(function_arn, 0)

    def environments(self, function_arn: str) -> int:
        """Environments of this function, busy or idle."""
        return len(self._by_function.get(function_arn, ()))

    async def invoke(self, spec: FunctionSpec, invocation: Invocation, *,
                     reserved_concurrency: int | None = None) -> InvocationResult:
        if not self._running:
            raise RuntimeError("the environment pool is not running")
        arn = spec.function_arn
        if reserved_concurrency is not None and self._busy.get(arn, 0) >= reserved_concurrency:
            raise Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
        place = (spec.account, spec.region)  # AWS's limit is per account and region
        if self._busy_account.get(place, 0) >= self._settings.account_concurrency:
            raise Throttled("ConcurrentInvocationLimitExceeded")
        env = self._take_idle(spec)
        self._busy[arn] += 1
        self._busy_account[place] += 1
        try:
            if env is not None:
                try:
                    return await env.invoke(invocation)
                except EnvironmentLost:
                    # A warm environment died before taking the event (it crashed after
                    # its last answer): AWS would cold-start a new one, and so do we.
                    self._release(env)
                    env = None
            if self._prepare is not None:
                await self._prepare(spec)
            env = Environment(spec, self._settings, self._clock, self._logs, self._exited)
            self._by_function[arn].add(env)
            env.busy = True
            await env.start()
            return await env.invoke(invocation)
        finally:
            self._busy[arn] -= 1
            if not self._busy[arn]:
                del self._busy[arn]
            self._busy_account[place] -= 1
            if not self._busy_account[place]:
                del self._busy_account[place]
            if env is not None:
                self._release(env)

    def retire(self, function_arn: str) -> None:
        """Stop this function's idle environments now and its busy ones when they finish."""
        for env in list(self._by_function.get(function_arn, ())):
            env.retired = True
            if not env.busy:
                self._discard(env)

    def _exited(self, env: Environment) -> None:
        """An environment's process ended; an idle one is cleaned up now, a busy one when
        its invocation has been answered."""
        if not env.busy and self._running:
            self._discard(env)

    def _take_idle(self, spec: FunctionSpec) -> Environment | None:
        stack = self._idle.get(spec)
        while stack:
            env = stack.pop()
            if env.alive:
                env.busy = True
                return env
            self._discard(env)
        return None

    def _release(self, env: Environment) -> None:
        env.busy = False
        if env.alive and not env.retired and self._running:
            env.idle_since_ms = self._clock.now_ms()
            self._idle[env.spec].append(env)
        else:
            self._discard(env)

    def _discard(self, env: Environment) -> None:
        """Forget an environment and stop it in the background."""
        stack = self._idle.get(env.spec)
        if stack is not None and env in stack:
            stack.remove(env)
            if not stack:
                del self._idle[env.spec]
        group = self._by_function.get(env.spec.function_arn)
        if group is not None:
            group.discard(env)
            if not group:
                del self._by_function[env.spec.function_arn]
        task = asyncio.create_task(env.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _reap_idle(self) -> None:
        """Stop environments idle for ``idle_timeout_s``; sleeps until the next one is due
        (an environment that becomes idle later is due later than a full timeout from now)."""
        timeout_ms = int(self._settings.idle_timeout_s * 1000)
        while True:
            now = self._clock.now_ms()
            next_due = now + timeout_ms
            for stack in list(self._idle.values()):
                for env in list(stack):
                    due = env.idle_since_ms + timeout_ms
                    if due <= now:
                        self._discard(env)
                    else:
                        next_due = min(next_due, due)
            await self._clock.sleep(max((next_due - now) / 1000, 0.001))


def _raise_open_file_limit() -> None:
    """Each environment holds about five descriptors (listener, connection, output pipe,
    /proc status): lift the soft limit to the hard one so hundreds of them fit."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):  # not permitted here: keep what we have
        pass
