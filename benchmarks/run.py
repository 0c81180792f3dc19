"""Benchmark runner: start each server in turn, run the scenarios, write results.

    python benchmarks/run.py                                    # everything, full settings
    python benchmarks/run.py --quick                            # smoke run, tiny settings
    python benchmarks/run.py --servers postroom,ministack --scenarios send,roundtrip
    python benchmarks/run.py --scenarios drain --depths 20000

Writes benchmarks/results/<YYYY-MM-DD>.json (every JSON line plus machine information) and
benchmarks/results/<YYYY-MM-DD>.md (servers side by side). Entries of servers not re-run
today are kept, so servers can be measured one at a time; --fresh starts the files anew.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import report
from servers import (
    BENCH,
    PROJECT_VENV,
    WORK,
    Running,
    Server,
    ensure_venv,
    free_port,
    installed_version,
    known_servers,
)

ALL_SCENARIOS = ["send", "wrk", "send-batch", "roundtrip", "drain", "fanout"]
SEND_ONLY = {"send", "wrk", "send-batch"}  # what the ceiling can answer
PYTHON = PROJECT_VENV / "bin" / "python"


def machine() -> dict[str, Any]:
    """Facts about this machine and toolchain."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    wrk = shutil.which("wrk")
    wrk_version = None
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        wrk_version = (out.stdout + out.stderr).split("\n")[0].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
        "loadavg_at_start": os.getloadavg()[0],
    }


def postroom_revision() -> str:
    """Git revision of the working tree (``+dirty`` when it has changes)."""

    def git(*a: str) -> str:
        p = subprocess.run(["git", *a], cwd=BENCH.parent, capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else ""

    rev = git("rev-parse", "--short", "HEAD") or "no-commit"
    return rev + ("+dirty" if git("status", "--porcelain", "--", "src") else "")


def ensure_wrk() -> None:
    """Install wrk from Debian's packages when missing (root only)."""
    if shutil.which("wrk") or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    print("[run] installing wrk (apt-get)", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)


def loadgen_runs(args: argparse.Namespace, server: Server) -> list[list[str]]:
    """The loadgen argument lists for one server (one per JSON line)."""
    common = [
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--connections",
        str(args.connections),
        "--procs",
        str(args.procs),
        "--wait",
        str(args.wait),
        "--drain-timeout",
        str(args.drain_timeout),
        "--fill-timeout",
        str(args.fill_timeout),
    ]
    if args.rate:
        common += ["--rate", str(args.rate)]
    runs = []
    for sc in args.scenarios:
        if not server.sqs and sc not in SEND_ONLY:
            continue
        if sc == "drain":
            runs += [[sc, *common, "--depth", str(d)] for d in args.depths]
        else:
            runs.append([sc, *common])
    return runs


def run_loadgen(argv: list[str], server: str, port: int, timeout: float) -> dict[str, Any]:
    """Run one loadgen process and return its JSON line (or an error line)."""
    cmd = [
        str(PYTHON),
        str(BENCH / "loadgen.py"),
        *argv,
        "--server",
        server,
        "--endpoint",
        f"http://127.0.0.1:{port}",
    ]
    print(
        f"[run] {server}: {' '.join(argv[:1] + argv[-2:] if argv[0] == 'drain' else argv[:1])}",
        file=sys.stderr,
        flush=True,
    )
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"scenario": argv[0], "server": server, "error": f"loadgen timed out ({timeout}s)"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        err = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"scenario": argv[0], "server": server, "error": err[:300]}
    line = orjson.loads(lines[-1])
    if argv[0] == "drain" and "depth" not in line:
        line["depth"] = int(argv[argv.index("--depth") + 1])
    print(f"[run]   {lines[-1]}", file=sys.stderr, flush=True)
    return line


def bench_server(args: argparse.Namespace, server: Server, logs: Path) -> tuple[dict, list]:
    """Start one server, run its scenarios, stop it; return (server info, lines)."""
    log = logs / f"{server.name}.log"
    ensure_venv(server, log)
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix=f"{server.name}-", dir=WORK))
    running = Running(server, port, data_dir, log)
    info: dict[str, Any] = {
        "server": server.name,
        "command": " ".join(running.argv),
        "version": installed_version(server),
        "settings": {
            k: getattr(args, k)
            for k in ("duration", "warmup", "connections", "procs", "wait", "rate")
        },
    }
    if server.name.startswith("postroom"):
        info["version"] = f"{info['version']} ({postroom_revision()})"
    lines: list[dict[str, Any]] = []
    try:
        info["ready_s"] = running.wait_ready()
        info["rss_idle_mb"] = running.memory()["rss_mb"]
        per_run = args.warmup + args.duration + args.drain_timeout + args.fill_timeout + 120
        for argv in loadgen_runs(args, server):
            if not running.alive():
                lines.append(
                    {"scenario": argv[0], "server": server.name, "error": f"server died; see {log}"}
                )
                continue
            lines.append(run_loadgen(argv, server.name, port, per_run))
        mem = running.memory()
        info["rss_after_mb"], info["peak_mb"] = mem["rss_mb"], mem["peak_mb"]
    except RuntimeError as exc:
        info["error"] = str(exc)
        print(f"[run] {server.name}: {exc}", file=sys.stderr)
    finally:
        running.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return info, lines


def _key(line: dict[str, Any]) -> tuple:
    return line["server"], line["scenario"], line.get("depth")


def save(args: argparse.Namespace, infos: list[dict], lines: list[dict]) -> Path:
    """Merge into today's results file (replacing re-run servers) and write the markdown."""
    day = dt.date.today().isoformat()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{day}.json"
    doc: dict[str, Any] = {"date": day, "servers": [], "results": []}
    if path.exists() and not args.fresh:
        doc = orjson.loads(path.read_bytes())
    names = {i["server"] for i in infos}
    doc["servers"] = [s for s in doc["servers"] if s["server"] not in names] + infos
    rerun = {_key(r) for r in lines}
    doc["results"] = [r for r in doc["results"] if _key(r) not in rerun] + lines
    doc["machine"] = machine()
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    path.with_suffix(".md").write_text(report.markdown(doc))
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (--quick sets small defaults for anything not given)."""
    servers = known_servers()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--servers",
        default="postroom,postroom-mem,ministack,moto,ceiling",
        help=f"comma-separated, from {', '.join(servers)}",
    )
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    p.add_argument("--duration", type=float)
    p.add_argument("--warmup", type=float)
    p.add_argument("--connections", type=int)
    p.add_argument("--depths", help="drain depths, comma-separated (1000,20000,100000,1000000)")
    p.add_argument("--procs", type=int, default=1, help="load generator processes")
    p.add_argument("--wait", type=int, default=1, help="ReceiveMessage WaitTimeSeconds")
    p.add_argument("--rate", type=float, default=0.0, help="roundtrip/fanout offered msg/s")
    p.add_argument("--drain-timeout", type=float)
    p.add_argument("--fill-timeout", type=float)
    p.add_argument("--quick", action="store_true", help="tiny settings for a smoke run")
    p.add_argument(
        "--cmd",
        action="append",
        default=[],
        metavar="NAME=TEMPLATE",
        help="command for a server (new or known); {port} {data_dir} {venv} {bench}",
    )
    p.add_argument("--out-dir", default=str(BENCH / "results"))
    p.add_argument("--fresh", action="store_true", help="replace today's files instead of merging")
    a = p.parse_args(argv)
    full = {
        "duration": 10.0,
        "warmup": 1.0,
        "connections": 16,
        "drain_timeout": 120.0,
        "fill_timeout": 300.0,
        "depths": "1000,20000,100000,1000000",
    }
    quick = {
        "duration": 2.0,
        "warmup": 0.3,
        "connections": 4,
        "drain_timeout": 15.0,
        "fill_timeout": 15.0,
        "depths": "1000",
    }
    for k, v in (quick if a.quick else full).items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    a.depths = [int(d) for d in a.depths.split(",") if d]
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.scenarios:
        if s not in ALL_SCENARIOS:
            p.error(f"unknown scenario {s}")
    for spec in a.cmd:
        name, _, template = spec.partition("=")
        base = servers.get(name) or Server(name, "", PROJECT_VENV, name)
        base.command = template
        servers[name] = base
    a.server_list = []
    for name in a.servers.split(","):
        if name not in servers:
            p.error(f"unknown server {name} (add it with --cmd {name}=TEMPLATE)")
        a.server_list.append(servers[name])
    return a


def main(argv: list[str] | None = None) -> int:
    """Run the chosen servers one after another and save the results."""
    args = parse_args(argv)
    if "wrk" in args.scenarios:
        ensure_wrk()
    logs = WORK / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    infos, lines = [], []
    for server in args.server_list:
        info, got = bench_server(args, server, logs)
        infos.append(info)
        lines += got
    path = save(args, infos, lines)
    print(path.with_suffix(".md").read_text())
    print(f"[run] wrote {path} and {path.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
