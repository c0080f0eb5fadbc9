"""A metric over time from a results database, with change points marked.

One row per run (the current version of each), oldest first: the run's figure for the metric, computed
by the database with the metric core's SQL (``bench.results.metrics.sql``: the same records and
aggregation the report uses, so a run's point equals its report's figure), and against the previous run of
the same device, the verdict of ``stats.compare_samples``: the Mann–Whitney U test on the raw per-record
samples plus the minimum effect that ``compare`` and the CI gate use. A *change point* is a run whose
change against the previous one is both significant and beyond the minimum effect.

Metric names are the field registry's (``decode_tps_mean``, ``ttft_p95_ms``, ``cost_per_task_usd``, ...);
the older per-record names (``decode_tps``, ``ttft_ms``, ``cost_usd``) are read as the registry's with a
deprecation warning (``registry.canonical``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.errors import UsageError
from bench.results import stats
from bench.results.db.filters import Where
from bench.results.db.store import Store
from bench.results.metrics.policy import POPULATIONS
from bench.results.metrics.registry import ALIASES, FIELDS, Field, canonical
from bench.results.metrics.sql import figure_sql, sample_sql

__all__ = ["METRICS", "HistoryPoint", "devices_of", "history", "history_metric"]

# every registry figure with a per-record sample that a database computes
METRICS: tuple[str, ...] = tuple(
    name
    for name, f in FIELDS.items()
    if sample_sql(name) is not None and figure_sql(name) is not None and f.agg != "sum"
)


def history_metric(name: str) -> tuple[Field, str | None]:
    """The registry field ``--metric NAME`` plots, and a deprecation warning for an older name."""
    new, warning = canonical(name)
    if new not in METRICS:
        old = ", ".join(k for k, v in ALIASES.items() if v in METRICS)
        raise UsageError(
            f"--metric {name}: unknown metric", fix=f"choose one of {', '.join(METRICS)} (older names: {old})"
        )
    return FIELDS[new], warning


@dataclass(frozen=True)
class HistoryPoint:
    run_id: str
    started_utc: str
    device: str
    model: str
    n: int  # per-record samples
    value: float  # the run's figure (what its report shows)
    mean: float  # of the samples
    median: float
    verdict: str  # against the previous run of the same device ("" for the first)
    change: float | None  # relative change of the figure against the previous run
    p_value: float | None
    change_point: bool


def history(
    store: Store,
    metric: str,
    where: Where,
    task: str | None = None,
    min_effect: float = 0.05,
    alpha: float = 0.05,
) -> list[HistoryPoint]:
    spec, _warning = history_metric(metric)
    sample, figure = sample_sql(spec.name), figure_sql(spec.name)
    assert sample is not None and figure is not None  # METRICS has both
    clause, params = where.sql()
    runs_sql = f"run_id IN (SELECT run_id FROM current_runs WHERE {clause})"
    task_sql, task_params = (" AND rec.task_id = ?", [task]) if task else ("", [])
    population = POPULATIONS[spec.population].sql("rec")
    rows = store.query(
        f"SELECT rec.run_id, {sample} FROM current_records rec WHERE {runs_sql}{task_sql} "
        f"AND {population} AND {sample} IS NOT NULL",
        [*params, *task_params],
    ).rows
    samples: dict[str, list[float]] = {}
    for run_id, v in rows:
        samples.setdefault(run_id, []).append(float(v))
    figures = {
        run_id: value
        for run_id, value in store.query(
            f"SELECT rec.run_id, {figure} FROM current_records rec WHERE {runs_sql}{task_sql} "
            "AND NOT rec.warmup GROUP BY rec.run_id",
            [*params, *task_params],
        ).rows
    }
    points: list[HistoryPoint] = []
    previous: dict[str, tuple[list[float], float]] = {}
    for run_id, _sha, started, device, model, *_ in store.runs(where).rows:
        values = samples.get(run_id)
        value = figures.get(run_id)
        if not values or value is None:
            continue
        value = float(value)
        arr = np.asarray(values)
        verdict, change, p, flagged = "", None, None, False
        prev = previous.get(device)
        if prev is not None:
            cmp = stats.compare_samples(
                prev[0],
                values,
                higher_is_better=spec.higher_is_better,
                min_effect=min_effect,
                alpha=alpha,
                words=spec.words,
            )
            verdict, p = cmp.verdict, cmp.p_value
            change = value / prev[1] - 1 if prev[1] else None
            flagged = cmp.significant and cmp.beyond_threshold
        points.append(
            HistoryPoint(
                run_id, str(started), str(device), str(model), arr.size, value, float(arr.mean()),
                float(np.median(arr)), verdict, change, p, flagged,
            )
        )  # fmt: skip
        previous[device] = (values, value)
    return points


def devices_of(points: Sequence[HistoryPoint]) -> list[str]:
    return list(dict.fromkeys(p.device for p in points))
