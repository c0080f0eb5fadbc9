"""The registry's figures as SQL aggregates, for a results database (``report --summary``, ``history``).

Each expression is built from the field's registry entry (aggregation, per-record column, population)
and the population's SQL predicate (``policy.Population.sql``), so a database computes a figure over the
same records, the same way, as ``aggregate.group_metrics`` does in Python: a test runs both over the same
records and compares every figure here. Percentiles are ``percentile_cont`` (linear interpolation, as
numpy's default). Both DuckDB and PostgreSQL accept every statement.

Figures that are not a plain aggregate of one column (intervals, standard deviations, throughput over a
window, agent shares) are not offered: a database view asks for the full report instead.
"""

from __future__ import annotations

from bench.results.metrics.policy import ATTEMPTS, POPULATIONS, TIMED
from bench.results.metrics.registry import FIELDS

__all__ = ["ESTIMATED_SQL", "SQL_FIGURES", "figure_sql", "sample_sql"]


def _where(population: str, alias: str, extra: str = "") -> str:
    cond = POPULATIONS[population].sql(alias)
    return f"FILTER (WHERE {cond}{' AND ' + extra if extra else ''})"


def _ratio_sql(name: str, a: str) -> str | None:
    att, timed = ATTEMPTS.name, TIMED.name
    tokens = f"sum({a}.completion_tokens) {_where(timed, a)}"
    cost = f"sum({a}.cost_usd) {_where(att, a)}"
    energy = f"sum({a}.energy_j) {_where(att, a)}"
    if name == "cost_per_success_usd":
        return f"{cost} / NULLIF(count(*) {_where(att, a, f'{a}.passed')}, 0)"
    if name == "usd_per_mtok_out":
        return f"{cost} / NULLIF({tokens}, 0) * 1e6"
    if name == "j_per_token":
        return f"{energy} / NULLIF({tokens}, 0)"
    if name == "energy_per_success_j":
        return f"{energy} / NULLIF(count(*) {_where(att, a, f'{a}.passed')}, 0)"
    if name == "avg_power_w":  # time-weighted: Σ energy / Σ (energy / power), as time_weighted_power
        both = f"{a}.energy_j <> 0 AND {a}.avg_power_w <> 0"
        return (
            f"sum({a}.energy_j) {_where(att, a, both)} / "
            f"NULLIF(sum({a}.energy_j / {a}.avg_power_w) {_where(att, a, both)}, 0)"
        )
    return None


_COUNT_CONDITION = {"n": "", "passed": "{a}.passed", "checked": "{a}.passed IS NOT NULL"}


def figure_sql(name: str, alias: str = "rec") -> str | None:
    """The SQL aggregate of registry field ``name`` over a ``records`` table aliased ``alias`` (grouped
    per run by the caller); None for a figure a database does not compute."""
    f = FIELDS[name]
    a = alias
    col = f"{a}.{f.sample}" if f.sample else None
    if f.agg == "count":
        if f.sample == "errored":
            return f"count(*) {_where(f.population, a, f'{a}.status <> ' + repr('ok'))}"
        if name in _COUNT_CONDITION:
            return f"count(*) {_where(f.population, a, _COUNT_CONDITION[name].format(a=a))}"
        return None
    if col is None:
        return _ratio_sql(name, a) if f.agg == "ratio" else None
    if f.agg == "mean":
        return f"avg({col}) {_where(f.population, a)}"
    if f.agg in ("p50", "p95"):
        q = 0.5 if f.agg == "p50" else 0.95
        return f"percentile_cont({q}) WITHIN GROUP (ORDER BY {col}) {_where(f.population, a)}"
    if f.agg == "rate":
        return f"avg(CASE WHEN {col} THEN 1.0 WHEN NOT {col} THEN 0.0 END) {_where(f.population, a)}"
    if f.agg == "sum":
        total = f"sum({col}) {_where(f.population, a)}"
        return f"coalesce({total}, 0)" if name == "completion_tokens_total" else total
    if f.agg == "max":
        return f"max({col}) {_where(f.population, a)}"
    return _ratio_sql(name, a)


SQL_FIGURES: tuple[str, ...] = tuple(name for name in FIELDS if figure_sql(name) is not None)

# whether any energy figure of the group rests on a model rather than a sensor (views mark it ≈)
ESTIMATED_SQL = (
    "coalesce(bool_or(rec.energy_source = 'estimated') "
    f"{_where(ATTEMPTS.name, 'rec', 'rec.energy_j IS NOT NULL')}, FALSE)"
)


def sample_sql(name: str, alias: str = "rec") -> str | None:
    """The per-record value behind registry field ``name`` (what ``aggregate.samples`` returns), as a
    SQL expression, and None for a field without one."""
    f = FIELDS[name]
    if f.sample is None:
        return None
    if f.sample == "errored":
        return f"CASE WHEN {alias}.status <> 'ok' THEN 1.0 ELSE 0.0 END"
    if f.agg == "rate":
        return f"CASE WHEN {alias}.{f.sample} THEN 1.0 WHEN NOT {alias}.{f.sample} THEN 0.0 END"
    return f"CAST({alias}.{f.sample} AS DOUBLE PRECISION)"
