"""Figures for issue 16 part 5 (capacity in the cost model).

1. Cost of sharing: ``price_records`` over N local records one at a time (the old arithmetic) and at
   ``--concurrency 8`` (each request's share of the device's time, bench/cost/capacity.py), median of R
   rounds; every reader prices a bundle again, so the 100k ≤ 1 s budget of issue 15 must still hold.
   Also ``measured_capacity`` and ``device_economics`` over the concurrent records.
2. Real capacity by level (skipped with --skip-server): the mini suite through a real loopback
   ``python -m llama_cpp.server`` (SmolLM2-135M, 2 threads) at ``--concurrency 1, 2, 4``, then
   ``infercost breakeven`` over the bundles: tasks/s, p95 request time and $/task at full capacity per
   level. llama-cpp-python's server decodes one request at a time (it queues the rest), so the aggregate
   should stay about flat while each request waits longer: the figure shows what the cost model does
   with a device that does *not* batch; an engine that batches (in-process continuous batching, llama.cpp's
   C++ server with slots) is where the capacity grows.

Timing figures on a shared 2-core VM are noisy; rerun on a quiet machine before quoting them.

    python tests/benchmarks/bench_capacity.py [--records 100000] [--rounds 5] [--reps 6] [--skip-server]
                                              [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.cost.breakeven import device_economics  # noqa: E402
from bench.cost.capacity import measured_capacity  # noqa: E402
from bench.cost.pricing import price_records  # noqa: E402
from bench.models.catalog import resolve_model  # noqa: E402
from bench.results.schema import Record  # noqa: E402
from tests.helpers.cost import device_manifest, record  # noqa: E402
from tests.helpers.http import free_port, llama_server_command, write_profile  # noqa: E402

SEC = 10**9
MINI = str(ROOT / "tests" / "fixtures" / "suites" / "mini.toml")


def _records(n: int, streams: int) -> list[Record]:
    out = []
    for i in range(n):
        latency = 1.0 + (i % 7) / 10
        t0 = int(i // streams * 1.2 * SEC)
        r = record(task_id=f"t{i % 25}", seconds=latency, energy_j=20.0, energy_net_j=12.0)
        out.append(r.model_copy(update={"start_ns": t0, "end_ns": t0 + int(latency * SEC)}))
    return out


def _median_s(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def sharing_cost(n: int, rounds: int) -> dict[str, Any]:
    seq_m = device_manifest("jetson-orin-nano-super")
    conc_m = device_manifest("jetson-orin-nano-super", settings={"concurrency": 8, "mode": "closed_loop"})
    seq, conc = _records(n, 1), _records(n, 8)
    priced = price_records(conc, conc_m)
    out = {
        "records": n,
        "price_records_sequential_s": _median_s(lambda: price_records(seq, seq_m), rounds),
        "price_records_concurrency8_s": _median_s(lambda: price_records(conc, conc_m), rounds),
        "measured_capacity_concurrency8_s": _median_s(lambda: measured_capacity(priced, conc_m), rounds),
        "device_economics_concurrency8_s": _median_s(lambda: device_economics(priced, conc_m), rounds),
    }
    print(json.dumps(out, indent=2))
    return out


def real_levels(reps: int, levels: list[int]) -> dict[str, Any]:
    model = resolve_model("smollm2-135m")
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    proc = subprocess.Popen(
        llama_server_command(model.path, port), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("llama_cpp.server did not start")
            time.sleep(0.3)
        with tempfile.TemporaryDirectory() as tmp:
            profile = write_profile(
                Path(tmp) / "srv.toml", base, model="smollm2-135m", tokenizer="smollm2-135m",
                top='as_of = 2026-11-28\nsource = "bench"\nprice_usd = 600\nlifetime_years = 3\n'
                "utilization = 0.5\nidle_w = 10\nmax_w = 40\nkwh_usd = 0.2\n",
            )  # fmt: skip
            dirs = []
            for c in levels:
                run = subprocess.run(
                    [sys.executable, "-m", "bench", "run", "--device", str(profile), "--suite", MINI,
                     "-r", str(reps), "-w", "1", "--concurrency", str(c), "--out", str(Path(tmp) / f"c{c}"),
                     "--json"],
                    env=env, capture_output=True, text=True, check=True,
                )  # fmt: skip
                dirs.append(json.loads(run.stdout)["run_dir"])
            be = subprocess.run(
                [sys.executable, "-m", "bench", "breakeven", *dirs, "--cloud", "openai-gpt-4o-mini", "--json"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    data = json.loads(be.stdout)
    rows = [
        {
            "concurrency": r["concurrency"],
            "tasks_per_s": r["tasks_per_s"],
            "mean_latency_s": r["mean_latency_s"],
            "p95_latency_s": r["p95_latency_s"],
            "usd_per_task_at_capacity": r["usd_per_task_at_capacity"],
            "capacity_from": r["capacity_from"],
        }
        for r in data["levels"]
    ]
    for r in rows:
        print(
            f"concurrency {r['concurrency']}: {r['tasks_per_s']:.2f} tasks/s, mean {r['mean_latency_s']:.3f} s, "
            f"p95 {r['p95_latency_s']:.3f} s, ${r['usd_per_task_at_capacity']:.3g}/task at capacity"
        )
    return {"reps_per_task": reps, "suite": "mini (3 tasks)", "levels": rows, "chosen": data["chosen"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=6)
    ap.add_argument("--levels", default="1,2,4")
    ap.add_argument("--skip-server", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    result: dict[str, Any] = {
        "machine": "shared 2-core VM (noisy)",
        "sharing": sharing_cost(args.records, args.rounds),
    }
    if not args.skip_server:
        result["server"] = real_levels(args.reps, [int(x) for x in args.levels.split(",")])
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
