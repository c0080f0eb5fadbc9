"""Figure: bootstrap confidence intervals agree with the analytic t-interval on normal data.

On normal data Student's t-interval of the mean is exact, so an interval method that infercost trusts for
skewed latencies must reproduce it there. For each sample size n, 200 seeded N(100, 10²) datasets:

- width ratio: bootstrap width / t width (mean, and the share of datasets within ±10%);
- endpoint gap: the larger |bootstrap endpoint − t endpoint| as a fraction of the t width (95th pct);
- coverage of the true mean by t, the shipped bootstrap (expanded BCa) and plain BCa, over 1000 datasets,
  on normal data and on lognormal(σ = 1) data (skewed, like latencies).

    python tests/benchmarks/bench_stats.py [--datasets 200] [--coverage 1000] [--out FILE]

Pure computation: the numbers do not depend on the machine (seeded), only the time taken does.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.results import stats

SIZES = (10, 20, 30, 50, 100)


def agreement(n: int, datasets: int) -> dict[str, float]:
    ratios, ends = [], []
    for seed in range(datasets):
        x = np.random.default_rng(seed).normal(100.0, 10.0, n)
        b, t = stats.bootstrap_ci(x), stats.t_interval(x)
        assert b is not None and t is not None
        width = t[1] - t[0]
        ratios.append((b[1] - b[0]) / width)
        ends.append(max(abs(b[0] - t[0]), abs(b[1] - t[1])) / width)
    r = np.asarray(ratios)
    return {
        "n": n,
        "width_ratio_mean": round(float(r.mean()), 4),
        "width_within_10pct": round(float(np.mean(np.abs(r - 1) <= 0.10)), 4),
        "width_ratio_p5": round(float(np.percentile(r, 5)), 4),
        "width_ratio_p95": round(float(np.percentile(r, 95)), 4),
        "endpoint_gap_p95": round(float(np.percentile(ends, 95)), 4),
    }


def coverage(n: int, datasets: int, dist: str) -> dict[str, float | int | str]:
    hits = {"t": 0, "bootstrap_expanded": 0, "bootstrap_plain": 0}
    for seed in range(datasets):
        rng = np.random.default_rng(100_000 + seed)
        if dist == "normal":
            x, truth = rng.normal(100.0, 10.0, n), 100.0
        else:
            x, truth = np.exp(rng.normal(0.0, 1.0, n)), math.exp(0.5)
        for name, iv in (
            ("t", stats.t_interval(x)),
            ("bootstrap_expanded", stats.bootstrap_ci(x)),
            ("bootstrap_plain", stats.bootstrap_ci(x, expand=False)),
        ):
            assert iv is not None
            hits[name] += iv[0] <= truth <= iv[1]
    return {"dist": dist, "n": n, **{k: round(v / datasets, 4) for k, v in hits.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=200)
    ap.add_argument("--coverage", type=int, default=1000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = [agreement(n, args.datasets) for n in SIZES]
    print(
        f"bootstrap (expanded BCa, 2000 resamples) vs t-interval, {args.datasets} N(100,10²) datasets per n"
    )
    print("    n  width ratio  within ±10%   p5     p95   endpoint gap p95 (of width)")
    for r in rows:
        print(
            f"{r['n']:5d}  {r['width_ratio_mean']:10.3f}  {r['width_within_10pct']:10.1%}  "
            f"{r['width_ratio_p5']:.3f}  {r['width_ratio_p95']:.3f}  {r['endpoint_gap_p95']:8.3f}"
        )
    cov = [coverage(n, args.coverage, d) for d in ("normal", "lognormal") for n in (10, 30)]
    print(f"\ncoverage of the true mean (nominal 95%), {args.coverage} datasets each")
    for c in cov:
        print(
            f"  {c['dist']:9s} n={c['n']:3d}  t {c['t']:.3f}  bootstrap expanded {c['bootstrap_expanded']:.3f}"
            f"  plain BCa {c['bootstrap_plain']:.3f}"
        )
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    if args.out:
        args.out.write_text(json.dumps({"agreement": rows, "coverage": cov}, indent=2))


if __name__ == "__main__":
    main()
