"""A per-run summary computed inside the database: ``infercost report --store URL --summary``.

The full report reads every record back into Python (per-task tables, charts, outputs): seconds for
100,000 records. The summary asks the database for the headline figures of each run instead, in one SQL
statement both engines run, so a fleet's night or a month of one device answers in well under 2 s. Each
figure is the metric core's SQL for it (``bench.results.metrics.sql``): the same records and the same
aggregation as the report computes in Python, over the energy and cost derived when the bundle was
stored (``Store.write``'s ``derive``).
"""

from __future__ import annotations

from bench.results.db.filters import Where
from bench.results.db.store import QueryResult, Store
from bench.results.metrics.sql import ESTIMATED_SQL, figure_sql

__all__ = ["ID_COLUMNS", "SUMMARY_FIGURES", "summary"]

ID_COLUMNS = (
    ("started_utc", "started (UTC)"),
    ("run_id", "run"),
    ("device_name", "device"),
    ("model_name", "model"),
)
# registry fields, in table order (labels, units and formats come from the registry)
SUMMARY_FIGURES = (
    "n", "errors", "pass_rate", "cost_per_task_usd", "cost_per_success_usd", "energy_per_task_j",
    "ttft_p50_ms", "ttft_p95_ms", "e2e_p50_ms", "decode_tps_mean",
)  # fmt: skip


def summary(store: Store, where: Where) -> QueryResult:
    """One row per run: the identity columns, ``SUMMARY_FIGURES``, then ``energy_estimated``."""
    clause, params = where.sql("c")
    figures = ",\n       ".join(f"{figure_sql(name)} AS {name}" for name in SUMMARY_FIGURES)
    sql = f"""
SELECT c.started_utc, c.run_id, c.device_name, c.model_name,
       {figures},
       {ESTIMATED_SQL} AS energy_estimated
FROM current_runs c JOIN records rec ON rec.run_id = c.run_id AND rec.content_sha256 = c.content_sha256
WHERE {clause} AND NOT rec.warmup
GROUP BY c.started_utc, c.run_id, c.device_name, c.model_name
ORDER BY c.started_utc, c.run_id"""
    return store.query(sql, params)
