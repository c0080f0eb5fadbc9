"""The metric core: every figure infercost shows, defined, counted and formatted in one place.

It sits at the results layer, below ``cost/``, ``report/``, ``ci/`` and the results database, so each of
them reads the same figures instead of re-deriving them (docs/architecture.md, "The metric core"):

- ``timing``: raw timestamps → TTFT, ITL, TPOT, decode and prefill rates of one request;
- ``policy``: which records a figure counts (warm-ups, errors, agent calls and summaries), in Python and SQL;
- ``registry``: the fields (name, unit, direction, aggregation, population, format) and the one vocabulary;
- ``aggregate`` and ``throughput``: records → figures per run, category and task, and per-record samples;
- ``agents``: per agent task rows; ``sql``: the same figures computed inside a results database;
- ``display``: dollars formatted one way, estimates marked one way (≈).

A field is added once, in ``registry``, and computed once, in ``aggregate`` (and ``sql`` where a database
can compute it); every view gains it.
"""

from bench.results.metrics.timing import TimingMetrics, derive_timing

__all__ = ["TimingMetrics", "derive_timing"]
