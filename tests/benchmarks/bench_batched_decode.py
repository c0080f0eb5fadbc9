"""Figures for issue 16 part 1 (in-process concurrency, bench/backends/llama_batch.py).

1. Aggregate decode throughput at B streams (default B = 4 and 8): ``BatchEngine`` with B synthetic
   requests of ``--pp`` prompt tokens and ``--tg`` generated tokens (EOS ignored, all admitted at once)
   versus llama.cpp's own ``llama-batched-bench -npp PP -ntg TG -npl B`` on the same GGUF, threads,
   batch sizes, flash-attention setting and non-unified KV cache, interleaved round by round
   (batched-bench, then ours, for each B, ``--rounds`` times). S_TG is llama-batched-bench's: B × TG
   tokens over the TG phase. Ours: the tokens sampled after each stream's first, B × (TG − 1), over the
   time from the end of the first step's sampling to the last token's stamp, so it includes the per-token
   sampling and bookkeeping that batched-bench does not do (it never samples). Goal: ratio ≥ 0.95.
2. Concurrency-1 overhead: one stream through ``BatchEngine`` versus today's sequential
   ``LlamaCppBackend.generate`` on the same loaded context, pp+tg shape, interleaved, decode tok/s =
   (tokens − 1) / (last − first token). Goal: ratio ≥ 0.98.

Medians over rounds. On a shared 2-core VM the numbers are noisy; the JSON says what else was running.

    python tests/benchmarks/bench_batched_decode.py [--streams 4,8] [--pp 128] [--tg 128] [--rounds 3]
        [--threads 2] [--tools /work/llama-tools/bin] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.backends.base import Generation  # noqa: E402
from bench.backends.llama_batch import BatchEngine  # noqa: E402
from bench.backends.llama_cpp import LlamaCppBackend  # noqa: E402
from bench.devices.profiles import LlamaCppSettings, host_facts  # noqa: E402
from bench.models.catalog import ResolvedModel, resolve_model  # noqa: E402
from bench.run import hygiene  # noqa: E402
from bench.suite.loader import Task  # noqa: E402


def shape_tasks(n: int, pp: int, tg: int) -> list[Task]:
    return [
        Task.model_validate(
            {
                "id": f"s{i}",
                "shape": {"prompt_tokens": pp, "gen_tokens": tg},
                "seed": i,
                "check": {"type": "none"},
            }
        )
        for i in range(n)
    ]


def ours_s_tg(gens: list[Generation]) -> float:
    """Aggregate decode tokens/s after the first step: B × (TG − 1) over last stamp − first step's end."""
    start = max(g.content_ns[0] for g in gens)
    end = max(g.content_ns[-1] for g in gens)
    tokens = sum(len(g.content_ns) - 1 for g in gens)
    return tokens / ((end - start) / 1e9)


def decode_tps(g: Generation) -> float:
    return (len(g.content_ns) - 1) / ((g.content_ns[-1] - g.content_ns[0]) / 1e9)


def batched_bench(
    tools: Path, model: Path, b: int, pp: int, tg: int, threads: int, n_ctx: int, fa: str
) -> dict[str, Any]:
    cmd = [
        str(tools / "llama-batched-bench"), "-m", str(model), "-c", str(n_ctx), "-b", "2048", "-ub", "512",
        "-npp", str(pp), "-ntg", str(tg), "-npl", str(b), "-t", str(threads), "-tb", str(threads),
        "-fa", fa, "-ngl", "0", "--no-kv-unified", "--output-format", "jsonl",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    (row,) = [r for r in rows if r.get("pl") == b]
    return row


def load(model: ResolvedModel, n_seq: int, n_ctx: int, threads: int, fa: bool | None) -> LlamaCppBackend:
    backend = LlamaCppBackend(
        model, LlamaCppSettings(n_ctx=n_ctx, n_threads=threads, flash_attn=fa), n_seq=n_seq
    )
    backend.load()
    return backend


def throughput(args: argparse.Namespace, model: ResolvedModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fa = {"auto": None, "on": True, "off": False}[args.flash_attn]
    engines: dict[int, tuple[LlamaCppBackend, BatchEngine, int]] = {}
    for b in args.streams:
        n_ctx = b * max(512, args.pp + args.tg)
        backend = load(model, b, n_ctx, args.threads, fa)
        engine = BatchEngine(backend)
        engine.run(shape_tasks(b, args.pp, 16))  # warm up, as batched-bench does
        engines[b] = (backend, engine, n_ctx)
        out[str(b)] = {"ours": [], "batched_bench": [], "n_ctx": n_ctx}
    for r in range(args.rounds):
        for b in args.streams:
            backend, engine, n_ctx = engines[b]
            row = batched_bench(
                args.tools, model.path, b, args.pp, args.tg, args.threads, n_ctx, args.flash_attn
            )
            gens = engine.run(shape_tasks(b, args.pp, args.tg))
            assert all(isinstance(g, Generation) and g.completion_tokens == args.tg for g in gens), gens
            ours = ours_s_tg([g for g in gens if isinstance(g, Generation)])
            out[str(b)]["batched_bench"].append(row["speed_tg"])
            out[str(b)]["ours"].append(ours)
            out[str(b)]["flash_attn_used"] = backend_fa(backend)
            print(f"round {r + 1}: B={b} batched-bench S_TG {row['speed_tg']:.1f}  ours {ours:.1f}  "
                  f"ratio {ours / row['speed_tg']:.3f}", flush=True)  # fmt: skip
    for b in args.streams:
        d = out[str(b)]
        d["ours_median"] = statistics.median(d["ours"])
        d["batched_bench_median"] = statistics.median(d["batched_bench"])
        d["ratio"] = d["ours_median"] / d["batched_bench_median"]
        d["ratio_per_round"] = [o / x for o, x in zip(d["ours"], d["batched_bench"], strict=True)]
        backend, engine, _ = engines[b]
        engine.close()
        backend.close()
    return out


def backend_fa(backend: LlamaCppBackend) -> bool | None:
    from bench.models.engine import flash_attn_used

    return flash_attn_used(backend.settings.flash_attn)


def single_stream(args: argparse.Namespace, model: ResolvedModel) -> dict[str, Any]:
    fa = {"auto": None, "on": True, "off": False}[args.flash_attn]
    backend = load(model, 1, 2048, args.threads, fa)
    (task,) = shape_tasks(1, args.pp, args.tg)
    seq: list[float] = []
    batched: list[float] = []
    try:
        backend.generate(task)  # warm up
        for _ in range(args.rounds * 2):
            seq.append(decode_tps(backend.generate(task)))
            engine = BatchEngine(backend)
            try:
                (g,) = engine.run([task])
            finally:
                engine.close()
            assert isinstance(g, Generation)
            batched.append(decode_tps(g))
    finally:
        backend.close()
    s, b = statistics.median(seq), statistics.median(batched)
    print(
        f"concurrency 1: sequential {s:.1f} tok/s, BatchEngine {b:.1f} tok/s, ratio {b / s:.3f}", flush=True
    )
    return {"sequential": seq, "batch_engine": batched, "sequential_median": s, "batch_engine_median": b,
            "ratio": b / s}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[4, 8])
    ap.add_argument("--pp", type=int, default=128)
    ap.add_argument("--tg", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--flash-attn", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--tools", type=Path, default=Path("/work/llama-tools/bin"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    model = resolve_model(args.model)
    load_before = os.getloadavg()
    host = host_facts()
    busy = hygiene.snapshot(window_s=1.0)  # what else used the CPUs as the benchmark started
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{host.get('cpu_model')}, {host.get('cpu_logical')} logical CPUs, "
        f"{round(psutil.virtual_memory().total / 2**30)} GB",
        "model": f"{model.label} ({model.path.name})",
        "pp": args.pp,
        "tg": args.tg,
        "threads": args.threads,
        "flash_attn": args.flash_attn,
        "rounds": args.rounds,
        "loadavg_before": load_before,
        "throughput": throughput(args, model),
        "concurrency_1": single_stream(args, model),
        "loadavg_after": os.getloadavg(),
        "machine_at_start": {k: busy.get(k) for k in ("cpu_busy_pct", "load_avg_1m", "top_processes")},
    }
    print(json.dumps({k: v for k, v in result.items() if k != "machine_at_start"}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
