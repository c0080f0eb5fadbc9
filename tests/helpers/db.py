"""Small real bundles for the database tests: written by ``BundleWriter``, with a chosen decode rate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record


def make_bundle(
    root: Path,
    run_id: str,
    *,
    device: str = "bench box",
    model: str = "smollm2-135m",
    started_utc: str = "2026-11-01T00:00:00.000Z",
    decode_tps: float = 100.0,
    n: int = 12,
    tasks: int = 3,
    seed: int = 0,
    complete: bool = True,
) -> Path:
    rng = np.random.default_rng(seed)
    manifest = Manifest(
        tool_version="0.1.0",
        run_id=run_id,
        started_utc=started_utc,
        finished_utc=started_utc,
        complete=complete,
        anchor_perf_ns=0,
        host={"cpu_model": "test cpu"},
        device={"name": device, "kind": "local", "backend": "llama_cpp"},
        model={"catalog_name": model, "file_name": f"{model}.gguf",
               "sha256": hashlib.sha256(model.encode()).hexdigest()},
        backend={"name": "llama_cpp", "settings": {"n_threads": 2}},
        suite={"name": "tiny", "hash": "tiny-hash", "n_tasks": tasks},
        settings={"repetitions": n // tasks, "warmup": 1},
        power={"sensor": "estimate", "rate_hz": 10, "idle_w": 3.0},
    )  # fmt: skip
    writer = BundleWriter(root / run_id, manifest)
    for i in range(n + tasks):
        warm = i < tasks
        tps = float(rng.normal(decode_tps, decode_tps * 0.02))
        writer.append(
            Record(
                run_id=run_id, task_id=f"task-{i % tasks}", category="c", repetition=i // tasks,
                warmup=warm, status="ok", started_utc=started_utc, start_ns=i * 10**6,
                end_ns=i * 10**6 + 5 * 10**5, ttft_ms=float(rng.uniform(5, 9)), e2e_ms=50.0,
                itl_ms=[1.5, 2.25, 3.0], decode_tps=tps, completion_tokens=16, passed=bool(i % 2),
                output_text=f"out {i} \u00e9\t|", engine_timings={"eval_ms": 1.25},
                retries=[{"attempt": 1, "error": "x"}] if i == tasks else None,
                energy_j=0.5, energy_source="estimated", avg_power_w=10.0,
            )
        )  # fmt: skip
    writer.manifest = manifest.model_copy(update={"complete": complete})
    writer.write_manifest()
    writer.close()
    return root / run_id
