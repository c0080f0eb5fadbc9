"""Write SYNTHETIC result bundles of any size, for benchmarking the report (never for published figures).

Every bundle this writes says so three times: the run id starts with ``synthetic-``, the device is named
"SYNTHETIC ...", and ``manifest.settings.synthetic`` is true (reports print a banner for it). The numbers
are random draws (seeded) shaped like real runs: lognormal latencies, per-token gaps, a per-task pass
probability, estimated energy and cost, a power trace.

    python tests/benchmarks/synthetic_bundle.py OUT_DIR [--records 25000] [--tasks 25] [--runs 4]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.results.schema import Manifest  # noqa: E402

CATEGORIES = ["factual", "reasoning", "code", "extraction", "summary", "math", "format", "completion"]
# (model label, device label, relative speed, J per token, $ per kWh-ish scale)
VARIANTS = [
    ("synthetic-model-a", "SYNTHETIC device X", 1.0, 0.02),
    ("synthetic-model-b", "SYNTHETIC device X", 0.6, 0.035),
    ("synthetic-model-a", "SYNTHETIC device Y", 1.7, 0.05),
    ("synthetic-model-b", "SYNTHETIC device Y", 1.1, 0.08),
]


def write_bundle(out: Path, index: int, n_records: int, n_tasks: int, seed: int = 7) -> Path:
    model, device, speed, j_per_tok = VARIANTS[index % len(VARIANTS)]
    rng = np.random.default_rng(seed + index)
    run_id = f"synthetic-{index:02d}-{model}-{device.split()[-1].lower()}"
    run_dir = out / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(model.encode()).hexdigest()
    manifest = Manifest(
        tool_version="0.1.0",
        run_id=run_id,
        started_utc="2026-11-26T00:00:00.000Z",
        finished_utc="2026-11-26T06:00:00.000Z",
        complete=True,
        anchor_perf_ns=0,
        command=["synthetic_bundle.py"],
        host={"cpu_model": "SYNTHETIC", "os": "none", "cpu_logical": 0, "memory_gb": 0},
        device={
            "name": device,
            "kind": "local",
            "backend": "llama_cpp",
            "price_usd": 600.0 * (1 + index % 2),
            "lifetime_years": 3.0,
            "utilization": 0.5,
            "idle_w": 5.0,
            "wall_factor": 1.1,
            "kwh_usd": 0.16,
            "memory_bandwidth_gbs": 120.0,
            "as_of": "2026-11-26",
            "source": "synthetic",
        },
        model={"file_name": f"{model}.gguf", "sha256": sha, "tensor_bytes": 200_000_000},
        backend={"name": "llama_cpp", "engine_version": "synthetic", "settings": {"n_threads": 2}},
        suite={"name": "synthetic", "hash": "synthetic-suite", "n_tasks": n_tasks, "is_shapes": False},
        settings={"repetitions": n_records // n_tasks, "warmup": 0, "no_text": False, "synthetic": True},
        power={"sensor": "estimate", "rate_hz": 10, "idle_w": 5.0},
        counts={"records": n_records, "measured": n_records, "errors": 0},
    )
    (run_dir / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    pass_p = rng.uniform(0.2, 0.95, n_tasks)
    reps = max(1, n_records // n_tasks)
    t_ns = 0
    power_rows: list[tuple[int, float]] = []
    with (run_dir / "records.jsonl").open("w", encoding="utf-8") as f:
        for i in range(n_records):
            task = i // reps % n_tasks
            n_out = int(rng.integers(4, 48))
            ttft = float(rng.lognormal(np.log(60 / speed), 0.4))
            itl = (rng.lognormal(np.log(9 / speed), 0.15, n_out - 1)).round(4).tolist()
            e2e = ttft + float(sum(itl))
            decode = (n_out - 1) / ((e2e - ttft) / 1e3)
            energy = j_per_tok * n_out * float(rng.uniform(0.9, 1.1))
            failed = rng.random() < 0.002
            rec = {
                "run_id": run_id,
                "task_id": f"task-{task:03d}",
                "category": CATEGORIES[task % len(CATEGORIES)],
                "repetition": i % reps,
                "warmup": False,
                "status": "error" if failed else "ok",
                "error": "synthetic error" if failed else None,
                "started_utc": "2026-11-26T00:00:00.000Z",
                "start_ns": t_ns,
                "end_ns": t_ns + int(e2e * 1e6),
                "ttft_ms": ttft,
                "e2e_ms": e2e,
                "itl_ms": itl,
                "tpot_ms": (e2e - ttft) / (n_out - 1),
                "decode_tps": decode,
                "prefill_tps": 40 / (ttft / 1e3),
                "prompt_tokens": 40,
                "completion_tokens": n_out,
                "token_count_source": "engine",
                "passed": False if failed else bool(rng.random() < pass_p[task]),
                "output_text": f"synthetic output {i}",
                "energy_j": energy,
                "energy_net_j": energy * 0.8,
                "energy_source": "estimated",
                "avg_power_w": energy / (e2e / 1e3),
                "cost_usd": energy / 3.6e6 * 0.16 * 1.1 + 600 / (3 * 8760 * 0.5) * e2e / 3.6e6,
            }
            f.write(json.dumps(rec) + "\n")
            if i % 50 == 0:
                power_rows.append((t_ns, 5.0 + energy / (e2e / 1e3)))
            t_ns += int(e2e * 1e6) + 100_000
    with (run_dir / "power.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["t_ns", "power_w"])
        w.writerows(power_rows)
    return run_dir


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--records", type=int, default=25_000, help="records per bundle")
    p.add_argument("--tasks", type=int, default=25)
    p.add_argument("--runs", type=int, default=4)
    a = p.parse_args()
    for i in range(a.runs):
        print(write_bundle(a.out, i, a.records, a.tasks))


if __name__ == "__main__":
    main()
