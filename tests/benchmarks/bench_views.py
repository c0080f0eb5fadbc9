"""Figures for the metric core (issue 20): nothing the views do got slower.

Measures, for this checkout and (``--compare-ref DIR``) another one, interleaved round by round (each
round in the other order) so that the shared machine's load drifts hit both alike, each as a child process (wall time, and the child's own
CPU time, user + system, which is what the wall time would be on an idle machine):

1. CLI start-up: ``python -m bench --help`` and ``python -m bench report --help``;
2. the run summary of a default-suite run (the published example's SmolLM2 bundle, 75 tasks): reading,
   deriving energy and cost, the summary and its printed table and cost block (what ``infercost run``
   does after its last request);
3. ``infercost report DIR -o report.html`` over 100,000 SYNTHETIC records (4 bundles × 25,000,
   ``synthetic_bundle.py``), the issue's ≤ 10 s goal;
4. ``infercost db sync`` of those bundles into a fresh DuckDB file, then ``report --store ... --summary``.

    python tests/benchmarks/bench_views.py [--compare-ref DIR] [--rounds 3] [--records 100000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_bundle import write_bundle  # noqa: E402

EXAMPLE = ROOT / "reports" / "example" / "runs"
SUMMARY_CODE = """
import sys
from bench.cli.summary import print_summary
from bench.cost.enrich import enrich
from bench.report.summary import summarize
from bench.results.bundle import read_bundle
b = read_bundle(sys.argv[1])
print_summary(summarize(enrich(b), b.manifest, run_dir=sys.argv[1]))
"""


def timed(root: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of ``python ARGS`` run with ``root``'s bench on the path."""
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "160"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare-ref", type=Path, default=None, help="another checkout, measured interleaved")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    a = ap.parse_args()
    roots = {"this": ROOT, **({"ref": a.compare_ref.resolve()} if a.compare_ref else {})}
    tmp = Path(tempfile.mkdtemp(prefix="bench-views-"))
    data = tmp / "bundles"
    for i in range(4):
        write_bundle(data, i, a.records // 4, 25)
    example = next(EXAMPLE.glob("*smollm2-135m-default*"))
    cases = {
        "help": lambda r, w: timed(r, ["-m", "bench", "--help"], w),
        "report_help": lambda r, w: timed(r, ["-m", "bench", "report", "--help"], w),
        "run_summary": lambda r, w: timed(r, ["-c", SUMMARY_CODE, str(example)], w),
        "report_html_100k": lambda r, w: timed(
            r, ["-m", "bench", "report", str(data), "-o", str(w / "r.html")], w
        ),
    }
    results: dict[str, dict[str, list[tuple[float, float]]]] = {k: {c: [] for c in cases} for k in roots}
    db_results: dict[str, dict[str, list[tuple[float, float]]]] = {
        k: {"sync": [], "summary": []} for k in roots
    }
    load = [os.getloadavg()[0]]
    for rnd in range(a.rounds):
        # each round in the other order, so that a drift of the shared machine's speed hits both alike
        order = list(roots.items()) if rnd % 2 == 0 else list(roots.items())[::-1]
        for name, root in order:
            work = tmp / f"{name}-{rnd}"
            work.mkdir()
            for case, run in cases.items():
                results[name][case].append(run(root, work))
            store = f"duckdb:{work / 'x.duckdb'}"
            db_results[name]["sync"].append(
                timed(root, ["-m", "bench", "db", "sync", "--runs-root", str(data), "--store", store], work)
            )
            db_results[name]["summary"].append(
                timed(root, ["-m", "bench", "report", "--store", store, "--summary"], work)
            )
            load.append(os.getloadavg()[0])
    out: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "records": a.records,
        "rounds": a.rounds,
        "load_average_seen": [round(min(load), 1), round(max(load), 1)],
        "load_average_each": [round(x, 2) for x in load],
        "roots": {k: str(v) for k, v in roots.items()},
    }
    for name in roots:
        figures: dict[str, dict[str, float]] = {}
        for case, runs in {**results[name], **{f"db_{k}": v for k, v in db_results[name].items()}}.items():
            figures[case] = {
                "wall_s_median": round(statistics.median(w for w, _ in runs), 3),
                "cpu_s_median": round(statistics.median(c for _, c in runs), 3),
                "wall_s_min": round(min(w for w, _ in runs), 3),
                "cpu_s_min": round(min(c for _, c in runs), 3),
                "cpu_s_each": [round(c, 3) for _, c in runs],
            }
        out[name] = figures
    text = json.dumps(out, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
