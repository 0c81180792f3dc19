"""One execution environment: a local process, its Runtime API listener and its log stream.

It runs one invocation at a time. The pool decides when to start, reuse and stop it; this
module only knows how to hand an invocation over the Runtime API and turn whatever happens
(a response, an error, a timeout, the process dying, init failing) into AWS's answer and
AWS's log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from postroom.clock import Clock
from postroom.runtime import launch, output
from postroom.runtime.api import (
    FunctionSpec,
    Invocation,
    InvocationResult,
    LogSink,
    RuntimeSettings,
)
from postroom.runtime.outcomes import (
    Outcome,
    body_error_type,
    decoded_client_context,
    error_payload,
    exit_text,
    timeout_outcome,
    too_large_outcome,
)
from postroom.runtime.runtime_api import MAX_RESPONSE_BYTES, NextEvent, RuntimeApiServer

# AWS gives the init phase 10 s; past that it gives up on this init.
INIT_TIMEOUT_S = 10.0
_PR_SET_PDEATHSIG = 1
try:
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _libc = None


def _die_with_server() -> None:
    """In the child before exec: be killed if the server dies without stopping us."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(slots=True)
class _Running:
    request_id: str
    done: asyncio.Future[Outcome]
    started: float  # perf_counter at hand-over
    delivered: bool = False  # the runtime has taken it with GET next
    warm: bool = False  # a reused environment: losing it before delivery means retry


class EnvironmentLost(Exception):
    """The process ended before it took the invocation: run it in a new environment."""


class Environment:
    """One process of one function spec, serving one invocation at a time."""

    def __init__(self, spec: FunctionSpec, settings: RuntimeSettings, clock: Clock,
                 logs: LogSink, on_exit: Callable[[Environment], None] | None = None) -> None:
        self.id = uuid.uuid4().hex
        self._on_exit = on_exit
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.logs = logs
        self.log_group = spec.log_group or f"/aws/lambda/{spec.function_name}"
        self.stream = output.stream_name(clock.now_ms(), spec.version, self.id)
        self.alive = False
        self.initialized = False
        self.busy = False
        self.retired = False
        self.idle_since_ms = 0
        self._loop = asyncio.get_running_loop()
        self._api = RuntimeApiServer(self)
        self._proc: asyncio.subprocess.Process | None = None
        self._capture: output.OutputCapture | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._tmp_dir: Path | None = None
        self._spawned = 0.0
        self._init_ms: float | None = None
        self._init_done: asyncio.Future[Outcome | None] = self._loop.create_future()
        self._next_waiter: asyncio.Future[NextEvent] | None = None
        self._queued: NextEvent | None = None
        self._current: _Running | None = None
        # The runtime's state as AWS's Runtime API tracks it: Started -> Ready (waiting in
        # next) -> Running (has an event) -> RuntimeResponseSentState -> Ready ...
        self._state = "Started"
        self._memory: output.PeakMemory | None = None
        self._events: list[tuple[int, str]] = []
        self._init_lines: list[tuple[int, str]] = []
        self._tail: list[str] | None = None
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the listener and the process (init runs in the background); a launch
        problem is recorded as an init failure for the first invocation to answer."""
        base = self.settings.work_dir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self._tmp_dir = Path(tempfile.mkdtemp(prefix=f"env-{self.id[:8]}-", dir=base))
        await self._api.start()
        self._spawned = time.perf_counter()
        try:
            plan = launch.build(self.spec, self.settings, runtime_api=self._api.address,
                                stream=self.stream, tmp_dir=self._tmp_dir)
        except launch.LaunchError as e:
            self._fail_init(e.error_type, e.message)
            return
        read_fd, write_fd = os.pipe()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *plan.argv, stdin=asyncio.subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                env=plan.env, cwd=plan.cwd, start_new_session=True, preexec_fn=_die_with_server)
        except OSError as e:
            os.close(read_fd)
            reason = "permission denied" if isinstance(e, PermissionError) else (
                "no such file or directory" if isinstance(e, FileNotFoundError) else str(e))
            msg = f"fork/exec {plan.argv[0]}: {reason}"
            self._fail_init("Runtime.InvalidEntrypoint", msg)
            return
        finally:
            os.close(write_fd)
        self.alive = True
        self._memory = output.PeakMemory(self._proc.pid)
        self._capture = output.OutputCapture(read_fd, self.clock.now_ms, self._on_line)
        self._exit_task = asyncio.create_task(self._watch_exit())

    def _fail_init(self, error_type: str, message: str) -> None:
        # The request id is not known yet: the invocation completes the answer.
        if not self._init_done.done():
            self._init_done.set_result(
                Outcome(b"", "Unhandled", error_type, "error", message=message))

    def kill(self) -> None:
        """SIGKILL the process and everything it started (its own process group)."""
        self.alive = False
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Kill the process, close the listener, flush the log, remove the scratch dir."""
        if self._stopped:
            return
        self._stopped = True
        self.kill()
        if self._exit_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._exit_task
        if self._next_waiter is not None and not self._next_waiter.done():
            self._next_waiter.cancel()
        await self._api.close()
        if self._capture is not None:
            self._capture.close()
        if self._memory is not None:
            self._memory.close()
        self._events.extend(self._init_lines)
        self._init_lines = []
        self._flush()
        if self._tmp_dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._tmp_dir, True)

    async def _watch_exit(self) -> None:
        assert self._proc is not None
        returncode = await self._proc.wait()
        self.alive = False
        if self._capture is not None:
            self._capture.drain(flush_partial=True)
        text = exit_text(returncode)
        if self._on_exit is not None:
            self._on_exit(self)
        if not self._init_done.done():
            self._fail_init("Runtime.ExitError", text)
        running = self._current
        if running is not None and not running.done.done():
            if running.warm and not running.delivered:
                running.done.set_exception(EnvironmentLost())
                return
            payload = error_payload("Runtime.ExitError", running.request_id, text)
            lines = (f"RequestId: {running.request_id} Error: {text}\n", "Runtime.ExitError\n")
            running.done.set_result(
                Outcome(payload, "Unhandled", "Runtime.ExitError", "error", lines))

    # -- log ---------------------------------------------------------------------------

    def _on_line(self, ts: int, text: str) -> None:
        if self._tail is not None:
            self._events.append((ts, text))
            self._tail.append(text)
        elif not self.initialized:
            self._init_lines.append((ts, text))  # placed once init's outcome is known
        else:
            self._events.append((ts, text))
            self._flush()

    def _platform(self, text: str) -> None:
        self._events.append((self.clock.now_ms(), text))
        if self._tail is not None:
            self._tail.append(text)

    def _flush(self) -> None:
        if self._events:
            events, self._events = self._events, []
            self.logs.write(self.spec.account, self.spec.region, self.log_group, self.stream,
                            events)

    # -- one invocation ----------------------------------------------------------------

    async def invoke(self, inv: Invocation) -> InvocationResult:
        cold = not self.initialized
        if cold:
            try:
                failed = await self.clock.wait_for(self._init_done, INIT_TIMEOUT_S)
            except TimeoutError:
                failed = timeout_outcome(inv.request_id, self.spec.timeout_s)
            except asyncio.CancelledError:
                self.kill()  # the caller gave up during init: nobody will use this one
                raise
            if failed is not None:
                return await self._init_failure(inv, failed)
        timeout_s = self.spec.timeout_s
        event = NextEvent(inv.request_id, inv.payload,
                          self.clock.now_ms() + int(timeout_s * 1000), inv.invoked_function_arn,
                          inv.trace_id, decoded_client_context(inv.client_context),
                          inv.cognito_identity)
        running = _Running(inv.request_id, self._loop.create_future(), time.perf_counter(),
                           warm=not cold)
        self._current = running
        self._begin(inv.request_id)
        waiter = self._next_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
        else:
            self._queued = event
        try:
            outcome = await self.clock.wait_for(running.done, timeout_s)
        except EnvironmentLost:
            self._current = None
            self._tail = None
            self._events.clear()  # its START belongs to the invocation's next environment
            raise
        except TimeoutError:
            if self._capture is not None:
                self._capture.drain(flush_partial=True)
            self._sample_peak()
            self.kill()
            outcome = timeout_outcome(inv.request_id, self.spec.timeout_s)
        except asyncio.CancelledError:
            # The caller gave up mid-invocation: the handler is still running in there, so
            # this environment cannot take another invocation.
            self.kill()
            self._current = None
            raise
        duration_ms = (time.perf_counter() - running.started) * 1000
        if outcome.status == "timeout":
            duration_ms = timeout_s * 1000.0  # AWS reports exactly the timeout
        self._current = None
        self._queued = None
        return self._finish(inv.request_id, outcome, duration_ms, self._init_ms if cold else None)

    def _begin(self, request_id: str) -> None:
        if self._init_lines:
            self._events.extend(self._init_lines)
            self._init_lines = []
        self._tail = []
        self._platform(output.start_line(request_id, self.spec.version))

    def _finish(self, request_id: str, outcome: Outcome, duration_ms: float,
                init_ms: float | None) -> InvocationResult:
        for line in outcome.log_lines:
            self._platform(line)
        self._platform(output.end_line(request_id))
        # Sampled when the answer arrived (the process may be gone by now).
        used = self._memory.peak_mb if self._memory is not None else 0
        self._platform(output.report_line(
            request_id, duration_ms, self.spec.memory_mb, used, init_ms, outcome.status,
            outcome.error_type if outcome.status == "error" else None))
        tail = "".join(self._tail or ())
        self._tail = None
        self._flush()
        return InvocationResult(
            payload=outcome.payload, function_error=outcome.function_error, log_tail=tail,
            duration_ms=round(duration_ms, 2), billed_duration_ms=output.billed_ms(duration_ms, init_ms),
            max_memory_used_mb=used, init_duration_ms=None if init_ms is None else round(init_ms, 2),
            environment_id=self.id, error_type=outcome.error_type)

    def _sample_peak(self) -> int:
        return self._memory.sample() if self._memory is not None else 0

    async def _init_failure(self, inv: Invocation, failed: Outcome) -> InvocationResult:
        """Init failed (init/error, exit before next, launch error, init timeout): answer
        it to the invocation that caused the cold start and discard the environment. The
        tail holds init's output, INIT_REPORT, then START .. REPORT, as AWS logs it."""
        if self._capture is not None:
            self._capture.drain(flush_partial=True)
        self._sample_peak()
        self.kill()
        if failed.message is not None:
            error_type = failed.error_type or "Runtime.Unknown"
            failed.payload = error_payload(error_type, inv.request_id, failed.message)
            failed.log_lines = (f"RequestId: {inv.request_id} Error: {failed.message}\n",
                                f"{error_type}\n")
        init_ms = (time.perf_counter() - self._spawned) * 1000
        init_lines, self._init_lines = self._init_lines, []
        self._tail = []
        for ts, text in init_lines:
            self._events.append((ts, text))
            self._tail.append(text)
        self._platform(output.init_report_line(init_ms, failed.status or "error",
                                               None if failed.status == "timeout"
                                               else failed.error_type))
        self._platform(output.start_line(inv.request_id, self.spec.version))
        self.initialized = True  # no later invocation may use this environment
        return self._finish(inv.request_id, failed, 0.0, init_ms)

    # -- the Runtime API, called by RuntimeApiServer -------------------------------------

    async def next_event(self) -> NextEvent:
        if not self.initialized:
            self.initialized = True
            self._init_ms = (time.perf_counter() - self._spawned) * 1000
            if not self._init_done.done():
                self._init_done.set_result(None)
        self._state = "Ready"
        event = self._queued
        if event is None:
            waiter = self._loop.create_future()
            self._next_waiter = waiter
            try:
                event = await waiter
            finally:
                if self._next_waiter is waiter:
                    self._next_waiter = None
        else:
            self._queued = None
        running = self._current
        if running is not None and running.request_id == event.request_id:
            running.delivered = True
        self._state = "Running"
        return event

    def refuse_post(self, request_id: str, target: str) -> tuple[int, str, str] | None:
        allowed = "Started" if target == "InitError" else "Running"
        if self._state != allowed:
            return (403, "InvalidStateTransition",
                    f"State transition from {self._state} to {target} failed for runtime. "
                    "Error: State transition is not allowed")
        running = self._current
        if target != "InitError" and (running is None or running.request_id != request_id
                                      or running.done.done()):
            return 400, "InvalidRequestID", "Invalid request ID"
        return None

    def post_result(self, request_id: str, body: bytes, error_type: str | None,
                    is_error: bool) -> None:
        running = self._current
        self._state = "RuntimeResponseSentState"
        if running is None or running.done.done():  # timed out while the body was read
            return
        if self._capture is not None:  # what the handler printed before answering
            self._capture.drain(flush_partial=True)
        self._sample_peak()
        if is_error:
            error_type = error_type or body_error_type(body)
            running.done.set_result(Outcome(body, "Unhandled", error_type))
        else:
            running.done.set_result(Outcome(body))

    def response_too_large(self, request_id: str) -> None:
        running = self._current
        self._state = "RuntimeResponseSentState"
        if running is None or running.done.done():  # timed out while the body was read
            return
        running.done.set_result(too_large_outcome(MAX_RESPONSE_BYTES))

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        self._state = "InitError"
        if self._init_done.done():
            return
        self._sample_peak()
        # The runtime's own error document is the invocation's answer, as on AWS.
        self._init_done.set_result(
            Outcome(body, "Unhandled", error_type or body_error_type(body), "error"))

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None
