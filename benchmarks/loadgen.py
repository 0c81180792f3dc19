"""Load generator for SQS-compatible servers: prints one JSON line per scenario run.

python benchmarks/loadgen.py send --endpoint http://127.0.0.1:4566 --duration 10
python benchmarks/loadgen.py roundtrip --endpoint ... --connections 16 --procs 2
python benchmarks/loadgen.py drain --endpoint ... --depth 20000
python benchmarks/loadgen.py wrk --endpoint ...
python benchmarks/loadgen.py send --endpoint http://127.0.0.1:4566,http://127.0.0.1:4567
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

import orjson
import prepare
from awsreq import Endpoint
from scenarios import Ctx, run_worker
from stats import Board, lost_and_duplicated, merge, p50_p99

SCENARIOS = ("send", "send-batch", "roundtrip", "drain", "fanout", "wrk")
FANOUT = 10


def arun(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _child(ctx: Ctx, board: Board, pipe: Any) -> None:
    pipe.send(arun(run_worker(ctx, board)))
    pipe.close()


def run_processes(ctx: Ctx, procs: int) -> dict[str, Any]:
    """Run the workers in ``procs`` processes (1: in this one) and merge their results."""
    if procs == 1:
        return arun(run_worker(ctx, Board(1, False)))
    mp = multiprocessing.get_context("fork")
    board = Board(procs, True)
    workers = []
    for i in range(procs):
        parent_end, child_end = mp.Pipe(duplex=False)
        p = mp.Process(target=_child, args=(replace(ctx, proc=i, nprocs=procs), board, child_end))
        p.start()
        child_end.close()
        workers.append((p, parent_end))
    results = []
    for p, pipe in workers:
        results.append(pipe.recv())
        p.join()
    return merge(results)


def _roles(args: argparse.Namespace) -> tuple[int, int]:
    """(producers, consumers) connections for a scenario."""
    n = args.connections
    if args.scenario in ("send", "send-batch"):
        return n, 0
    if args.scenario == "drain":
        return 0, n
    if args.scenario == "fanout":
        p = args.producers or max(1, n // 2)
        return p, args.consumers or max(FANOUT, n - p)
    p = args.producers or max(1, n // 2)
    return p, args.consumers or max(1, n - p)


def _backlog(args: argparse.Namespace, consumers: int) -> int:
    """Backlog bound for roundtrip/fanout: --max-backlog, or 20 messages per consumer."""
    if args.scenario not in ("roundtrip", "fanout") or args.max_backlog < 0:
        return 0
    return args.max_backlog or 20 * consumers


def base_line(args: argparse.Namespace, producers: int, consumers: int) -> dict[str, Any]:
    """Fields every scenario line starts with."""
    return {
        "scenario": args.scenario,
        "server": args.server,
        "connections": producers + consumers,
        "procs": args.procs,
    }


def summarize(
    args: argparse.Namespace, r: dict[str, Any], line: dict[str, Any], ctx: Ctx
) -> dict[str, Any]:
    """Turn merged worker results into the scenario's JSON line."""
    sc = args.scenario
    lost = dup = unexpected = None
    if sc in ("roundtrip", "fanout", "drain"):
        lost, dup, unexpected = lost_and_duplicated(r["sent_ids"], r["recv_ids"])
    if sc == "drain":
        # Time to the last receive; if nothing arrived after the start mark (a server too
        # slow to fill the queue), the whole run's wall time, never a near-zero interval.
        elapsed = r["last_recv"] - ctx.t0 if r["last_recv"] > ctx.t0 else max(r.get("wall", 0.0), 1e-3)
        line["duration"] = round(elapsed, 3)
        line["throughput"] = round(r["recv_total"] / elapsed, 1)
        line["unit"] = "msg/s"
        lat, kind = r["rlat"], "receive"
    elif sc in ("roundtrip", "fanout"):
        line["duration"] = args.duration
        line["throughput"] = round(r["msgs"] / args.duration, 1)
        line["unit"] = "deliveries/s" if sc == "fanout" else "msg/s"
        line["sent"] = len(r["sent_ids"]) // (FANOUT if sc == "fanout" else 1)
        line["received"] = r["recv_total"]
        line["drain_s"] = round(max(r["last_recv"] - ctx.t_end, 0.0), 3)
        line["max_backlog"] = ctx.max_backlog
        line["rate"] = ctx.rate
        lat, kind = r["e2e"], "end-to-end"
        line["send_p50_ms"], line["send_p99_ms"] = p50_p99(r["lat"])
        line["receive_p50_ms"], line["receive_p99_ms"] = p50_p99(r["rlat"])
    else:
        per = 10 if sc == "send-batch" else 1
        line["duration"] = args.duration
        line["throughput"] = round(r["msgs"] / args.duration, 1)
        line["unit"] = "msg/s" if per > 1 else "req/s"
        line["requests_per_s"] = round(r["ops"] / args.duration, 1)
        lat, kind = r["lat"], "request"
    line["p50_ms"], line["p99_ms"] = p50_p99(lat)
    line["latency"] = kind
    line["errors"] = r["errors"]
    line["lost"], line["duplicated"] = lost, dup
    if unexpected:
        line["unexpected"] = unexpected
    for flag in ("timed_out", "idle_stop"):
        if r.get(flag):
            line[flag] = True
    if r.get("reconnects"):  # the server closed the connection after answering
        line["reconnects"] = r["reconnects"]
    if r.get("stuck"):
        line["stuck_requests"] = r["stuck"]
    line["client_cpu_pct"] = round(100 * r["cpu"] / max(r.get("wall", 0) or 1e-9, 1e-9), 1)
    return line


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run one scenario and return its JSON line (as a dict)."""
    if args.scenario == "wrk":
        from wrkmode import run_wrk

        return run_wrk(args)
    eps = tuple(Endpoint.parse(e) for e in args.endpoint.split(","))
    ep = eps[0]  # setup and cleanup go to the first node
    producers, consumers = _roles(args)
    line = base_line(args, producers, consumers)
    topic, extra = "", {}
    if args.scenario == "fanout":
        try:
            topic, urls = arun(prepare.make_fanout(ep, FANOUT, args.visibility))
        except prepare.NoSns as exc:
            return {**line, "skipped": f"no SNS: {exc}"}
    else:
        urls = arun(prepare.make_queues(ep, args.scenario, 1, args.visibility))
    ctx = Ctx(
        scenario=args.scenario,
        ep=ep,
        t0=0.0,
        warmup=args.warmup,
        duration=args.duration,
        producers=producers,
        consumers=consumers,
        queue_urls=urls,
        topic_arn=topic,
        wait=args.wait,
        drain_timeout=args.drain_timeout,
        idle=args.idle,
        rate=args.rate,
        max_backlog=_backlog(args, consumers),
        eps=eps if len(eps) > 1 else (),
    )
    fill_ids = None
    try:
        if args.scenario == "drain":
            try:
                fill_ids, fill_s, fill_err = arun(
                    prepare.fill(ep, urls[0], args.depth, args.fill_connections, args.fill_timeout)
                )
            except prepare.FillTooSlow as exc:
                return {**line, "depth": args.depth, "skipped": str(exc)}
            extra = {
                "depth": args.depth,
                "filled": len(fill_ids),
                "fill_s": round(fill_s, 2),
                "fill_msg_per_s": round(len(fill_ids) / fill_s, 1),
                "fill_errors": fill_err,
                "reported_depth": arun(prepare.depth_of(ep, urls[0])),
            }
            ctx = replace(ctx, warmup=0.0, duration=0.0, depth=len(fill_ids))
        # every process starts at the same perf_counter (CLOCK_MONOTONIC) instant
        ctx = replace(ctx, t0=time.perf_counter() + 0.2 + 0.3 * (args.procs > 1) * args.procs)
        result = run_processes(ctx, args.procs)
        if fill_ids is not None:
            result["sent_ids"] = fill_ids
        line = summarize(args, result, line, ctx)
        line.update(extra)
        return line
    finally:
        if not args.keep:
            arun(prepare.remove_queues(ep, urls))
            if topic:
                arun(prepare.remove_topic(ep, topic))


def parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument(
        "--endpoint",
        default="http://127.0.0.1:4566",
        help="URL of the server; several comma-separated (nodes of one cluster): "
        "connections are spread round-robin",
    )
    p.add_argument("--server", default="unknown", help="label for the JSON line")
    p.add_argument("--duration", type=float, default=10.0, help="timed window, seconds")
    p.add_argument("--warmup", type=float, default=1.0, help="untimed seconds before it")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--producers", type=int, default=0, help="roundtrip/fanout (default half)")
    p.add_argument("--consumers", type=int, default=0, help="roundtrip/fanout (default rest)")
    p.add_argument("--procs", type=int, default=1, help="client processes; results are summed")
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="roundtrip/fanout: offered messages/s in total (default 0: as fast as "
        "possible, so end-to-end latency includes any backlog)",
    )
    p.add_argument(
        "--max-backlog",
        type=int,
        default=0,
        help="roundtrip/fanout: producers pause while more messages than this are "
        "sent but not received (default 0: 20 per consumer; -1: unbounded)",
    )
    p.add_argument("--wait", type=int, default=1, help="ReceiveMessage WaitTimeSeconds (0-20)")
    p.add_argument("--visibility", type=int, default=30, help="queue VisibilityTimeout")
    p.add_argument("--depth", type=int, default=20000, help="drain: messages to pre-fill")
    p.add_argument("--fill-connections", type=int, default=16)
    p.add_argument(
        "--fill-timeout",
        type=float,
        default=300.0,
        help="drain: skip when filling would take longer (s)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=120.0,
        help="give up draining this long after the producers stop (s)",
    )
    p.add_argument(
        "--idle",
        type=float,
        default=5.0,
        help="stop draining after this long without receiving anything (s)",
    )
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--keep", action="store_true", help="do not delete the queues afterwards")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one scenario, print its JSON line."""
    args = parser().parse_args(argv)
    if not 0 <= args.wait <= 20:
        sys.exit("--wait must be 0..20")
    line = run(args)
    print(orjson.dumps(line).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
