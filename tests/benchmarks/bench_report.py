"""Figure for the report (issue: "Reports"): a report over 100,000 records renders in <= 10 s.

Writes SYNTHETIC bundles (``synthetic_bundle.py``: 4 runs x 25,000 records, 25 tasks, realistic
per-token gaps, estimated energy, power traces) into a temp dir, then times the real command a user runs,
``python -m bench report DIR -o report.html`` (and ``.md``), end to end in a child process: interpreter
start, reading and validating every record, statistics, charts, writing. Reports the median wall time
of ``--rounds`` runs, their CPU time (user + sys: what the wall time would be on an idle machine, since the
command is single-threaded) and the CPU time of each phase from one in-process run.

This 2-core VM is shared and noisy: compare numbers measured in the same session only.

    python tests/benchmarks/bench_report.py [--records 100000] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_bundle import write_bundle  # noqa: E402

GOAL_S = 10.0


def timed_cli(*args: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of one ``infercost report`` child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench", "report", *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def phases(data: Path, out: Path) -> dict[str, float]:
    """CPU seconds per phase, in this process (imports excluded)."""
    from bench.report.build import ReportOptions, build_report
    from bench.report.publish import Outputs, write_outputs
    from bench.report.runs import load_runs
    from bench.results.bundle import gc_paused

    options = ReportOptions()
    t0 = time.process_time()
    runs = load_runs([data])
    t1 = time.process_time()
    with gc_paused():  # as make_report does
        report = build_report(runs, options)
    t2 = time.process_time()
    write_outputs(report, Outputs(report=out), options)
    t3 = time.process_time()
    return {"read+enrich": t1 - t0, "statistics+charts": t2 - t1, "render html": t3 - t2}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=100_000, help="records in total (split over 4 runs)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--keep", type=Path, help="write the synthetic bundles and reports here and keep them")
    a = p.parse_args()
    tmp = tempfile.TemporaryDirectory()
    work = a.keep or Path(tmp.name)
    data = work / "bundles"
    for i in range(4):
        write_bundle(data, i, a.records // 4, 25)
    print(f"{a.records:,} synthetic records in 4 bundles under {data}; load average {os.getloadavg()[0]:.1f}")
    for suffix in ("html", "md"):
        out = work / f"report.{suffix}"
        results = [timed_cli(str(data), "-o", str(out)) for _ in range(a.rounds)]
        times, cpu = [r[0] for r in results], [r[1] for r in results]
        verdict = "ok" if statistics.median(times) <= GOAL_S else "OVER GOAL"
        print(
            f"infercost report -o report.{suffix}: wall median {statistics.median(times):.2f} s "
            f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)}; goal <= {GOAL_S:.0f} s: {verdict}); "
            f"CPU median {statistics.median(cpu):.2f} s"
        )
    cpu = phases(data, work / "phases.html")
    print("in-process CPU seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))


if __name__ == "__main__":
    main()
