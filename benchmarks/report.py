"""Render a results JSON document as a markdown table, servers side by side.

python benchmarks/report.py benchmarks/results/2026-01-01.json
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

LABELS = {
    "send": "SendMessage req/s (p50 / p99 ms)",
    "wrk": "SendMessage under wrk, req/s (p50 / p99 ms)",
    "send-batch": "SendMessageBatch 10 x 100 B, msg/s (p50 / p99 ms per batch)",
    "roundtrip": "round trip send/receive/delete msg/s (end-to-end p50 / p99 ms)",
    "fanout": "fan-out 1 topic -> 10 queues, deliveries/s (publish-to-receive p50 / p99 ms)",
}


def _num(v: float | None, digits: int = 1) -> str:
    if v is None:
        return "?"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def cell(line: dict[str, Any] | None) -> str:
    """One table cell for one scenario line."""
    if line is None:
        return ""
    if "skipped" in line:
        return f"n/a ({line['skipped'][:60]})"
    if "error" in line:
        return f"failed ({line['error'][:60]})"
    text = f"{_num(line.get('throughput'))} ({_num(line.get('p50_ms'), 2)} / "
    text += f"{_num(line.get('p99_ms'), 2)})"
    notes = []
    if line.get("lost") is not None:
        notes.append(f"lost {line['lost']}, dup {line['duplicated']}")
    if line.get("errors"):
        notes.append(f"{line['errors']} errors")
    if line.get("timed_out"):
        notes.append(f"timed out after {line.get('received', line.get('duration'))}")
    return text + (f" [{'; '.join(notes)}]" if notes else "")


def _row_key(line: dict[str, Any]) -> str:
    return f"drain:{line.get('depth')}" if line["scenario"] == "drain" else line["scenario"]


def _label(key: str) -> str:
    if key.startswith("drain:"):
        depth = int(key.split(":")[1])
        return f"drain a {depth:,}-deep queue, msg/s (receive p50 / p99 ms)"
    return LABELS.get(key, key)


def markdown(doc: dict[str, Any]) -> str:
    """The whole report."""
    servers = [s["server"] for s in doc["servers"]]
    by_key: dict[str, dict[str, dict[str, Any]]] = {}
    for line in doc["results"]:
        by_key.setdefault(_row_key(line), {})[line["server"]] = line
    order = ["send", "wrk", "send-batch", "roundtrip"]
    keys = [k for k in order if k in by_key]
    keys += sorted((k for k in by_key if k.startswith("drain:")), key=lambda k: int(k[6:]))
    keys += [k for k in by_key if k not in keys]
    out = [f"# Benchmark results {doc.get('date', '')}", ""]
    out.append("| scenario | " + " | ".join(servers) + " |")
    out.append("|---" * (len(servers) + 1) + "|")
    for key in keys:
        cells = [cell(by_key[key].get(s)) for s in servers]
        out.append(f"| {_label(key)} | " + " | ".join(cells) + " |")
    info = {s["server"]: s for s in doc["servers"]}
    for label, field in (
        ("time to ready, s", "ready_s"),
        ("RSS idle, MB", "rss_idle_mb"),
        ("RSS after the scenarios, MB", "rss_after_mb"),
        ("peak RSS, MB", "peak_mb"),
        ("version", "version"),
    ):
        vals = [str(info[s].get(field, "")) for s in servers]
        out.append(f"| {label} | " + " | ".join(vals) + " |")
    m = doc.get("machine", {})
    out += [
        "",
        f"Machine: {m.get('nproc')} cores, {m.get('cpu')}, {m.get('mem_gb')} GB, "
        f"Python {m.get('python')}, kernel {m.get('kernel')}.",
    ]
    for s in doc["servers"]:
        st = s.get("settings", {})
        out.append(
            f"- {s['server']}: `{s.get('command', '')}`; load generator: "
            + ", ".join(f"{k}={v}" for k, v in st.items())
        )
    out += [
        "",
        "Cells: throughput (p50 / p99 latency in ms). Client and servers share the machine.",
        "lost/dup: messages confirmed sent but never received / received more than once.",
        "",
    ]
    return "\n".join(out)


def main() -> None:
    """Print the markdown for a results file."""
    print(markdown(orjson.loads(Path(sys.argv[1]).read_bytes())))


if __name__ == "__main__":
    main()
