"""A per-run summary computed inside the database: ``infercost report --store URL --summary``.

The full report reads every record back into Python (per-task tables, charts, outputs): seconds for
100,000 records. The summary asks the database for the headline figures of each run instead (counts,
pass rate, mean decode rate, TTFT and end-to-end percentiles, energy and cost per task), in one SQL
statement both engines run, so a fleet's night or a month of one device answers in well under 2 s.
Warmups are excluded; latencies and rates count successful requests only (as the report does).
"""

from __future__ import annotations

from bench.results.db.filters import Where
from bench.results.db.store import QueryResult, Store

__all__ = ["SUMMARY_COLUMNS", "summary"]

# (column, label, format)
SUMMARY_COLUMNS = (
    ("started_utc", "started (UTC)", "{}"),
    ("run_id", "run", "{}"),
    ("device_name", "device", "{}"),
    ("model_name", "model", "{}"),
    ("n", "n", "{:,}"),
    ("errors", "errors", "{:,}"),
    ("pass_rate", "pass", "{:.0%}"),
    ("decode_tps_mean", "decode tok/s", "{:.1f}"),
    ("ttft_p50_ms", "TTFT p50 ms", "{:.1f}"),
    ("ttft_p95_ms", "TTFT p95 ms", "{:.1f}"),
    ("e2e_p50_ms", "e2e p50 ms", "{:.0f}"),
    ("energy_per_task_j", "J/task", "{:.3g}"),
    ("cost_per_task_usd", "USD/task", "{:.3g}"),
)


def _pct(q: float, column: str) -> str:
    return f"percentile_cont({q}) WITHIN GROUP (ORDER BY {column}) FILTER (WHERE status = 'ok')"


def summary(store: Store, where: Where) -> QueryResult:
    clause, params = where.sql("c")
    sql = f"""
SELECT c.started_utc, c.run_id, c.device_name, c.model_name,
       count(*) AS n,
       count(*) FILTER (WHERE rec.status <> 'ok') AS errors,
       avg(CASE WHEN rec.passed THEN 1.0 WHEN NOT rec.passed THEN 0.0 END) AS pass_rate,
       avg(rec.decode_tps) FILTER (WHERE rec.status = 'ok') AS decode_tps_mean,
       {_pct(0.5, "rec.ttft_ms")} AS ttft_p50_ms,
       {_pct(0.95, "rec.ttft_ms")} AS ttft_p95_ms,
       {_pct(0.5, "rec.e2e_ms")} AS e2e_p50_ms,
       avg(rec.energy_j) AS energy_per_task_j,
       avg(rec.cost_usd) AS cost_per_task_usd
FROM current_runs c JOIN records rec ON rec.run_id = c.run_id AND rec.content_sha256 = c.content_sha256
WHERE {clause} AND NOT rec.warmup
GROUP BY c.started_utc, c.run_id, c.device_name, c.model_name
ORDER BY c.started_utc, c.run_id"""
    return store.query(sql, params)
