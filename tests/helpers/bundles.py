"""Result bundles of every kind, written on the spot, for the tests that compare views of one run.

Recorded fixtures (tests/fixtures/bundles) cover in-process and HTTP-priced-as-cloud runs; these add the
shapes no fixture has, built from records the way the runners write them: an agent run (model calls, tool
calls and one summary per task, with cache reads and writes priced by a token API that bills them), its
trace replay (the same shape, marked as a replay), a concurrent local run (overlapping request windows,
energy per request, prices) and a sweep over concurrency levels. Every number is a seeded draw;
``passes`` and ``errors`` force the edges (every task passes, none does, every request fails).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from bench.devices.profiles import load_device
from bench.results.bundle import BundleWriter
from bench.results.schema import Manifest, Record
from bench.results.sweep import SweepCell, SweepManifest, write_sweep

__all__ = ["LOCAL_DEVICE", "agent_bundle", "fixture_copy", "request_bundle", "sweep_of"]

FIXTURE_BUNDLES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"
# a local device with every price (the recorded fixture's), so cost, energy and break-even all exist
LOCAL_DEVICE: dict[str, Any] = {
    "name": "Cross-view desktop", "kind": "local", "backend": "llama_cpp", "price_usd": 1000.0,
    "lifetime_years": 3.0, "utilization": 0.5, "idle_w": 10.0, "max_w": 65.0, "wall_factor": 1.1,
    "kwh_usd": 0.16, "as_of": "2026-11-26", "source": "test values",
}  # fmt: skip


def fixture_copy(name: str, root: Path) -> Path:
    """A recorded fixture bundle copied under ``root`` (a test may write beside it)."""
    dest = root / name
    shutil.copytree(FIXTURE_BUNDLES / name, dest)
    return dest


def _manifest(run_id: str, device: dict[str, Any], **settings: Any) -> Manifest:
    model = "smollm2-135m"
    return Manifest(
        tool_version="0.1.0",
        run_id=run_id,
        started_utc="2026-11-26T00:00:00.000Z",
        finished_utc="2026-11-26T01:00:00.000Z",
        complete=True,
        anchor_perf_ns=0,
        host={"cpu_model": "test cpu"},
        device=device,
        model=None if device.get("kind") == "cloud" else {
            "catalog_name": model, "file_name": f"{model}.gguf", "sha256": hashlib.sha256(model.encode()).hexdigest(),
        },
        backend={"name": device.get("backend"), "model": device.get("model"), "settings": {"n_threads": 2}},
        suite={"name": "cross", "hash": "cross-hash", "n_tasks": 3},
        settings={"repetitions": 3, "warmup": 1, **settings},
    )  # fmt: skip


def _passed(rng: np.random.Generator, passes: str) -> bool:
    return {"all": True, "none": False}.get(passes, bool(rng.random() < 0.6))


def request_bundle(
    root: Path,
    run_id: str,
    *,
    device: dict[str, Any] | None = None,
    concurrency: int = 1,
    tasks: int = 3,
    reps: int = 3,
    passes: str = "some",
    errors: bool = False,
    energy: bool = True,
    seed: int = 0,
) -> Path:
    """Single-shot requests (warm-ups first), ``concurrency`` of them in flight at a time, each with
    sampled energy (``energy``) like the recorded fixtures; ``errors``: every measured request fails."""
    rng = np.random.default_rng(seed)
    dev = dict(device or LOCAL_DEVICE)
    extra = {"concurrency": concurrency} if concurrency > 1 else {}
    writer = BundleWriter(root / run_id, _manifest(run_id, dev, **extra))
    t = 0
    i = 0
    for rep in range(-1, reps):
        for task in range(tasks):
            warm = rep < 0
            wall_ms = float(rng.uniform(200, 600))
            start = t + (i % concurrency) * 10**6
            failed = errors and not warm
            out_tok = int(rng.integers(4, 40))
            ttft = float(rng.uniform(20, 80))
            e = float(rng.uniform(5, 15)) if energy and not failed else None
            writer.append(
                Record(
                    run_id=run_id, task_id=f"task-{task}", category=("qa", "code")[task % 2],
                    repetition=max(rep, 0), warmup=warm, status="error" if failed else "ok",
                    error="server closed the stream" if failed else None,
                    started_utc="2026-11-26T00:00:00.000Z", start_ns=start, end_ns=start + int(wall_ms * 1e6),
                    ttft_ms=None if failed else ttft, e2e_ms=wall_ms,
                    itl_ms=[] if failed else [float(x) for x in rng.uniform(5, 15, 3)],
                    decode_tps=None if failed else (out_tok - 1) / ((wall_ms - ttft) / 1e3),
                    prefill_tps=None if failed else 30 / (ttft / 1e3),
                    prompt_tokens=30, completion_tokens=None if failed else out_tok, token_count_source="engine",
                    passed=False if failed else _passed(rng, passes), output_text="answer",
                    energy_j=e, energy_net_j=None if e is None else e * 0.6,
                    energy_source=None if e is None else "sampled", avg_power_w=None if e is None else 30.0,
                )
            )  # fmt: skip
            i += 1
            if i % concurrency == 0:
                t = start + int(wall_ms * 1e6) + 10**6
    writer.close()
    return root / run_id


def agent_bundle(
    root: Path,
    run_id: str,
    *,
    device: str = "anthropic-claude-haiku-4.5",
    replay: bool = False,
    seed: int = 1,
) -> Path:
    """Agent tasks through a token API that bills cache reads and writes: per attempt two model calls
    (the second reads the first's prefix from the cache, the first writes it), one tool call between
    them, and the summary record with the sums; ``replay``: the same shape as a trace replay writes it."""
    rng = np.random.default_rng(seed)
    profile = load_device(device)
    dev = {**profile.public_dict(), "name": profile.name}
    extra = {"trace": "trace.jsonl"} if replay else {}
    manifest = _manifest(run_id, dev, **extra)
    writer = BundleWriter(root / run_id, manifest)
    t = 0
    for rep in range(-1, 3):
        for task in range(3):
            warm = rep < 0
            calls, tool_s, model_s = [], 0.0, 0.0
            t0 = t
            for step in range(2):
                wall = float(rng.uniform(300, 900))
                ttft = float(rng.uniform(40, 120))
                prompt = 400 + 150 * step
                cached = 380 if step else 0
                out_tok = int(rng.integers(8, 30))
                calls.append(
                    Record(
                        run_id=run_id, task_id=f"agent-{task}", category="agent", repetition=max(rep, 0),
                        warmup=warm, status="ok", started_utc="2026-11-26T00:00:00.000Z", kind="model", step=step,
                        start_ns=t, end_ns=t + int(wall * 1e6), ttft_ms=ttft, e2e_ms=wall, itl_ms=[7.0, 8.0],
                        decode_tps=(out_tok - 1) / ((wall - ttft) / 1e3), prompt_tokens=prompt,
                        cached_tokens=cached, cache_write_tokens=0 if step else 380, completion_tokens=out_tok,
                        token_count_source="usage",
                    )
                )  # fmt: skip
                model_s += wall / 1e3
                t += int(wall * 1e6)
                if step == 0:
                    tool = float(rng.uniform(5, 50))
                    calls.append(
                        Record(
                            run_id=run_id, task_id=f"agent-{task}", category="agent", repetition=max(rep, 0),
                            warmup=warm, status="ok", started_utc="2026-11-26T00:00:00.000Z", kind="tool",
                            step=step, tool_name="calculator", start_ns=t, end_ns=t + int(tool * 1e6),
                            e2e_ms=tool, tool_cpu_s=tool / 2e3,
                        )
                    )  # fmt: skip
                    tool_s += tool / 1e3
                    t += int(tool * 1e6)
            models = [c for c in calls if c.kind == "model"]
            prompt = sum(c.prompt_tokens or 0 for c in models)
            cached = sum(c.cached_tokens or 0 for c in models)
            wall_s = (t - t0) / 1e9
            for c in calls:
                writer.append(c)
            writer.append(
                Record(
                    run_id=run_id, task_id=f"agent-{task}", category="agent", repetition=max(rep, 0), warmup=warm,
                    status="ok", started_utc="2026-11-26T00:00:00.000Z", kind="agent", start_ns=t0, end_ns=t,
                    e2e_ms=wall_s * 1e3, prompt_tokens=prompt, cached_tokens=cached, cache_write_tokens=380,
                    completion_tokens=sum(c.completion_tokens or 0 for c in models), input_fresh_tokens=prompt - cached,
                    passed=bool(rng.random() < 0.7), steps=2, model_calls=2, tool_calls=1, tool_errors=0,
                    stop_reason="answer", wall_s=wall_s, model_s=model_s, tool_s=tool_s,
                    harness_s=max(wall_s - model_s - tool_s, 0.0), tool_cpu_s=tool_s / 2,
                )
            )  # fmt: skip
            t += 10**7
    writer.close()
    return root / run_id


def sweep_of(root: Path, levels: tuple[int, ...] = (1, 2), **kw: Any) -> Path:
    """A sweep directory over ``--concurrency`` levels, one ``request_bundle`` per cell."""
    cells = []
    for i, level in enumerate(levels):
        request_bundle(root / "cells", f"c{i:02d}", concurrency=level, seed=10 + i, **kw)
        cells.append(
            SweepCell(id=f"c{i:02d}", settings={"concurrency": level}, path=f"cells/c{i:02d}", status="done")
        )
    m = SweepManifest(
        sweep_id="cross-sweep", created_utc="2026-11-28T00:00:00Z", suite="cross", suite_hash="cross-hash",
        device="cross", axes={"concurrency": list(levels)}, order=[c.id for c in cells], seed=1, cells=cells,
    )  # fmt: skip
    write_sweep(root, m)
    return root
