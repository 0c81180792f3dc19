"""Several Postroom nodes on one PostgreSQL, beside one node on SQLite: the SQS scenarios.

    python benchmarks/cluster_bench.py --store postgresql://postgres@127.0.0.1:5432/postgres
    python benchmarks/cluster_bench.py --store ... --setups sqlite,pg1,pg3 --scenarios send
    python benchmarks/cluster_bench.py --store ... --quick
    python benchmarks/cluster_bench.py --store ... --rounds 3   # medians of 3 interleaved runs

Each setup gets fresh storage (a new data directory; on PostgreSQL a new database created
through the --store URL, dropped afterwards), its nodes on free ports, and the load
generator (loadgen.py) with its connections spread round-robin over the nodes. Per
scenario it records the CPU each node used (% of one core over the run's wall time), the
PostgreSQL processes' CPU and each node's RSS. Writes results/cluster-<date>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from run import machine, postroom_revision
from servers import BENCH, PROJECT_VENV, WORK, Running, Server, free_port, tree_pids

PYTHON = PROJECT_VENV / "bin" / "python"
SCENARIOS = ("send", "send-batch", "roundtrip")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (backends, WAL writer, checkpointer):
    on a shared server, other databases' work counts too."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().split(" ", 2)[1] == "(postgres)":
                pids.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return pids


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (query string kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def psql(url: str, sql: str) -> None:
    """Run one statement through psql (admin work outside the timed part)."""
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                   capture_output=True, text=True)


class Setup:
    """One storage setup: ``sqlite`` (one node, data directory) or ``pgN`` (N nodes)."""

    def __init__(self, name: str, store: str | None) -> None:
        self.name = name
        self.nodes = 1 if name == "sqlite" else int(name.removeprefix("pg"))
        self.admin_url = store
        self.db = f"bench_cluster_{uuid.uuid4().hex[:8]}"
        self.running: list[Running] = []
        self.dirs: list[Path] = []

    @property
    def pg(self) -> bool:
        return self.name != "sqlite"

    def store_args(self) -> str:
        if not self.pg:
            return "--data-dir {data_dir}"
        assert self.admin_url
        return "--store " + with_database(self.admin_url, self.db)

    def start(self, logs: Path) -> None:
        """Create the storage and start the nodes (one after another: the first one
        migrates the schema)."""
        if self.pg:
            assert self.admin_url
            psql(self.admin_url, f"CREATE DATABASE {self.db}")
        command = "{venv}/bin/postroom serve --port {port} --log-level warning " + self.store_args()
        server = Server(f"postroom-{self.name}", command, PROJECT_VENV, "postroom")
        for i in range(self.nodes):
            data_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-{i}-", dir=WORK))
            self.dirs.append(data_dir)
            node = Running(server, free_port(), data_dir, logs / f"cluster-{self.name}-{i}.log")
            self.running.append(node)
            node.wait_ready()

    def endpoints(self) -> str:
        return ",".join(f"http://127.0.0.1:{n.port}" for n in self.running)

    def stop(self) -> None:
        for node in self.running:
            node.stop()
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        if self.pg and self.admin_url:
            try:
                psql(self.admin_url, f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            except subprocess.CalledProcessError as exc:
                print(f"[cluster] could not drop {self.db}: {exc.stderr}", file=sys.stderr)


def run_scenario(args: argparse.Namespace, setup: Setup, scenario: str) -> dict[str, Any]:
    """One loadgen run against every node of ``setup``, with the nodes' CPU and RSS."""
    cmd = [str(PYTHON), str(BENCH / "loadgen.py"), scenario, "--server", setup.name,
           "--endpoint", setup.endpoints(), "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--connections", str(args.connections),
           "--procs", str(args.procs), "--wait", "1"]
    node_pids = [tree_pids(n.proc.pid) for n in setup.running]
    pg0 = {pid: cpu_seconds([pid]) for pid in postgres_pids()} if setup.pg else {}
    cpu0 = [cpu_seconds(p) for p in node_pids]
    t0 = time.perf_counter()
    print(f"[cluster] {setup.name}: {scenario}", file=sys.stderr, flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=args.warmup + args.duration + 180)
    except subprocess.TimeoutExpired:
        return {"scenario": scenario, "server": setup.name, "error": "loadgen timed out"}
    wall = time.perf_counter() - t0
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"scenario": scenario, "server": setup.name, "error": err[:300]}
    line = orjson.loads(lines[-1])
    line["nodes"] = setup.nodes
    line["node_cpu_pct"] = [
        round(100 * (cpu_seconds(p) - c) / wall, 1) for p, c in zip(node_pids, cpu0, strict=True)
    ]
    if setup.pg:  # backends started during the run count from zero
        used = sum(cpu_seconds([pid]) - pg0.get(pid, 0.0) for pid in postgres_pids())
        line["postgres_cpu_pct"] = round(100 * used / wall, 1)
    line["node_rss_mb"] = [n.memory()["rss_mb"] for n in setup.running]
    line["alive"] = all(n.alive() for n in setup.running)
    print(f"[cluster]   {orjson.dumps(line).decode()}", file=sys.stderr, flush=True)
    return line


def cell(line: dict[str, Any] | None) -> str:
    """``throughput (p50 / p99 ms)`` plus delivery checks, or the error."""
    if line is None:
        return ""
    if "error" in line:
        return f"error: {line['error'][:60]}"
    text = f"{line['throughput']:,.0f} ({line['p50_ms']:.1f} / {line['p99_ms']:.1f})"
    if line.get("lost") is not None:
        text += f" [lost {line['lost']}, dup {line['duplicated']}]"
    if line.get("errors"):
        text += f" {line['errors']} errors"
    return text


def cost(line: dict[str, Any] | None) -> str:
    """Per-node CPU% and RSS, then PostgreSQL's CPU%."""
    if not line or "error" in line:
        return ""
    cpu = "+".join(f"{c:.0f}" for c in line["node_cpu_pct"])
    rss = "/".join(f"{r:.0f}" for r in line["node_rss_mb"])
    text = f"{cpu}% CPU, {rss} MB"
    if "postgres_cpu_pct" in line:
        text += f"; PG {line['postgres_cpu_pct']:.0f}%"
    return text


def median_runs(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (setup, scenario): the run with the median throughput (errors only if all are)."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        runs.setdefault((r["server"], r["scenario"]), []).append(r)
    out = {}
    for key, lines in runs.items():
        good = sorted((r for r in lines if "error" not in r), key=lambda r: r["throughput"])
        out[key] = good[(len(good) - 1) // 2] if good else lines[-1]
    return out


def markdown(doc: dict[str, Any]) -> str:
    """The results table: one column per setup, per scenario a result row and a cost row
    (with several rounds, the median run of each cell; the spread below the table)."""
    setups = list(dict.fromkeys(doc["setups"]))
    by = median_runs(doc["results"])
    names = {"sqlite": "SQLite, 1 node"} | {f"pg{n}": f"PostgreSQL, {n} node{'s' * (n > 1)}"
                                             for n in range(1, 9)}
    head = "| scenario | " + " | ".join(names.get(s, s) for s in setups) + " |"
    rows = [head, "|---" * (len(setups) + 1) + "|"]
    label = {"send": "SendMessage req/s (p50 / p99 ms)",
             "send-batch": "SendMessageBatch (10 x 100 B) msg/s (p50 / p99 ms)",
             "roundtrip": "round trip send/receive/delete msg/s (end-to-end p50 / p99 ms)"}
    for sc in doc["scenarios"]:
        rows.append(f"| {label.get(sc, sc)} | "
                    + " | ".join(cell(by.get((s, sc))) for s in setups) + " |")
        rows.append(f"| {sc}: CPU per node, RSS per node; PostgreSQL CPU | "
                    + " | ".join(cost(by.get((s, sc))) for s in setups) + " |")
    if doc.get("rounds", 1) > 1:
        rows.append("")
        for sc in doc["scenarios"]:
            spread = []
            for s in setups:
                tps = sorted(r["throughput"] for r in doc["results"]
                             if r["server"] == s and r["scenario"] == sc and "error" not in r)
                spread.append(f"{s} {'/'.join(f'{t:,.0f}' for t in tps)}")
            rows.append(f"- {sc}, every round: " + "; ".join(spread))
    return "\n".join(rows) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--store", default=os.environ.get("POSTROOM_BENCH_STORE"),
                   help="PostgreSQL URL whose user may CREATE DATABASE (env POSTROOM_BENCH_STORE)")
    p.add_argument("--setups", default="sqlite,pg1,pg2,pg3",
                   help="comma-separated: sqlite, pg1, pg2, pg3 ...")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--procs", type=int, default=1, help="load generator processes")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every setup this many times, interleaved; cells show the median")
    p.add_argument("--quick", action="store_true", help="2 s runs on 6 connections (smoke)")
    p.add_argument("--out-dir", default=str(BENCH / "results"))
    a = p.parse_args(argv)
    if a.quick:
        a.duration, a.warmup, a.connections = 2.0, 0.3, 6
    a.setups = [s for s in a.setups.split(",") if s]
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.scenarios:
        if s not in SCENARIOS:
            p.error(f"unknown scenario {s} (choose from {', '.join(SCENARIOS)})")
    for s in a.setups:
        if s != "sqlite" and not (s.startswith("pg") and s[2:].isdigit() and int(s[2:]) > 0):
            p.error(f"unknown setup {s}")
    if any(s != "sqlite" for s in a.setups) and not a.store:
        p.error("PostgreSQL setups need --store postgresql://... (or POSTROOM_BENCH_STORE)")
    return a


def main(argv: list[str] | None = None) -> int:
    """Run every setup's scenarios in turn, save JSON and markdown, print the table."""
    args = parse_args(argv)
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    # Rounds go through every setup in turn, so a noisy minute hits all setups alike.
    for round_no, name in [(r, n) for r in range(args.rounds) for n in args.setups]:
        setup = Setup(name, args.store)
        try:
            setup.start(logs)
            for sc in args.scenarios:
                results.append({**run_scenario(args, setup, sc), "round": round_no})
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            results.append({"scenario": "start", "server": name, "error": detail[:300]})
            print(f"[cluster] {name}: {detail}", file=sys.stderr)
        finally:
            setup.stop()
    day = dt.date.today().isoformat()
    doc = {"date": day, "machine": machine(), "revision": postroom_revision(),
           "settings": {k: getattr(args, k) for k in ("duration", "warmup", "connections", "procs")},
           "rounds": args.rounds, "setups": args.setups, "scenarios": args.scenarios, "results": results}
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cluster-{day}.json"
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    path.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))
    print(f"[cluster] wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
