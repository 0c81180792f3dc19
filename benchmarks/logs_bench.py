"""CloudWatch Logs storage at scale: one log group of 1,000,000 events (10 streams), then
the reads GetLogEvents and FilterLogEvents make, timed in process on the real SQLite store.

    .venv/bin/python benchmarks/logs_bench.py                # 1,000,000 events
    .venv/bin/python benchmarks/logs_bench.py --events 200000

Prints one JSON object (seconds per operation).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time

from postroom.logs.patterns import compile_pattern
from postroom.storage.logs import LogGroupRecord, Position
from postroom.storage.sqlite import SqliteStore

BASE = 1_800_000_000_000


async def run(total: int) -> dict[str, float]:
    store = SqliteStore(tempfile.mkdtemp(prefix="logs-bench-"))
    await store.start()
    logs = store.logs
    group = await logs.create_group(LogGroupRecord(0, "000000000000", "us-east-1", "big", BASE))
    streams = [await logs.create_stream(group, f"s{i}", BASE) for i in range(10)]
    per_batch = 1000
    batches = total // (per_batch * len(streams))
    out: dict[str, float] = {}
    started = time.perf_counter()
    for b in range(batches):
        for stream in streams:
            events = [(BASE + b * 10_000 + i, f"line {b} {i} {'ERROR' if i % 1000 == 0 else 'ok'} text")
                      for i in range(per_batch)]
            await logs.append(stream, events, BASE)
    out["insert_events_per_s"] = round(batches * len(streams) * per_batch / (time.perf_counter() - started))

    async def timed(name, coro):
        t = time.perf_counter()
        result = await coro
        out[name] = round(time.perf_counter() - t, 4)
        return result

    sid = streams[3].id
    await timed("get_newest_10000", logs.read_stream(sid, None, None, None, False, 10_000))
    await timed("get_head_100", logs.read_stream(sid, None, None, None, True, 100))
    middle = Position(BASE + batches // 2 * 10_000, 0)
    await timed("get_from_token_mid_100", logs.read_stream(sid, None, None, middle, True, 100))
    await timed("filter_read_5000_at_end", logs.scan_group(group.id, None, BASE + (batches - 1) * 10_000, None, None, 5000))
    await timed("filter_read_5000_two_streams", logs.scan_group(group.id, {streams[1].id, streams[2].id}, None, None, middle, 5000))
    match = compile_pattern("ERROR")
    t = time.perf_counter()
    after, hits = None, 0
    for _ in range(20):
        step = await logs.scan_group(group.id, None, None, None, after, 5000)
        hits += sum(1 for e in step.events if match(e.message))
        after = step.last
    out["filter_scan_100000_with_pattern"] = round(time.perf_counter() - t, 4)
    await store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.events))))


if __name__ == "__main__":
    main()
