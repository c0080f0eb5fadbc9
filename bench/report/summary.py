"""Records → the after-run summary: per category and overall, plus llama-bench rows for shapes suites.

Pure data in, plain JSON-able dicts out; the CLI renders them (terminal table or ``--json``).
Warmup records are excluded from every statistic. ``warnings`` carries the variability warnings
(``bench.results.variability``), each with its remedy.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from bench.cost.options import EnrichOptions
from bench.cost.pricing import cost_section
from bench.cost.roofline import roofline
from bench.power.records import rail_energies
from bench.report.energy import energy_metrics, power_summary, shape_energy
from bench.report.throughput import throughput_metrics
from bench.results import stats
from bench.results.schema import Manifest, ModelFacts, Record, call_level, task_level
from bench.results.variability import run_warnings

__all__ = ["agent_metrics", "agent_rows", "group_metrics", "llama_bench_rows", "summarize"]


def _ratio(num: float | None, den: float | None, scale: float = 1.0) -> float | None:
    if num is None or not den:
        return None
    return num / den * scale


def group_metrics(records: Sequence[Record], *, intervals: bool = True) -> dict[str, Any]:
    """The registry's summary metrics over measured (non-warmup) records.

    Cost and energy metrics are None when no record carries them (no cost model or power sensor ran):
    absent is never shown as zero. ``intervals=False`` skips the bootstrap of the decode rate (its CI
    fields are None): reports use it for per-task rows, hundreds of groups whose tables show no interval.
    """
    every = [r for r in records if not r.warmup]
    # agent tasks (docs/agents.md): pass rate, cost and energy per task from task-level records (single
    # requests and agent summaries); latency and tokens per request from call-level ones (single
    # requests and agent model calls). Without agent tasks both are every record, as before.
    measured = task_level(every)
    ok = [r for r in call_level(every) if r.status == "ok"]
    judged = [r for r in measured if r.passed is not None]
    passed = sum(1 for r in judged if r.passed)
    completion = [r.completion_tokens for r in ok if r.completion_tokens is not None]
    out_tokens = int(sum(completion))
    wilson = stats.wilson_interval(passed, len(judged))
    # each sample converted once (a 100,000-record report computes these for every run, category and task)
    decode = stats.clean([r.decode_tps for r in ok])
    ttft = stats.clean([r.ttft_ms for r in ok])
    e2e = stats.clean([r.e2e_ms for r in ok])
    itl = np.fromiter(chain.from_iterable(r.itl_ms for r in ok), dtype=float)
    decode_ci = stats.mean_ci(decode) if intervals else None
    costs = [r.cost_usd for r in measured if r.cost_usd is not None]
    energies = [r.energy_j for r in measured if r.energy_j is not None]
    cost_total = float(sum(costs)) if costs else None
    energy_total = float(sum(energies)) if energies else None
    return {
        "n": len(measured),
        "errors": sum(1 for r in measured if r.status != "ok"),
        "pass_rate": (passed / len(judged)) if judged else None,
        "pass_rate_ci_low": wilson[0] if wilson else None,
        "pass_rate_ci_high": wilson[1] if wilson else None,
        "passed": passed,
        "checked": len(judged),
        "ttft_p50_ms": stats.percentile(ttft, 50),
        "ttft_p95_ms": stats.percentile(ttft, 95),
        "ttft_mean_ms": stats.mean(ttft),
        "e2e_mean_ms": stats.mean(e2e),
        "e2e_p50_ms": stats.percentile(e2e, 50),
        "e2e_p95_ms": stats.percentile(e2e, 95),
        "itl_p50_ms": stats.percentile(itl, 50),
        "tpot_mean_ms": stats.mean(r.tpot_ms for r in ok),
        "decode_tps_mean": stats.mean(decode),
        "decode_tps_sd": stats.stdev(decode),
        "decode_tps_ci_low": decode_ci[0] if decode_ci else None,
        "decode_tps_ci_high": decode_ci[1] if decode_ci else None,
        "prefill_tps_mean": stats.mean(r.prefill_tps for r in ok),
        "prompt_tokens_mean": stats.mean(r.prompt_tokens for r in ok),
        "completion_tokens_mean": stats.mean(completion),
        "completion_tokens_total": out_tokens,
        "cost_per_task_usd": stats.mean(costs),
        "cost_per_success_usd": _ratio(cost_total, passed),
        "usd_per_mtok_out": _ratio(cost_total, out_tokens, 1e6),
        "energy_per_task_j": stats.mean(energies),
        "j_per_token": _ratio(energy_total, out_tokens),
        "cost_total_usd": cost_total,
        "cost_energy_per_task_usd": stats.mean(r.cost_energy_usd for r in measured),
        "cost_hardware_per_task_usd": stats.mean(r.cost_hardware_usd for r in measured),
        "cost_api_per_task_usd": stats.mean(r.cost_api_usd for r in measured),
        "cost_basis": "+".join(sorted({r.cost_source for r in measured if r.cost_source})) or None,
        **energy_metrics(measured),
        **agent_metrics(measured),
    }


def agent_metrics(measured: Sequence[Record]) -> dict[str, Any]:
    """Per agent task (summary records only; None without agent tasks): steps, where the time went and
    how much input came from the cache (cost per successful task is ``cost_per_success_usd``, which
    counts task-level records: an agent task once, with all its calls)."""
    agents = [r for r in measured if r.kind == "agent"]
    if not agents:
        return dict.fromkeys(AGENT_FIELDS)
    wall = sum(r.wall_s or 0.0 for r in agents)
    prompt = sum(r.prompt_tokens or 0 for r in agents)
    return {
        "steps_mean": stats.mean(r.steps for r in agents),
        "tool_calls_mean": stats.mean(r.tool_calls for r in agents),
        "tool_errors_total": sum(r.tool_errors or 0 for r in agents),
        "model_seconds_share": _ratio(sum(r.model_s or 0.0 for r in agents), wall),
        "tool_seconds_share": _ratio(sum(r.tool_s or 0.0 for r in agents), wall),
        "harness_seconds_share": _ratio(sum(r.harness_s or 0.0 for r in agents), wall),
        "tool_cpu_s_mean": stats.mean(r.tool_cpu_s for r in agents),
        "cached_input_share": _ratio(float(sum(r.cached_tokens or 0 for r in agents)), prompt),
        "input_fresh_tokens_mean": stats.mean(r.input_fresh_tokens for r in agents),
        "cached_tokens_mean": stats.mean(r.cached_tokens for r in agents),
        "agent_wall_mean_s": stats.mean(r.wall_s for r in agents),
    }


def _per_attempt(
    records: Sequence[Record], task_id: str, kind: str, energy: Sequence[float | None] | None = None
) -> float | None:
    """Mean over measured attempts of Σ energy of the task's ``kind`` records (None: no energy);
    ``energy`` gives each record's energy on one rail instead of its total."""
    totals: dict[int, float] = {}
    for i, r in enumerate(records):
        e = r.energy_j if energy is None else energy[i]
        if r.task_id == task_id and r.kind == kind and not r.warmup and e is not None:
            totals[r.repetition] = totals.get(r.repetition, 0.0) + e
    return stats.mean(totals.values()) if totals else None


def _energy_split(
    records: Sequence[Record], task_id: str, rs: Sequence[Record], rails: dict[str, list[float | None]]
) -> dict[str, Any]:
    """Where an agent task's energy went, per attempt: its model-call windows, its tool windows, the
    rest of the task (harness, gaps between calls), the idle baseline's share of it (what the machine
    draws doing nothing over the task's time: gross minus net), and the same split per sensor rail."""
    task = stats.mean(r.energy_j for r in rs)
    model = _per_attempt(records, task_id, "model")
    tool = _per_attempt(records, task_id, "tool")
    idle = stats.mean(
        r.energy_j - r.energy_net_j for r in rs if r.energy_j is not None and r.energy_net_j is not None
    )
    rest = None if task is None else max(task - (model or 0.0) - (tool or 0.0), 0.0)
    per_rail = {
        name: {
            "task": _per_attempt(records, task_id, "agent", values),
            "model": _per_attempt(records, task_id, "model", values),
            "tool": _per_attempt(records, task_id, "tool", values),
        }
        for name, values in rails.items()
    }
    return {
        "energy_model_j": model,
        "energy_tool_j": tool,
        "energy_harness_j": rest,
        "energy_idle_j": idle,
        "energy_rails_j": per_rail or None,
    }


def agent_rows(
    records: Sequence[Record], rails: dict[str, list[float | None]] | None = None
) -> list[dict[str, Any]]:
    """One row per agent task (means over its measured repetitions): what the after-run table prints.
    ``rails``: every record's energy per sensor rail (``bench.power.records.rail_energies``)."""
    rows = []
    agents = [r for r in records if r.kind == "agent" and not r.warmup]
    for task_id in dict.fromkeys(r.task_id for r in agents):
        rs = [r for r in agents if r.task_id == task_id]
        costs = [r.cost_usd for r in rs if r.cost_usd is not None]
        passed = sum(1 for r in rs if r.passed)
        rows.append(
            {
                "task_id": task_id,
                "category": rs[0].category,
                "n": len(rs),
                "passed": passed,
                "stop_reasons": sorted({r.stop_reason for r in rs if r.stop_reason}),
                **{
                    name: stats.mean(getattr(r, name) for r in rs)
                    for name in (
                        "steps",
                        "model_calls",
                        "tool_calls",
                        "tool_errors",
                        "input_fresh_tokens",
                        "cached_tokens",
                        "completion_tokens",
                        "wall_s",
                        "model_s",
                        "tool_s",
                        "harness_s",
                        "tool_cpu_s",
                        "energy_j",
                    )
                },
                "tool_peak_rss_mb": max((r.tool_peak_rss_mb for r in rs if r.tool_peak_rss_mb), default=None),
                **_energy_split(records, task_id, rs, rails or {}),
                "cost_per_task_usd": stats.mean(costs),
                "cost_per_success_usd": _ratio(float(sum(costs)), passed) if costs else None,
            }
        )
    return rows


AGENT_FIELDS = (
    "steps_mean", "tool_calls_mean", "tool_errors_total", "model_seconds_share", "tool_seconds_share",
    "harness_seconds_share", "tool_cpu_s_mean", "cached_input_share", "input_fresh_tokens_mean",
    "cached_tokens_mean", "agent_wall_mean_s",
)  # fmt: skip


def _shape_rate(r: Record) -> float | None:
    """The rate llama-bench reports for the record's test: pp → prefill, tg → decode, pp+tg → total."""
    if r.shape is None:
        return None
    if "+" in r.shape:
        if r.e2e_ms and r.prompt_tokens is not None and r.completion_tokens is not None:
            return (r.prompt_tokens + r.completion_tokens) / (r.e2e_ms / 1e3)
        return None
    if r.shape.startswith("pp"):
        return r.prefill_tps
    return r.decode_tps


def _params_label(n: int | None) -> str:
    if not n:
        return "?"
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.2f} M"


def llama_bench_rows(records: Sequence[Record], manifest: Manifest) -> list[dict[str, Any]]:
    """``model | size | params | backend | threads | test | t/s ± sd``, one row per shape."""
    model = manifest.model or ModelFacts()
    backend = manifest.backend
    settings = backend.settings
    gpu = settings.get("n_gpu_layers", 0) not in (0, None) and backend.gpu_offload_supported
    size = model.tensor_bytes or model.size_bytes
    rows = []
    shapes = list(dict.fromkeys(r.shape for r in records if r.shape))
    for shape in shapes:
        rates = [_shape_rate(r) for r in records if r.shape == shape and not r.warmup and r.status == "ok"]
        rows.append(
            {
                "model": f"{model.architecture or '?'} {_params_label(model.n_params)} "
                f"{model.quantization or '?'}".strip()
                if manifest.model
                else str(backend.model),  # an endpoint: its model name
                "size": f"{size / 2**20:.2f} MiB" if size else "?",
                "params": _params_label(model.n_params),
                "backend": "HTTP"
                if backend.name in ("openai_http", "anthropic_messages")
                else ("GPU" if gpu else "CPU"),
                "threads": settings.get("n_threads", "–"),
                "test": shape,
                "tps_mean": stats.mean(rates),
                "tps_sd": stats.stdev(rates),
                "n": len([x for x in rates if x is not None]),
                **shape_energy([r for r in records if r.shape == shape and not r.warmup]),
            }
        )
    return rows


def summarize(
    records: Sequence[Record],
    manifest: Manifest,
    run_dir: str | None = None,
    options: EnrichOptions | None = None,
) -> dict[str, Any]:
    """The after-run summary; ``options`` (``EnrichOptions``) are the reader's price/bandwidth overrides."""
    categories = list(dict.fromkeys(r.category for r in records))
    out: dict[str, Any] = {
        "run_id": manifest.run_id,
        "run_dir": run_dir,
        "complete": manifest.complete,
        "suite": manifest.suite.name,
        "suite_hash": manifest.suite.hash,
        "model": (manifest.model.file_name if manifest.model else None) or manifest.backend.model,
        "device": manifest.device.get("name"),
        "prompt_format": manifest.backend.prompt_format,
        "agent_protocol": manifest.backend.agent_protocol,
        "power": power_summary(records, manifest),
        "overall": {
            **group_metrics(records),
            **throughput_metrics(records, manifest.settings.slo_ttft_ms, manifest.settings.slo_tpot_ms),
        },
        "by_category": {c: group_metrics([r for r in records if r.category == c]) for c in categories},
    }
    if manifest.suite.is_shapes:
        out["shapes"] = llama_bench_rows(records, manifest)
    if any(r.parallel_seqs for r in records):  # parallel shapes: llama-batched-bench's table too
        from bench.report.batched_view import batched_rows

        out["batched"] = batched_rows(records)
    if any(r.kind == "agent" for r in records):
        rails = rail_energies(list(records), manifest, Path(run_dir)) if run_dir else {}
        out["agents"] = agent_rows(records, rails)
    out["cost"] = cost_section(records, manifest, options)
    out["roofline"] = roofline(records, manifest, options)
    out["warnings"] = [w.as_dict() for w in run_warnings(records, manifest)]
    return out
