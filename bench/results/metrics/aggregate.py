"""Records → the registry's figures, per run, category, task and agent task.

The one place a summary figure is computed: the run summary, every report format, gate rules, ``choose``,
the sweep table, the pytest plugin and break-even's pass rate all call these functions (pyperf computes
its mean and percentiles only in ``Benchmark`` and everything else calls it; so do we). Which records
each figure counts is the policy of ``bench.results.metrics.policy``; warm-ups never count. Absent stays
None (no cost model or power sensor ran), never zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

import numpy as np

from bench.results import stats
from bench.results.metrics.policy import ATTEMPTS, MEASURED, POPULATIONS, TIMED
from bench.results.metrics.registry import FIELDS
from bench.results.metrics.throughput import throughput_metrics
from bench.results.schema import Manifest, Record

__all__ = [
    "AGENT_FIELDS",
    "agent_metrics",
    "by_category",
    "by_task",
    "energy_metrics",
    "group_metrics",
    "ratio",
    "run_metrics",
    "samples",
    "time_weighted_power",
]


def ratio(num: float | None, den: float | None, scale: float = 1.0) -> float | None:
    """num / den × scale; None when either is absent or the denominator is zero."""
    if num is None or not den:
        return None
    return num / den * scale


def group_metrics(records: Sequence[Record], *, intervals: bool = True) -> dict[str, Any]:
    """The registry's summary figures over ``records`` (any kinds; warm-ups are dropped here).

    Pass rate, cost and energy per task come from ``ATTEMPTS`` (an agent task once, by its summary);
    latency, rates and tokens per request from ``TIMED``. ``intervals=False`` skips the bootstrap of the
    decode rate (its CI fields are None): per-task rows, hundreds of groups whose tables show no interval.
    """
    attempts = ATTEMPTS.select(records)
    ok = TIMED.select(records)
    judged = [r for r in attempts if r.passed is not None]
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
    costs = [r.cost_usd for r in attempts if r.cost_usd is not None]
    energies = [r.energy_j for r in attempts if r.energy_j is not None]
    cost_total = float(sum(costs)) if costs else None
    energy_total = float(sum(energies)) if energies else None
    rss = [r.peak_rss_mb for r in MEASURED.select(records) if r.peak_rss_mb is not None]
    return {
        "n": len(attempts),
        "errors": sum(1 for r in attempts if r.status != "ok"),
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
        "cost_per_success_usd": ratio(cost_total, passed),
        "usd_per_mtok_out": ratio(cost_total, out_tokens, 1e6),
        "energy_per_task_j": stats.mean(energies),
        "energy_per_success_j": ratio(energy_total, passed),
        "j_per_token": ratio(energy_total, out_tokens),
        "cost_total_usd": cost_total,
        "cost_energy_per_task_usd": stats.mean(r.cost_energy_usd for r in attempts),
        "cost_hardware_per_task_usd": stats.mean(r.cost_hardware_usd for r in attempts),
        "cost_api_per_task_usd": stats.mean(r.cost_api_usd for r in attempts),
        "cost_basis": "+".join(sorted({r.cost_source for r in attempts if r.cost_source})) or None,
        "peak_rss_mb": max(rss) if rss else None,
        **energy_metrics(attempts),
        **agent_metrics(attempts),
    }


def run_metrics(records: Sequence[Record], manifest: Manifest, *, intervals: bool = True) -> dict[str, Any]:
    """A whole run's figures: ``group_metrics`` plus the serving figures over its measured window
    (throughput, and goodput under the run's own ``--slo-*`` objectives)."""
    settings = manifest.settings
    return {
        **group_metrics(records, intervals=intervals),
        **throughput_metrics(records, settings.slo_ttft_ms, settings.slo_tpot_ms),
    }


def time_weighted_power(records: Iterable[Record]) -> float | None:
    pairs = [(r.energy_j, r.energy_j / r.avg_power_w) for r in records if r.energy_j and r.avg_power_w]
    seconds = sum(t for _, t in pairs)
    return sum(e for e, _ in pairs) / seconds if seconds > 0 else None


def energy_metrics(attempts: Sequence[Record]) -> dict[str, Any]:
    """Energy figures beyond ``energy_per_task_j``/``j_per_token``, and whether any is an estimate
    (``energy_estimated``: every view marks such figures ≈)."""
    with_energy = [r for r in attempts if r.energy_j is not None]
    return {
        "energy_net_per_task_j": stats.mean(r.energy_net_j for r in with_energy),
        "avg_power_w": time_weighted_power(with_energy),
        "energy_estimated": any(r.energy_source == "estimated" for r in with_energy) if with_energy else None,
        "energy_sources": dict(Counter(str(r.energy_source) for r in with_energy)),
    }


AGENT_FIELDS = (
    "steps_mean", "tool_calls_mean", "tool_errors_total", "model_seconds_share", "tool_seconds_share",
    "harness_seconds_share", "tool_cpu_s_mean", "cached_input_share", "input_fresh_tokens_mean",
    "cached_tokens_mean", "agent_wall_mean_s",
)  # fmt: skip


def _total(values: Iterable[int | None]) -> int | None:
    """Σ of the values given; None when none is (not recorded is not zero)."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def agent_metrics(attempts: Sequence[Record]) -> dict[str, Any]:
    """Per agent task (summary records only; None without agent tasks): steps, where the time went and
    how much input came from the cache."""
    agents = [r for r in attempts if r.kind == "agent"]
    if not agents:
        return dict.fromkeys(AGENT_FIELDS)
    wall = sum(r.wall_s or 0.0 for r in agents)
    prompt = sum(r.prompt_tokens or 0 for r in agents)
    return {
        "steps_mean": stats.mean(r.steps for r in agents),
        "tool_calls_mean": stats.mean(r.tool_calls for r in agents),
        "tool_errors_total": _total(r.tool_errors for r in agents),
        "model_seconds_share": ratio(sum(r.model_s or 0.0 for r in agents), wall),
        "tool_seconds_share": ratio(sum(r.tool_s or 0.0 for r in agents), wall),
        "harness_seconds_share": ratio(sum(r.harness_s or 0.0 for r in agents), wall),
        "tool_cpu_s_mean": stats.mean(r.tool_cpu_s for r in agents),
        "cached_input_share": ratio(float(sum(r.cached_tokens or 0 for r in agents)), prompt),
        "input_fresh_tokens_mean": stats.mean(r.input_fresh_tokens for r in agents),
        "cached_tokens_mean": stats.mean(r.cached_tokens for r in agents),
        "agent_wall_mean_s": stats.mean(r.wall_s for r in agents),
    }


def by_category(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Measured records per category, in first-seen order (every kind: the figures pick their own)."""
    out: dict[str, list[Record]] = {}
    for r in MEASURED.select(records):
        out.setdefault(r.category, []).append(r)
    return out


def by_task(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Measured records per task id, in suite order (every kind: an agent task's calls and summary)."""
    out: dict[str, list[Record]] = {}
    for r in MEASURED.select(records):
        out.setdefault(r.task_id, []).append(r)
    return out


def _sample_value(r: Record, attr: str) -> float | None:
    if attr == "errored":
        return float(r.status != "ok")
    value = getattr(r, attr)
    return None if value is None else float(value)


def samples(name: str, records: Sequence[Record]) -> list[float]:
    """The per-record values behind registry field ``name`` over its population (yes/no as 1/0; absent
    values left out): what ``compare`` and relative gate rules test and what history plots. Empty for a
    field without a per-record value (a ratio of sums)."""
    f = FIELDS[name]
    if f.sample is None:
        return []
    values = (_sample_value(r, f.sample) for r in POPULATIONS[f.population].select(records))
    return [v for v in values if v is not None]
