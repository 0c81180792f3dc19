"""Warm invocations through the environment pool, in-process: invokes/s and p50/p99 latency.

A no-op Python handler (AWS's runtime client) is invoked by 1 and by 16 concurrent callers;
environments are warmed first, so every timed invocation is warm. Logs go to a sink that
drops them.

    .venv/bin/python benchmarks/runtime_bench.py [--seconds 5] [--concurrency 1,16] [--no-uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

from postroom.clock import SystemClock
from postroom.runtime.api import FunctionSpec, Invocation, RuntimeSettings
from postroom.runtime.pool import EnvironmentPool


class DropSink:
    def write(self, account: str, region: str, group: str, stream: str,
              events: list[tuple[int, str]]) -> None:
        pass


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


async def measure(pool: EnvironmentPool, spec: FunctionSpec, callers: int, seconds: float) -> dict:
    payload = b'{"n": 1}'

    async def one() -> float:
        t = time.perf_counter()
        result = await pool.invoke(spec, Invocation(str(uuid.uuid4()), payload, spec.function_arn))
        if result.function_error:
            raise RuntimeError(result.payload)
        return time.perf_counter() - t

    await asyncio.gather(*(one() for _ in range(callers)))  # start (and warm) the environments
    latencies: list[float] = []
    end = time.perf_counter() + seconds

    async def caller() -> None:
        while time.perf_counter() < end:
            latencies.append(await one())

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "callers": callers,
        "invokes": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else 0.0,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "app.py").write_text("def handler(event, context):\n    return None\n")
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        spec = FunctionSpec("000000000000", "us-east-1", "bench",
                            "arn:aws:lambda:us-east-1:000000000000:function:bench", "$LATEST",
                            runtime, "app.handler", code, log_group="/aws/lambda/bench")
        pool = EnvironmentPool(SystemClock(), RuntimeSettings(work_dir=Path(tmp) / "work"),
                               DropSink())
        await pool.start()
        try:
            for callers in args.concurrency:
                print(json.dumps(await measure(pool, spec, callers, args.seconds)), flush=True)
        finally:
            await pool.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 16])
    parser.add_argument("--no-uvloop", action="store_true")
    options = parser.parse_args()
    if not options.no_uvloop:
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
    asyncio.run(main(options))
