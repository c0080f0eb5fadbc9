"""Public benchmarks in reports: where a suite came from, and its quality figure per benchmark category.

A run of ``--suite humaneval`` or ``--suite bfcl-...`` records its source (package, version, licence,
category, prompt style) and the part of it that ran (``--tasks``, ``--sample``, ``--seed``) in the
manifest. Every view names them with ``source_text``; reports add one table, a row per run and
benchmark category: pass rate with its 95% Wilson interval next to $/success and J/success, from the
same category frame as the per-category table (so the figures are the same figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.report.tables import TextTable, metric_table
from bench.results.schema import Manifest

__all__ = ["BENCHMARK_COLUMNS", "benchmark_table", "source_text", "subset_text"]

BENCHMARK_COLUMNS = ["n", "pass_rate", "cost_per_success_usd", "energy_per_success_j", "errors"]


def subset_text(manifest: Manifest) -> str:
    """``20 of 164 tasks (--sample 20, seed 42)``, or ``all 164 tasks``."""
    subset = manifest.suite.subset
    if subset is None:
        return f"all {manifest.suite.n_tasks or '?'} tasks"
    how = []
    if subset.tasks:
        how.append(f"--tasks {subset.tasks}")
    if subset.sample is not None:
        how.append(f"--sample {subset.sample}, seed {subset.seed}")
    return f"{subset.n_selected} of {subset.n_total} tasks ({'; '.join(how)})"


def source_text(manifest: Manifest) -> str | None:
    """One line naming a public benchmark's source, category, subset and prompt style (None: our suite)."""
    source = manifest.suite.source
    if source is None:
        return None
    style = source.prompt_style or "?"
    if manifest.backend.agent_protocol:  # tools reach the model natively or in the text protocol
        style += f", {manifest.backend.agent_protocol}"
    return (
        f"{source.benchmark} · {source.package} {source.version} ({source.licence}) · category "
        f"{source.category} · {subset_text(manifest)} · prompt style {style}"
    )


def benchmark_table(runs: Sequence[Any], categories: pd.DataFrame) -> TextTable | None:
    """Per run and benchmark category: pass rate (95% CI), $/success, J/success; None without one.
    ``runs``: the report's ``Run`` objects (labelled), ``categories`` their category frame."""
    bench_runs = {r.label: r for r in runs if r.manifest.suite.source is not None}
    if not bench_runs or categories.empty:
        return None
    rows = categories[categories["run"].isin(list(bench_runs))].copy()
    rows["benchmark"] = [bench_runs[str(label)].manifest.suite.source.benchmark for label in rows["run"]]
    rows["tasks"] = [subset_text(bench_runs[str(label)].manifest) for label in rows["run"]]
    estimated = {r.label for r in runs if r.energy_estimated}
    table = metric_table(
        rows,
        [("benchmark", "benchmark"), ("category", "category"), ("run", "run"), ("tasks", "tasks")],
        BENCHMARK_COLUMNS,
        estimated_runs=estimated,
    )
    table.notes.append(
        "Pass rate of the benchmark's own check (docs/benchmarks.md), with its 95% Wilson interval; "
        "$/success and J/success: all the category's cost and energy over its passed tasks."
    )
    return table
