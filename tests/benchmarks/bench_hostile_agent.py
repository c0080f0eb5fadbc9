"""Figures for issue 24: an agent run against an endpoint that asks for the worst tool calls.

The fake server's ``hostile-tools`` scenario (``tests/servers/fake_openai.py``: backtracking patterns,
a 250 MB blob, a billion-digit ``round``, endless and forking code, output floods, paths and links out of
the workspace, too many calls, bad JSON, unknown tools, oversized arguments; the key echoed into the
trajectory) drives ``infercost run`` (a child process: the harness) over N agent tasks. Measured from
the bundle it writes:

1. every task accounted for (one summary per task, stop reason ``answer``);
2. each tool call's wall time against its deadline: the largest overshoot (goal: no call longer than
   its deadline + 1 s) and how many calls hit their deadline;
3. the harness's peak RSS (``peak_rss_mb``: its own ``ru_maxrss``; goal < 1 GB) and the tool processes'
   (each capped: 256 MB address space, 512 MB for ``python``);
4. that no file of the bundle holds the key.

Run on a shared machine, wall figures include time the harness waited for a CPU: the load average is
recorded before and after.

    python tests/benchmarks/bench_hostile_agent.py [--tasks 3] [--deadline 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.results.bundle import read_bundle  # noqa: E402
from tests.helpers.hostile import HOSTILE_KEY, hostile_suite, run_hostile  # noqa: E402
from tests.servers.fake_openai import HOSTILE_STEPS, ServerThread  # noqa: E402


def _key_in_bundle(run_dir: Path) -> list[str]:
    forms = {HOSTILE_KEY, quote(HOSTILE_KEY, safe=""), json.dumps(HOSTILE_KEY)[1:-1]}
    return [
        p.name
        for p in run_dir.rglob("*")
        if p.is_file() and any(f in p.read_text(errors="replace") for f in forms)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=3.0, help="tool and python deadline, seconds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tasks = tuple(f"task{i}" for i in range(args.tasks))
    load_before = os.getloadavg()
    server = ServerThread(key=HOSTILE_KEY)
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
            proc, run_dir = run_hostile(
                Path(tmp), server, hostile_suite(Path(tmp) / "s.toml", tasks, args.deadline)
            )
            wall_s = time.monotonic() - t0
            records = read_bundle(run_dir).records
            leaks = _key_in_bundle(run_dir)
    finally:
        server.stop()
    load_after = os.getloadavg()
    summaries = [r for r in records if r.kind == "agent"]
    tools = [r for r in records if r.kind == "tool" and r.e2e_ms]
    over = [(r.e2e_ms or 0) / 1e3 - args.deadline for r in tools]
    hit = [
        r
        for r in tools
        if (r.tool_error and "deadline" in (r.check_detail or "")) or "killed after" in (r.output_text or "")
    ]
    slowest = max(tools, key=lambda r: r.e2e_ms or 0)
    result = {
        "machine": f"{platform.node()} {platform.machine()} ({platform.platform()})",
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
        "exit_code": proc.returncode,
        "tasks": len(tasks),
        "tasks_accounted": sum(1 for s in summaries if s.stop_reason == "answer"),
        "tool_calls": len([r for r in records if r.kind == "tool"]),
        "tool_calls_per_task": sum(len(step) for step in HOSTILE_STEPS),
        "tool_errors": sum(s.tool_errors or 0 for s in summaries),
        "deadline_s": args.deadline,
        "calls_at_their_deadline": len(hit),
        "max_call_s": round((slowest.e2e_ms or 0) / 1e3, 3),
        "max_call_tool": slowest.tool_name,
        "max_overshoot_s": round(max(over), 3),
        "harness_peak_rss_mb": max(r.peak_rss_mb or 0 for r in records),
        "tool_peak_rss_mb": max(r.tool_peak_rss_mb or 0 for r in records if r.kind == "tool"),
        "key_found_in": leaks,
        "wall_s": round(wall_s, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
