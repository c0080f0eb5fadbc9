"""Figures for issue 22: prices from the price database.

1. **Agreement**: every token API infercost can name (``provider:model``, as ``--device`` takes it) ×
   N random usages (default 1,000: prompts 1 token to 1M, cache reads and writes, 1-hour writes,
   reasoning, request times over four years, a third at the batch tier), infercost's bill against
   ``genai_prices.calc_price`` to 1e-9 relative: the counts of models, providers, usages and
   disagreements (tests/helpers/price_sweep.py; the CI-sized half is tests/cost/test_price_db.py).
2. **Pricing 100k records** on Claude Sonnet 4.5 from the database (tiers, the dated batch tier), next to
   a flat profile's prices: ≤ 1 s.
3. **CLI start-up**: ``python -m bench --help`` wall time, and that it imports no price database
   (``--compare-ref DIR``: the same for another checkout, interleaved; ``--this DIR``: the checkout
   measured, default this one). For this change: ``git archive 7d65495 bench`` (before) against
   ``git archive bcdfdb0 bench devices`` (the database change alone on top of it).

    python tests/benchmarks/bench_price_db.py [--usages 1000] [--seed 22] [--records 100000] [--rounds 5]
        [--compare-ref DIR] [--out tests/benchmarks/results/price-db-DATE.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.cost.pricing import price_records  # noqa: E402
from bench.devices.price_db import database  # noqa: E402
from bench.devices.profiles import load_device  # noqa: E402
from tests.helpers.cost import device_manifest, manifest_for, record  # noqa: E402
from tests.helpers.price_sweep import Agreement, compare, usages  # noqa: E402


def sweep(n_usages: int, seed: int) -> dict[str, object]:
    db = database()
    rng = random.Random(seed)
    result = Agreement()
    t0 = time.perf_counter()
    named = db.nameable()
    for name, _m in named:
        provider, _, ref = name.partition(":")
        model = db.lookup(provider, ref)
        compare(model, ref, usages(rng, model, n_usages), result)
    token_apis = len(db.token_apis())
    return {
        "database": db.label,
        "providers_in_database": len(db.providers),
        "models_in_database": sum(len(p.models) for p in db.providers),
        "token_apis": token_apis,
        "nameable": len(named),
        "models_compared": result.models,
        "providers_compared": len(result.providers),
        "usages_per_model": n_usages,
        "usages": result.usages,
        "disagreements": len(result.disagreements),
        "calculator_refused": len(result.calculator_refused),
        "first_disagreements": result.disagreements[:5],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def pricing(n: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds (the process's own: on a shared machine the wall time mostly measures
    the other jobs) to price ``n`` records, per profile."""
    recs = [
        record(
            task_id=f"t{i % 25}",
            seconds=1.0 + (i % 7) / 10,
            prompt_tokens=2000 + (i % 500) * 800,  # a fifth of them over the 200k tier start
            completion_tokens=100 + i % 50,
            cached_tokens=1200,
            cache_write_tokens=400,
            cache_write_1h_tokens=100 if i % 2 else 0,
            started_utc=f"2026-{10 + i % 3:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        )
        for i in range(n)
    ]
    cases = {
        "anthropic:claude-sonnet-4-5 (database), batch": manifest_for(
            load_device("anthropic:claude-sonnet-4-5"), settings={"batch": True}
        ),
        "deepseek:deepseek-chat (database, off-peak hours)": manifest_for(
            load_device("deepseek:deepseek-chat")
        ),
        "deepinfra-llama-3.1-8b (profile, flat)": device_manifest("deepinfra-llama-3.1-8b"),
    }
    out = {}
    for name, manifest in cases.items():
        walls, cpus = [], []
        for _ in range(rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            priced = price_records(recs, manifest)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        assert all(r.cost_usd is not None for r in priced)
        out[name] = {"wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3)}
    return out


def _startup(root: Path, rounds: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of ``python -m bench --help``: the child's own user + system time is what
    start-up costs; on a shared machine its wall time mostly measures the other jobs."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bench", "--help"], cwd=root, env=env, check=True, capture_output=True
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append((wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime))
    return out


def startup(rounds: int, compare_ref: Path | None, this: Path = ROOT) -> dict[str, object]:
    code = "import sys, bench.cli.app as a; a.build_parser(); print('genai_prices' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=this, env={**os.environ, "PYTHONPATH": str(this)}, capture_output=True,
        text=True, check=True,
    ).stdout.strip()  # fmt: skip
    here: list[tuple[float, float]] = []
    there: list[tuple[float, float]] = []
    for _ in range(rounds):  # interleaved, so load drifts hit both alike
        here += _startup(this, 1)
        if compare_ref is not None:
            there += _startup(compare_ref, 1)

    def median(runs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in runs)

    out: dict[str, object] = {
        "tree": str(this),
        "help_wall_s_median": round(median(here, 0), 3),
        "help_cpu_s_median": round(median(here, 1), 3),
        "imports_price_database": loaded == "True",
    }
    if there:
        out["compare_ref"] = str(compare_ref)
        out["compare_help_wall_s_median"] = round(median(there, 0), 3)
        out["compare_help_cpu_s_median"] = round(median(there, 1), 3)
        out["cpu_growth_ms"] = round((median(here, 1) - median(there, 1)) * 1e3, 1)
        out["wall_growth_ms"] = round((median(here, 0) - median(there, 0)) * 1e3, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--usages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=22)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare-ref", type=Path, default=None, help="a checkout (its bench/) to compare with")
    ap.add_argument("--this", type=Path, default=ROOT, help="the checkout whose start-up is measured")
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    load_before = os.getloadavg()
    doc: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}",
        "load_average_before": [round(x, 2) for x in load_before],
        "startup": startup(args.rounds * 2, args.compare_ref, args.this),
        "pricing_100k": pricing(args.records, args.rounds),
    }
    if not args.skip_sweep:
        doc["agreement"] = sweep(args.usages, args.seed)
    doc["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
