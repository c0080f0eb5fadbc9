"""Figures for the cost layer (issue: "Device profiles and the cost model").

Cost is derived every time a bundle is read, so its price must stay small next to reading the bundle:

1. read-time pricing: ``price_records`` over N records (per-record cost), and the whole summary with its
   cost block (which loads every cloud profile in devices/ for "priced on cloud") and roofline;
2. ``infercost breakeven RUN --json`` wall time on a bundle of N records (a child process, as users run it).

    python tests/benchmarks/bench_cost.py [--records 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cost.pricing import price_records  # noqa: E402
from bench.report.summary import summarize  # noqa: E402
from bench.results.bundle import BundleWriter, read_bundle  # noqa: E402
from tests.helpers.cost import device_manifest, record  # noqa: E402


def _median_s(fn: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    m = device_manifest("jetson-orin-nano-super", model={"tensor_bytes": 100_000_000})
    recs = [
        record(task_id=f"t{i % 25}", seconds=1.0 + (i % 7) / 10, energy_j=12.0) for i in range(args.records)
    ]
    price_s = _median_s(lambda: price_records(recs, m), args.rounds)
    priced = price_records(recs, m)
    summary_s = _median_s(lambda: summarize(priced, m), args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        writer = BundleWriter(Path(tmp) / "b", m)
        for r in recs:
            writer.append(r)
        writer.close()
        read_s = _median_s(lambda: read_bundle(Path(tmp) / "b"), args.rounds)
        walls = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bench", "breakeven", str(Path(tmp) / "b"), "--json"],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            walls.append(time.perf_counter() - t0)
    out = {
        "records": args.records,
        "price_records_s": price_s,
        "price_records_us_per_record": price_s / args.records * 1e6,
        "summarize_with_cost_s": summary_s,
        "read_bundle_s": read_s,
        "breakeven_cli_wall_s": statistics.median(walls),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
