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
from operator import attrgetter
from typing import Any

import numpy as np

from bench.results import stats
from bench.results.metrics.policy import ATTEMPTS, MEASURED, POPULATIONS, TIMED
from bench.results.metrics.registry import FIELDS
from bench.results.metrics.throughput import throughput_metrics
from bench.results.schema import Manifest, Record

__all__ = [
    "AGENT_FIELDS",
    "RecordColumns",
    "agent_metrics",
    "by_category",
    "by_task",
    "columns_metrics",
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


_FLOATS = (
    "decode_tps", "ttft_ms", "e2e_ms", "tpot_ms", "prefill_tps", "prompt_tokens", "completion_tokens",
    "cost_usd", "cost_energy_usd", "cost_hardware_usd", "cost_api_usd", "energy_j", "energy_net_j",
    "avg_power_w", "peak_rss_mb",
)  # fmt: skip
# fields whose absence (None) a figure tells apart from a recorded NaN: kept or summed only when present
_PRESENT = ("completion_tokens", "cost_usd", "energy_j", "avg_power_w", "peak_rss_mb")
_KIND_CODES = {None: 0, "model": 1, "tool": 2, "agent": 3}


class RecordColumns:
    """The fields the registry's figures read, each as one array over ``records`` (in order), and the
    populations of ``policy`` as masks over them: what ``group_metrics`` computes from.

    A report computes the figures of every run, every category and every task: built once per run, each
    group's figures are a few array operations over its mask, instead of some twenty passes over its
    records (the 100,000-record report, tests/benchmarks/bench_views.py). The figures are the ones the
    per-record passes gave, to the last bit (tests/results/test_metric_columns.py): the same values in the
    same order go to the same numpy reductions, and Python sums stay Python sums over the values."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        n = len(records)
        values = {name: list(map(attrgetter(name), records)) for name in _FLOATS}
        self.floats = {name: np.asarray(v, dtype=float) for name, v in values.items()}
        self.present = {
            name: np.fromiter((x is not None for x in values[name]), dtype=bool, count=n) for name in _PRESENT
        }
        self.kind = np.fromiter((_KIND_CODES[r.kind] for r in records), dtype=np.int8, count=n)
        self.measured = ~np.fromiter((r.warmup for r in records), dtype=bool, count=n)
        self.ok = np.fromiter((r.status == "ok" for r in records), dtype=bool, count=n)
        verdicts = [r.passed for r in records]
        self.judged = np.fromiter((v is not None for v in verdicts), dtype=bool, count=n)
        self.passed = np.fromiter((bool(v) for v in verdicts), dtype=bool, count=n)
        self.cost_source = np.asarray([r.cost_source for r in records], dtype=object)
        self.energy_source = np.asarray([r.energy_source for r in records], dtype=object)
        itl = [r.itl_ms for r in records]
        self.itl = np.fromiter(chain.from_iterable(itl), dtype=float)
        self.itl_len = np.fromiter(map(len, itl), dtype=np.intp, count=n)
        self.itl_start = np.cumsum(self.itl_len) - self.itl_len
        self._populations: dict[str, np.ndarray] = {}

    @classmethod
    def of(cls, records: Sequence[Record]) -> RecordColumns:
        return cls(records)

    def groups(self, field: str) -> dict[Any, np.ndarray]:
        """The measured records per value of ``field`` (a category, a task id), in first-seen order, as
        masks: the groups of ``by_category`` and ``by_task``."""
        values = list(map(attrgetter(field), self.records))
        measured = self.population(MEASURED.name)
        keys = dict.fromkeys(v for v, m in zip(values, measured.tolist(), strict=True) if m)
        at = {k: i for i, k in enumerate(keys)}
        codes = np.fromiter((at.get(v, -1) for v in values), dtype=np.intp, count=len(values))
        return {k: measured & (codes == i) for k, i in at.items()}

    def itl_of(self, where: np.ndarray) -> np.ndarray:
        """The inter-token gaps of the records ``where`` selects, in record order (gathered by their
        offsets: a task's figures touch its own gaps, not the whole run's)."""
        at = np.flatnonzero(where)
        lens = self.itl_len[at]
        ends = np.cumsum(lens)
        first = np.repeat(self.itl_start[at] - (ends - lens), lens)  # each gap's record's offset, shifted
        gaps: np.ndarray = self.itl[first + np.arange(first.size)]
        return gaps

    def population(self, name: str) -> np.ndarray:
        """``policy.POPULATIONS[name]`` as a mask over the records."""
        mask = self._populations.get(name)
        if mask is None:
            pop = POPULATIONS[name]
            mask = self.measured & np.isin(self.kind, [_KIND_CODES[k] for k in pop.kinds])
            mask = self._populations[name] = mask & self.ok if pop.ok_only else mask
        return mask


def group_metrics(records: Sequence[Record], *, intervals: bool = True) -> dict[str, Any]:
    """The registry's summary figures over ``records`` (any kinds; warm-ups are dropped here).

    Pass rate, cost and energy per task come from ``ATTEMPTS`` (an agent task once, by its summary);
    latency, rates and tokens per request from ``TIMED``. ``intervals=False`` skips the bootstrap of the
    decode rate (its CI fields are None): per-task rows, hundreds of groups whose tables show no interval.
    """
    return columns_metrics(RecordColumns.of(records), intervals=intervals)


def columns_metrics(
    columns: RecordColumns, where: np.ndarray | None = None, *, intervals: bool = True
) -> dict[str, Any]:
    """``group_metrics`` of the records ``where`` selects (a mask over ``columns.records``; None: all)."""
    c = columns
    attempts = c.population(ATTEMPTS.name)
    ok = c.population(TIMED.name)
    measured = c.population(MEASURED.name)
    if where is not None:
        attempts, ok, measured = attempts & where, ok & where, measured & where
    f, present = c.floats, c.present
    judged = attempts & c.judged
    passed = int(np.count_nonzero(judged & c.passed))
    checked = int(np.count_nonzero(judged))
    completion = f["completion_tokens"][ok & present["completion_tokens"]]
    out_tokens = int(sum(completion.tolist()))
    wilson = stats.wilson_interval(passed, checked)
    decode = stats.clean(f["decode_tps"][ok])
    ttft = stats.clean(f["ttft_ms"][ok])
    e2e = stats.clean(f["e2e_ms"][ok])
    itl = c.itl_of(ok)
    decode_ci = stats.mean_ci(decode) if intervals else None
    costs = f["cost_usd"][attempts & present["cost_usd"]].tolist()
    with_energy = attempts & present["energy_j"]
    energies = f["energy_j"][with_energy].tolist()
    cost_total = float(sum(costs)) if costs else None
    energy_total = float(sum(energies)) if energies else None
    rss = f["peak_rss_mb"][measured & present["peak_rss_mb"]].tolist()
    n = int(np.count_nonzero(attempts))
    agents = [c.records[i] for i in np.flatnonzero(attempts & (c.kind == _KIND_CODES["agent"])).tolist()]
    return {
        "n": n,
        "errors": int(np.count_nonzero(attempts & ~c.ok)),
        "pass_rate": (passed / checked) if checked else None,
        "pass_rate_ci_low": wilson[0] if wilson else None,
        "pass_rate_ci_high": wilson[1] if wilson else None,
        "passed": passed,
        "checked": checked,
        "ttft_p50_ms": stats.percentile(ttft, 50),
        "ttft_p95_ms": stats.percentile(ttft, 95),
        "ttft_mean_ms": stats.mean(ttft),
        "e2e_mean_ms": stats.mean(e2e),
        "e2e_p50_ms": stats.percentile(e2e, 50),
        "e2e_p95_ms": stats.percentile(e2e, 95),
        "itl_p50_ms": stats.percentile(itl, 50),
        "tpot_mean_ms": stats.mean(f["tpot_ms"][ok]),
        "decode_tps_mean": stats.mean(decode),
        "decode_tps_sd": stats.stdev(decode),
        "decode_tps_ci_low": decode_ci[0] if decode_ci else None,
        "decode_tps_ci_high": decode_ci[1] if decode_ci else None,
        "prefill_tps_mean": stats.mean(f["prefill_tps"][ok]),
        "prompt_tokens_mean": stats.mean(f["prompt_tokens"][ok]),
        "completion_tokens_mean": stats.mean(completion),
        "completion_tokens_total": out_tokens,
        "cost_per_task_usd": stats.mean(costs),
        "cost_per_success_usd": ratio(cost_total, passed),
        "usd_per_mtok_out": ratio(cost_total, out_tokens, 1e6),
        "energy_per_task_j": stats.mean(energies),
        "energy_per_success_j": ratio(energy_total, passed),
        "j_per_token": ratio(energy_total, out_tokens),
        "cost_total_usd": cost_total,
        "cost_energy_per_task_usd": stats.mean(f["cost_energy_usd"][attempts]),
        "cost_hardware_per_task_usd": stats.mean(f["cost_hardware_usd"][attempts]),
        "cost_api_per_task_usd": stats.mean(f["cost_api_usd"][attempts]),
        "cost_basis": "+".join(sorted({s for s in c.cost_source[attempts].tolist() if s})) or None,
        "peak_rss_mb": max(rss) if rss else None,
        **_columns_energy(c, with_energy),
        **agent_metrics(agents),
    }


def _columns_energy(c: RecordColumns, with_energy: np.ndarray) -> dict[str, Any]:
    """``energy_metrics`` of the attempts ``with_energy`` selects (those with an energy reading)."""
    f = c.floats
    energy, power = f["energy_j"], f["avg_power_w"]
    # time_weighted_power's pairs: energy and power both there and non-zero (a NaN counts, as in Python)
    timed = with_energy & (energy != 0) & c.present["avg_power_w"] & (power != 0)
    with np.errstate(over="ignore", invalid="ignore"):  # as Python's division: inf, or NaN for inf / inf
        seconds = sum((energy[timed] / power[timed]).tolist())
    sources = c.energy_source[with_energy].tolist()
    return {
        "energy_net_per_task_j": stats.mean(f["energy_net_j"][with_energy]),
        "avg_power_w": sum(energy[timed].tolist()) / seconds if seconds > 0 else None,
        "energy_estimated": "estimated" in sources if sources else None,
        "energy_sources": dict(Counter(str(s) for s in sources)),
    }


def run_metrics(
    records: Sequence[Record],
    manifest: Manifest,
    *,
    intervals: bool = True,
    columns: RecordColumns | None = None,
) -> dict[str, Any]:
    """A whole run's figures: ``group_metrics`` plus the serving figures over its measured window
    (throughput, and goodput under the run's own ``--slo-*`` objectives). ``columns``: the records'
    ``RecordColumns`` when the caller keeps them (a report's groups are masks over them)."""
    settings = manifest.settings
    return {
        **columns_metrics(columns if columns is not None else RecordColumns.of(records), intervals=intervals),
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
