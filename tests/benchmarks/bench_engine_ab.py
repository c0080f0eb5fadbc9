"""A/B of the in-process engine between two source trees: did a refactor of the llama.cpp core cost speed?

Issue 20 part 4 folded the batched engine's inline batch filling, the sequential decode loop and the
parallel shape's batch into one engine core (``bench/backends/llama_core.py``). This script measures the
tree it lives in (B) against a baseline copy of the ``bench`` package (A, e.g. ``git archive <commit>
bench | tar -x -C DIR``):

1. aggregate decode tok/s of ``BatchEngine`` with B streams of ``--pp`` + ``--tg`` synthetic tokens, as
   ``bench_batched_decode.py`` counts it: the tokens sampled after each stream's first over the time from
   the first step's end to the last stamp;
2. one request's tg rate (``decode_tps`` of a ``tg`` shape) through ``LlamaCppBackend.generate``;
3. S_TG of the parallel shape ``pp+tg xB`` (llama-batched-bench's definition, from ``tg_ms``);

and for each, the CPU time of the measuring thread (``*_cpu_ms``). With ``--threads 1`` llama.cpp
computes in the calling thread, so this is the whole cost of the same work (decode and the Python around
it), and other jobs on the machine barely move it: where the wall-clock rates are too noisy to compare
(a load average of 10 on 2 cores), the CPU-time ratio still shows whether a tree does more work.

Both trees run in ONE process, each on contexts of its own over the same model file: the baseline is
imported as ``bench_base`` (a copy with its imports renamed), so A and B alternate measurement by
measurement, seconds apart, alternating which goes first. On a machine shared with other jobs the load
moves over minutes; interleaving this finely is what lets the per-round ratio B / A mean something. The
figure is the median of those ratios; the JSON keeps every value and the load average around each round.

    python tests/benchmarks/bench_engine_ab.py --base DIR [--rounds 10] [--streams 4,8] [--pp 128]
        [--tg 64] [--threads 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_IMPORT = re.compile(r"\b(from|import) bench(?=[\s.])")


def import_base(base: Path) -> str:
    """Copy ``base/bench`` to a temporary ``bench_base`` package with its own imports renamed; its name."""
    dest = Path(tempfile.mkdtemp(prefix="engine-ab-")) / "bench_base"
    shutil.copytree(base / "bench", dest)
    for f in dest.rglob("*.py"):
        f.write_text(_IMPORT.sub(r"\1 bench_base", f.read_text()))
    sys.path.insert(0, str(dest.parent))
    return "bench_base"


class Side:
    """One tree's loaded backends and its three measurements."""

    def __init__(self, package: str, args: argparse.Namespace) -> None:
        def mod(name: str) -> ModuleType:
            return importlib.import_module(f"{package}.{name}")

        self.package = package
        self.args = args
        self.Generation = mod("backends.base").Generation
        self.BatchEngine = mod("backends.llama_batch").BatchEngine
        backend_cls = mod("backends.llama_cpp").LlamaCppBackend
        settings_cls = mod("devices.profiles").LlamaCppSettings
        self.derive_timing = mod("results.metrics").derive_timing
        self.Task = mod("suite.loader").Task
        model = mod("models.catalog").resolve_model("smollm2-135m")
        t = args.threads
        self.batched = {}
        for b in args.streams:
            backend = backend_cls(model, settings_cls(n_ctx=b * 512, n_threads=t), threads=t, n_seq=b)
            backend.load()
            self.batched[b] = backend
        self.single = backend_cls(
            model, settings_cls(n_ctx=2048, n_threads=t), threads=t, n_seq=max(args.streams), kv_unified=True
        )
        self.single.load()

    def shape(self, i: int, **s: int) -> Any:
        return self.Task.model_validate({"id": f"s{i}", "shape": s, "seed": i, "check": {"type": "none"}})

    def batched_tps(self, b: int) -> float:
        engine = self.BatchEngine(self.batched[b])
        try:
            gens = engine.run(
                [self.shape(i, prompt_tokens=self.args.pp, gen_tokens=self.args.tg) for i in range(b)]
            )
        finally:
            engine.close()
        done = [g for g in gens if isinstance(g, self.Generation)]
        assert len(done) == b and all(g.completion_tokens == self.args.tg for g in done), gens
        start, end = max(g.content_ns[0] for g in done), max(g.content_ns[-1] for g in done)
        return sum(len(g.content_ns) - 1 for g in done) / ((end - start) / 1e9)

    def single_tg_tps(self) -> float:
        g = self.single.generate(self.shape(0, prompt_tokens=0, gen_tokens=self.args.tg * 2))
        rate = self.derive_timing(
            g.t_dispatch_ns, g.content_ns, g.t_end_ns, g.completion_tokens, g.prompt_tokens
        )
        return float(rate.decode_tps)

    def parallel_s_tg_tps(self) -> float:
        b = max(self.args.streams)
        g = self.single.generate(
            self.shape(0, prompt_tokens=self.args.pp, gen_tokens=self.args.tg, parallel=b)
        )
        return float(b * self.args.tg / (g.extra["tg_ms"] / 1e3))

    def measurements(self) -> dict[str, Callable[[], float]]:
        out: dict[str, Callable[[], float]] = {
            f"batched_x{b}_tps": (lambda b=b: self.batched_tps(b)) for b in self.args.streams
        }
        out["single_tg_tps"] = self.single_tg_tps
        out[f"parallel_x{max(self.args.streams)}_s_tg_tps"] = self.parallel_s_tg_tps
        return out

    def close(self) -> None:
        for backend in (*self.batched.values(), self.single):
            backend.close()


def timed(measure: Callable[[], float]) -> tuple[float, float]:
    """(the measurement's rate, CPU ms of this thread while it ran)."""
    cpu0 = time.thread_time_ns()
    rate = measure()
    return rate, (time.thread_time_ns() - cpu0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="a folder holding the baseline's bench/ (A)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[4, 8])
    ap.add_argument("--pp", type=int, default=128)
    ap.add_argument("--tg", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    sides = {"A": Side(import_base(args.base), args), "B": Side("bench", args)}
    assert Path(importlib.import_module("bench").__file__ or "").parent == ROOT / "bench"  # B is this tree
    keys = list(sides["A"].measurements())
    values: dict[str, dict[str, list[float]]] = {
        s: {name: [] for k in keys for name in (k, f"{k}_cpu_ms")} for s in sides
    }
    loads: list[tuple[float, float]] = []
    try:
        for side in sides.values():  # warm-up: every path once on each side
            for measure in side.measurements().values():
                measure()
        for r in range(args.rounds):
            load_before = os.getloadavg()[0]
            for k in keys:
                for s in ("A", "B") if (r + keys.index(k)) % 2 == 0 else ("B", "A"):
                    rate, cpu_ms = timed(sides[s].measurements()[k])
                    values[s][k].append(rate)
                    values[s][f"{k}_cpu_ms"].append(cpu_ms)
            loads.append((load_before, os.getloadavg()[0]))
            print(f"round {r + 1} (load {load_before:.1f}): "
                  + "  ".join(f"{k} {values['B'][k][-1] / values['A'][k][-1]:.3f}"
                              f" (cpu {values['B'][k + '_cpu_ms'][-1] / values['A'][k + '_cpu_ms'][-1]:.3f})"
                              for k in keys), flush=True)  # fmt: skip
    finally:
        for side in sides.values():
            side.close()
    summary = {
        k: {
            "A_median": round(statistics.median(values["A"][k]), 2),
            "B_median": round(statistics.median(values["B"][k]), 2),
            "ratio_median": round(
                statistics.median(b / a for a, b in zip(values["A"][k], values["B"][k], strict=True)), 4
            ),
            "ratios": [round(b / a, 4) for a, b in zip(values["A"][k], values["B"][k], strict=True)],
        }
        for k in values["A"]
    }
    result = {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} logical CPUs, shared with other jobs (load average per round below)",
        "A": str(args.base),
        "B": str(ROOT),
        "pp": args.pp,
        "tg": args.tg,
        "threads": args.threads,
        "rounds": args.rounds,
        "summary": summary,
        "values": values,
        "load_1m_before_after": loads,
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
