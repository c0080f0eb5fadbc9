"""A metric over time from a results database, with change points marked.

One row per run (the current version of each), oldest first: the run's mean of the metric over its
measured requests (warmups excluded; latencies and rates from successful requests only), and against the
previous run of the same device, the verdict of ``stats.compare_samples``: the Mann–Whitney U test on the
raw per-request samples plus the minimum effect that ``compare`` and the CI gate use. A *change point* is
a run whose change against the previous one is both significant and beyond the minimum effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.errors import UsageError
from bench.results import stats
from bench.results.db.filters import Where
from bench.results.db.store import Store

__all__ = ["METRICS", "HistoryMetric", "HistoryPoint", "history"]


@dataclass(frozen=True)
class HistoryMetric:
    column: str  # a records column
    label: str
    unit: str
    higher_is_better: bool | None
    ok_only: bool  # only successful requests carry it meaningfully
    words: tuple[str, str] = ("better", "worse")


_FAST, _LEAN, _CHEAP = ("faster", "slower"), ("leaner", "hungrier"), ("cheaper", "costlier")
# fmt: off
METRICS: dict[str, HistoryMetric] = {
    "decode_tps":        HistoryMetric("decode_tps", "decode", "tok/s", True, True, _FAST),
    "prefill_tps":       HistoryMetric("prefill_tps", "prefill", "tok/s", True, True, _FAST),
    "ttft_ms":           HistoryMetric("ttft_ms", "TTFT", "ms", False, True, _FAST),
    "e2e_ms":            HistoryMetric("e2e_ms", "end to end", "ms", False, True, _FAST),
    "tpot_ms":           HistoryMetric("tpot_ms", "time per output token", "ms", False, True, _FAST),
    "completion_tokens": HistoryMetric("completion_tokens", "output tokens", "tok", None, True),
    "energy_j":          HistoryMetric("energy_j", "energy per task", "J", False, False, _LEAN),
    "avg_power_w":       HistoryMetric("avg_power_w", "power", "W", False, False, _LEAN),
    "cost_usd":          HistoryMetric("cost_usd", "cost per task", "USD", False, False, _CHEAP),
    "pass_rate":         HistoryMetric("passed", "pass rate", "", True, False),
    "peak_rss_mb":       HistoryMetric("peak_rss_mb", "peak RSS", "MB", False, False, _LEAN),
}
# fmt: on


@dataclass(frozen=True)
class HistoryPoint:
    run_id: str
    started_utc: str
    device: str
    model: str
    n: int
    mean: float
    median: float
    verdict: str  # against the previous run of the same device ("" for the first)
    change: float | None  # relative change of the mean against the previous run
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
    spec = METRICS.get(metric)
    if spec is None:
        raise UsageError(f"--metric {metric}: unknown metric", fix=f"choose one of {', '.join(METRICS)}")
    clause, params = where.sql()
    conds = ["NOT warmup", f"{spec.column} IS NOT NULL"]
    if spec.ok_only:
        conds.append("status = 'ok'")
    if task:
        conds.append("task_id = ?")
    value = f"CAST({spec.column} AS DOUBLE PRECISION)"
    sql = (
        f"SELECT run_id, {value} FROM current_records WHERE run_id IN "
        f"(SELECT run_id FROM current_runs WHERE {clause}) AND {' AND '.join(conds)}"
    )
    samples: dict[str, list[float]] = {}
    rows = store.query(sql, [*params, *([task] if task else [])]).rows
    for run_id, v in rows:
        samples.setdefault(run_id, []).append(float(v))
    runs = store.runs(where).rows
    points: list[HistoryPoint] = []
    previous: dict[str, list[float]] = {}
    for run_id, _sha, started, device, model, *_ in runs:
        values = samples.get(run_id)
        if not values:
            continue
        arr = np.asarray(values)
        verdict, change, p, flagged = "", None, None, False
        prev = previous.get(device)
        if prev is not None:
            cmp = stats.compare_samples(
                prev,
                values,
                higher_is_better=spec.higher_is_better,
                min_effect=min_effect,
                alpha=alpha,
                words=spec.words,
            )
            verdict, change, p = cmp.verdict, cmp.change, cmp.p_value
            flagged = cmp.significant and cmp.beyond_threshold
        points.append(
            HistoryPoint(
                run_id, str(started), str(device), str(model), arr.size, float(arr.mean()),
                float(np.median(arr)), verdict, change, p, flagged,
            )
        )  # fmt: skip
        previous[device] = values
    return points


def devices_of(points: Sequence[HistoryPoint]) -> list[str]:
    return list(dict.fromkeys(p.device for p in points))
