"""Figures for issue 16 part 2: shapes at a depth and in parallel, next to llama.cpp's own tools.

1. Depth: infercost's ``pp512 @ dN`` (prefill_tps) and ``tg128 @ dN`` (decode_tps) through
   ``LlamaCppBackend.generate`` vs ``llama-bench -p 512 -n 128 -d 0,1024,4096`` (avg_ts).
2. Parallel: infercost's ``pp128+tg128 xB`` (llama-batched-bench's S_PP and S_TG rebuilt from the
   record by ``bench.report.batched_view``) vs ``llama-batched-bench -npp 128 -ntg 128 -npl 4,8 -kvu``.

Same model file (SmolLM2-135M), same threads, flash attention on for both, default batch sizes
(2048 / 512); each round runs the tool and the harness back to back, alternating which goes first,
and the figure is the median over rounds of the per-round ratio harness / tool. Timing on a shared
2-core VM is noisy: say so where the figures are quoted (docs/shapes.md).

    python tests/benchmarks/bench_shapes.py [--threads 1] [--rounds 2] [--tools /work/llama-tools/bin]
                                            [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from bench.devices.profiles import LlamaCppSettings, host_facts  # noqa: E402
from bench.models.catalog import resolve_model  # noqa: E402
from bench.report.batched_view import batched_row  # noqa: E402
from bench.results.metrics import derive_timing  # noqa: E402
from bench.results.schema import Record  # noqa: E402
from bench.suite.loader import Shape, Task  # noqa: E402

DEPTHS = (0, 1024, 4096)
PARALLEL = (4, 8)


def _task(**shape: Any) -> Task:
    return Task(id="t", shape=Shape(**shape), check={"type": "none"})  # type: ignore[arg-type]


def harness_depth(backend: LlamaCppBackend, depth: int) -> dict[str, float]:
    """pp512 and tg128 at ``depth``, the rates infercost records (prefill_tps, decode_tps)."""
    out = {}
    for key, shape in (
        ("pp512", {"prompt_tokens": 512, "gen_tokens": 1}),
        ("tg128", {"prompt_tokens": 0, "gen_tokens": 128}),
    ):
        gen = backend.generate(_task(depth_tokens=depth, **shape))
        timing = derive_timing(
            gen.t_dispatch_ns, gen.content_ns, gen.t_end_ns, gen.completion_tokens, gen.prompt_tokens
        )
        rate = timing.prefill_tps if key == "pp512" else timing.decode_tps
        assert rate is not None
        out[key] = rate
    return out


def harness_parallel(backend: LlamaCppBackend, b: int) -> dict[str, float]:
    gen = backend.generate(_task(prompt_tokens=128, gen_tokens=128, parallel=b))
    rec = Record(
        run_id="r", task_id="t", category="c", repetition=0, warmup=False, status="ok",
        started_utc="-", start_ns=0, end_ns=1, shape="s", prompt_tokens=gen.prompt_tokens,
        completion_tokens=gen.completion_tokens, **gen.extra,
    )  # fmt: skip
    row = batched_row(rec)
    assert row is not None
    return {"S_PP": row["s_pp_tps"], "S_TG": row["s_tg_tps"], "S": row["s_tps"], "N_KV": row["n_kv"]}


def llama_bench(tools: Path, model: Path, threads: int, reps: int) -> dict[tuple[str, int], float]:
    depths = ",".join(str(d) for d in DEPTHS)
    cmd = [str(tools / "llama-bench"), "-m", str(model), "-t", str(threads), "-r", str(reps), "-p", "512",
           "-n", "128", "-d", depths, "-fa", "1", "-o", "json"]  # fmt: skip
    rows = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    return {
        ("pp512" if row["n_gen"] == 0 else "tg128", int(row["n_depth"])): float(row["avg_ts"]) for row in rows
    }


def batched_bench(tools: Path, model: Path, threads: int) -> dict[int, dict[str, float]]:
    cmd = [str(tools / "llama-batched-bench"), "-m", str(model), "-t", str(threads), "-tb", str(threads),
           "-c", "4096", "-b", "2048", "-ub", "512", "-npp", "128", "-ntg", "128",
           "-npl", ",".join(str(b) for b in PARALLEL), "-kvu", "-fa", "on", "--output-format", "jsonl"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        out[int(row["pl"])] = {
            "S_PP": float(row["speed_pp"]), "S_TG": float(row["speed_tg"]), "S": float(row["speed"]),
            "N_KV": int(row["n_kv"]),
        }  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=2, help="llama-bench -r, and harness repetitions per round")
    ap.add_argument("--tools", type=Path, default=Path("/work/llama-tools/bin"))
    ap.add_argument(
        "--depth-rounds", type=int, default=None, help="rounds of the depth part (default: --rounds)"
    )
    ap.add_argument("--skip-depth", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    model = resolve_model("smollm2-135m")
    settings = LlamaCppSettings(n_ctx=8192, flash_attn=True, n_threads=args.threads)
    backend = LlamaCppBackend(model, settings, threads=args.threads, n_seq=max(PARALLEL))
    backend.load()
    result: dict[str, Any] = {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}",
        "cpu": host_facts()["cpu_model"],
        "threads": args.threads,
        "model": model.path.name,
        "rounds": args.rounds,
        "depth_rounds": args.depth_rounds or args.rounds,
        "note": "shared 2-core VM, busy: other helpers' runs and benchmarks were using the CPUs at the same time",
    }
    try:
        harness_depth(backend, 0), harness_parallel(backend, PARALLEL[0])  # warm-up
        par: dict[str, dict[str, list[float]]] = {}
        for i in range(args.rounds):
            tool_first = i % 2 == 1
            bb = batched_bench(args.tools, model.path, args.threads) if tool_first else None
            ours_p = {b: harness_parallel(backend, b) for b in PARALLEL}
            if bb is None:
                bb = batched_bench(args.tools, model.path, args.threads)
            for b in PARALLEL:
                assert ours_p[b]["N_KV"] == bb[b]["N_KV"], (ours_p[b], bb[b])
                for metric in ("S_PP", "S_TG", "S"):
                    entry = par.setdefault(
                        f"x{b} {metric}", {"harness": [], "batched_bench": [], "ratio": []}
                    )
                    entry["harness"].append(ours_p[b][metric])
                    entry["batched_bench"].append(bb[b][metric])
                    entry["ratio"].append(ours_p[b][metric] / bb[b][metric])
            print(f"parallel round {i + 1}: {json.dumps(par)}", flush=True)
        result["parallel"] = {k: _medians(v, "batched_bench") for k, v in par.items()}
        _save(result, args.out)
        if not args.skip_depth:
            per: dict[str, dict[str, list[float]]] = {}
            for i in range(args.depth_rounds or args.rounds):
                tool_first = i % 2 == 1
                lb = llama_bench(args.tools, model.path, args.threads, args.reps) if tool_first else None
                ours: dict[tuple[str, int], list[float]] = {}
                for d in DEPTHS:
                    for _ in range(args.reps):
                        for k, v in harness_depth(backend, d).items():
                            ours.setdefault((k, d), []).append(v)
                if lb is None:
                    lb = llama_bench(args.tools, model.path, args.threads, args.reps)
                for (k, d), values in ours.items():
                    entry = per.setdefault(f"{k} @ d{d}", {"harness": [], "llama_bench": [], "ratio": []})
                    h = statistics.mean(values)
                    entry["harness"].append(h)
                    entry["llama_bench"].append(lb[(k, d)])
                    entry["ratio"].append(h / lb[(k, d)])
                print(f"depth round {i + 1}: {json.dumps(per)}", flush=True)
            result["depth"] = {k: _medians(v, "llama_bench") for k, v in per.items()}
    finally:
        backend.close()
    print(_save(result, args.out))
    return 0


def _save(result: dict[str, Any], out: Path | None) -> str:
    """Write what is measured so far (a long depth part must not lose the parallel figures)."""
    text = json.dumps(result, indent=2)
    if out:
        out.write_text(text + "\n")
    return text


def _medians(entry: dict[str, list[float]], tool: str) -> dict[str, Any]:
    return {
        "harness_tps_median": round(statistics.median(entry["harness"]), 2),
        f"{tool}_tps_median": round(statistics.median(entry[tool]), 2),
        "ratio_median": round(statistics.median(entry["ratio"]), 4),
        "ratios": [round(r, 4) for r in entry["ratio"]],
    }


if __name__ == "__main__":
    raise SystemExit(main())
