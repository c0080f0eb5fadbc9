"""Figure for issue 15: pricing 100k records by tier stays ≤ 1 s.

Every reader of a bundle prices it again (bench/cost/enrich.py), so the tiered price (fresh, cache read,
cache write 5 min / 1 h, output, batch) must stay cheap. Times ``price_records`` over N records on three
profiles: Anthropic Haiku 4.5 at the batch tier (every tier in play), OpenAI gpt-4o-mini (reads only) and a
rented GPU (hourly rate × request time), median of R rounds each.

    python tests/benchmarks/bench_tiers.py [--records 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cost.pricing import price_records  # noqa: E402
from tests.helpers.cost import device_manifest, record  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    recs = [
        record(
            task_id=f"t{i % 25}",
            seconds=1.0 + (i % 7) / 10,
            prompt_tokens=2000 + i % 500,
            completion_tokens=100 + i % 50,
            cached_tokens=1200,
            cache_write_tokens=400,
            cache_write_1h_tokens=100 if i % 2 else 0,
        )
        for i in range(args.records)
    ]
    cases = {
        "anthropic-claude-haiku-4.5, batch": device_manifest(
            "anthropic-claude-haiku-4.5", settings={"batch": True}
        ),
        "openai-gpt-4o-mini": device_manifest("openai-gpt-4o-mini"),
        "runpod-h100-serverless (rented)": device_manifest("runpod-h100-serverless"),
    }
    print(
        f"pricing {args.records:,} records, median of {args.rounds} rounds (python {sys.version.split()[0]})"
    )
    worst = 0.0
    for name, manifest in cases.items():
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            priced = price_records(recs, manifest)
            times.append(time.perf_counter() - t0)
        assert all(r.cost_usd is not None for r in priced)
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"  {name:38s} {median:.3f} s  ({median / args.records * 1e6:.2f} µs/record)")
    print(f"worst median: {worst:.3f} s ({'within' if worst <= 1.0 else 'OVER'} the 1 s budget)")


if __name__ == "__main__":
    main()
