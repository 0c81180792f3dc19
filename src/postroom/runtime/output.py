"""An environment's log: its process's output captured line by line, and AWS's platform lines.

The process writes stdout and stderr into one pipe (so their order is kept); the event loop
reads it as it becomes readable, and ``drain`` reads what is already in it synchronously, so
everything a handler printed before posting its response lands in that invocation's log.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime

_CHUNK = 65536


def stream_name(now_ms: int, version: str, env_id: str) -> str:
    """AWS's log stream name for an environment: ``YYYY/MM/DD/[<version>]<32 hex>``."""
    day = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{env_id}"


def iso_ms(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def billed_ms(duration_ms: float, init_ms: float | None) -> int:
    # 1 ms granularity; since August 2025 AWS bills the init phase of on-demand functions
    # too, so a cold start's billed duration includes it ("Billed Duration: 3403 ms" after a
    # 3000 ms timeout with init).
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


def report_line(request_id: str, duration_ms: float, memory_mb: int, max_used_mb: int,
                init_ms: float | None, status: str | None = None,
                error_type: str | None = None) -> str:
    """AWS's REPORT line: tab separated, a trailing tab on success; platform failures end
    with ``Status: timeout`` or ``Status: error\tError Type: <type>`` (as AWS logs them
    since 2023)."""
    parts = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms(duration_ms, init_ms)} ms",
        f"Memory Size: {memory_mb} MB",
        f"Max Memory Used: {max_used_mb} MB",
    ]
    if init_ms is not None:
        parts.append(f"Init Duration: {init_ms:.2f} ms")
    if status is not None:
        parts.append(f"Status: {status}")
        if error_type:
            parts.append(f"Error Type: {error_type}")
        return "\t".join(parts) + "\n"
    return "\t".join(parts) + "\t\n"


def init_report_line(init_ms: float, status: str, error_type: str | None) -> str:
    """AWS's line for an init phase that failed."""
    line = f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: {status}"
    return line + (f"\tError Type: {error_type}\n" if error_type else "\n")


class PeakMemory:
    """A process's peak resident set size (VmHWM) in MB, read from /proc.

    The status file stays open and is re-read with pread: opening it per invocation
    costs more than the rest of the bookkeeping."""

    def __init__(self, pid: int) -> None:
        try:
            self._fd: int | None = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        except OSError:
            self._fd = None
        self.peak_mb = 0

    def sample(self) -> int:
        if self._fd is not None:
            try:
                data = os.pread(self._fd, 4096, 0)
                at = data.index(b"VmHWM:")
                kb = int(data[at + 6:data.index(b"kB", at)])
                self.peak_mb = max(self.peak_mb, math.ceil(kb / 1024))
            except (OSError, ValueError):
                pass  # the process is gone: keep the last value
        return self.peak_mb

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class OutputCapture:
    """Reads one pipe into lines; each complete line goes to ``on_line(ts_ms, text)``.

    Runtimes that keep a multi-line message in one event write ``\\r`` for its inner line
    breaks (AWS's runtime clients do, for tracebacks); they become ``\\n`` again here."""

    def __init__(self, fd: int, now_ms: Callable[[], int], on_line: Callable[[int, str], None]) -> None:
        self._fd = fd
        self._now_ms = now_ms
        self._on_line = on_line
        self._partial = b""
        self._closed = False
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        self._read_available()

    def drain(self, *, flush_partial: bool = False) -> None:
        """Take everything already in the pipe now; with ``flush_partial`` also an
        unterminated last line."""
        self._read_available()
        if flush_partial and self._partial:
            data, self._partial = self._partial, b""
            self._emit(data)

    def _read_available(self) -> None:
        if self._closed:
            return
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # writer side closed: the process and its children are gone
                self.close()
                return
            data = self._partial + chunk
            *lines, self._partial = data.split(b"\n")
            for line in lines:
                self._emit(line)
            if len(chunk) < _CHUNK:
                return

    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").replace("\r", "\n")
        self._on_line(self._now_ms(), text + "\n")

    def close(self) -> None:
        if self._closed:
            return
        if self._partial:
            data, self._partial = self._partial, b""
            self._emit(data)
        self._closed = True
        try:
            asyncio.get_running_loop().remove_reader(self._fd)
        except RuntimeError:
            pass
        os.close(self._fd)
