"""Fresh vs cached TTFT over HTTP (issue 20, part 8): the default run against the warm-cache run.

Starts ``python -m llama_cpp.server`` with the bundled SmolLM2-135M (as the tests do: 2 threads,
``--interrupt_requests False``), then runs the default suite through ``local-server`` twice with the
run's defaults (``-w 1``): once as a user gets it now (every request cache-busted) and once with
``--warm-cache`` (prompts as written: each measured request repeats its warmup's prompt, which
llama-cpp-python's server still holds). For each: TTFT p50 of the warmups (the first sight of each
prompt) and of the measured requests, the prefill rate, and the run's warnings. The load average is
recorded at start and end: on a shared 2-core VM the absolute times move with it, the ratio much less.

    python tests/benchmarks/bench_cached_ttft.py [--repetitions 2] [--suite default] [--tasks PATTERNS]
                                                 [--threads 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
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

from bench.cost.enrich import enrich  # noqa: E402
from bench.devices.profiles import host_facts  # noqa: E402
from bench.models.catalog import resolve_model  # noqa: E402
from bench.report.summary import summarize  # noqa: E402
from bench.results.bundle import read_bundle  # noqa: E402
from bench.run.orchestrate import RunOptions, execute_run, prepare_run  # noqa: E402
from tests.helpers.http import free_port, llama_server_command  # noqa: E402


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def one_run(
    out: Path, base_url: str, suite: str, tasks: str | None, repetitions: int, *, warm_cache: bool
) -> dict[str, Any]:
    opts = RunOptions(
        device="local-server", suite=suite, tasks=tasks, repetitions=repetitions, warmup=1, out=out,
        base_url=base_url, warm_cache=warm_cache, seed=42,
    )  # fmt: skip
    load_before = os.getloadavg()
    t0 = time.monotonic()
    outcome = execute_run(prepare_run(opts))
    bundle = read_bundle(outcome.run_dir)
    summary = summarize(enrich(bundle), bundle.manifest, run_dir=str(outcome.run_dir))
    ok = [r for r in bundle.records if r.status == "ok"]
    warm = [r for r in ok if r.warmup]
    measured = [r for r in ok if not r.warmup]
    return {
        "warm_cache": warm_cache,
        "cache_bust": bundle.manifest.settings.cache_bust,
        "requests": len(bundle.records),
        "warmup_ttft_ms_p50": _median([r.ttft_ms for r in warm]),
        "measured_ttft_ms_p50": _median([r.ttft_ms for r in measured]),
        "warmup_prefill_tps_p50": _median([r.prefill_tps for r in warm]),
        "measured_prefill_tps_p50": _median([r.prefill_tps for r in measured]),
        "summary_ttft_p50_ms": summary["overall"].get("ttft_p50_ms"),
        "warnings": [{k: w[k] for k in ("kind", "message", "remedy")} for w in summary["warnings"]],
        "wall_s": round(time.monotonic() - t0, 1),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repetitions", type=int, default=2)
    p.add_argument("--suite", default="default")
    p.add_argument("--tasks", default=None, help="task id patterns (a busy machine: a few tasks, not 25)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    model = resolve_model("smollm2-135m")
    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    server = subprocess.Popen(
        llama_server_command(model.path, port, args.threads),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "host": host_facts(),
        "server": "python -m llama_cpp.server (SmolLM2-135M Q4_1)",
        "suite": args.suite,
        "tasks": args.tasks,
        "threads": args.threads,
        "repetitions": args.repetitions,
        "warmup": 1,
    }
    try:  # the server goes with the script, however it ends (a SIGTERM too)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("llama_cpp.server did not start")
            time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmp:
            for label, warm in (("default", False), ("warm_cache", True)):
                results[label] = one_run(
                    Path(tmp) / label, base, args.suite, args.tasks, args.repetitions, warm_cache=warm
                )
                print(json.dumps({label: results[label]}, default=str), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    d, w = results["default"], results["warm_cache"]
    if d["measured_ttft_ms_p50"] and w["measured_ttft_ms_p50"]:
        results["ttft_ratio_warm_over_default"] = round(
            w["measured_ttft_ms_p50"] / d["measured_ttft_ms_p50"], 3
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
