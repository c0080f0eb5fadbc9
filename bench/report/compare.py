"""Two runs, metric by metric: how much changed, and whether it is more than noise (pyperf/asv style).

Each metric the registry marks with a per-request ``sample`` is tested on the raw samples of both runs, the
records its registry population names (``bench.results.metrics.aggregate.samples``: the same values the
gate tests), with ``stats.compare_samples`` (Mann–Whitney U *and* a minimum effect), and reads like pyperf:
"1.31x faster (significant)" / "1.02x slower (not significant)". Directions come from the registry's
``higher_is_better``. Key properties that differ (model, device, backend settings) are listed first:
comparing a new model against an old one is the point, but never silently. Runs of different suites
are refused: their tasks differ, so no per-request figure is comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import UsageError
from bench.report.benchmarks import benchmark_table
from bench.report.frame import category_frame
from bench.report.runs import Run
from bench.report.tables import Column, TextTable, label
from bench.results.comparability import differences, key_properties
from bench.results.metrics.aggregate import samples
from bench.results.metrics.registry import COMPARE_FIELDS, Field
from bench.results.stats import Comparison, compare_samples

__all__ = [
    "CompareRow", "RunComparison", "benchmark_comparison", "compare_runs", "comparison_table",
]  # fmt: skip


@dataclass(frozen=True)
class CompareRow:
    field: Field
    comparison: Comparison


@dataclass
class RunComparison:
    baseline: Run
    candidate: Run
    differences: list[tuple[str, Any, Any]]
    rows: list[CompareRow]
    skipped: list[str] = field(default_factory=list)
    min_effect: float = 0.05


def compare_runs(
    baseline: Run, candidate: Run, *, min_effect: float = 0.05, alpha: float = 0.05
) -> RunComparison:
    ha, hb = baseline.suite_hash, candidate.suite_hash
    if ha != hb:
        raise UsageError(
            f"{baseline.run_ids[0]} and {candidate.run_ids[0]} ran different suites "
            f"({baseline.suite_name} {str(ha)[:12]} vs {candidate.suite_name} {str(hb)[:12]}): their tasks "
            "differ, so their requests are not comparable",
            fix="compare two runs of the same suite",
        )
    if not 0 <= min_effect < 10:
        raise UsageError(f"--min-effect {min_effect}: expected a fraction such as 0.05 (5%)")
    ka, kb = key_properties(baseline.manifest), key_properties(candidate.manifest)
    diff = [(k, ka[k], kb[k]) for k in differences(baseline.manifest, candidate.manifest)]
    rows, skipped = [], []
    for f in COMPARE_FIELDS:
        a, b = samples(f.name, baseline.records), samples(f.name, candidate.records)
        if not a and not b:
            skipped.append(f.label)
            continue
        c = compare_samples(
            a, b, higher_is_better=f.higher_is_better, min_effect=min_effect, alpha=alpha, words=f.words
        )
        rows.append(CompareRow(f, c))
    return RunComparison(baseline, candidate, diff, rows, skipped, min_effect)


def _change(c: Comparison) -> str:
    if c.change is None:
        return "–"
    if c.change == float("inf"):
        return "+∞"
    return f"{c.change:+.1%}"


def comparison_table(result: RunComparison) -> TextTable:
    """metric | A | B | change | p | verdict, with the means in registry format."""
    a, b = result.baseline.label, result.candidate.label
    columns = [
        Column("metric", "metric (mean)", "left"),
        Column("a", f"A: {a}", "right"),
        Column("b", f"B: {b}", "right"),
        Column("change", "B vs A", "right"),
        Column("n", "n", "right"),
        Column("p", "p", "right"),
        Column("verdict", "verdict", "left"),
    ]
    rows = []
    for row in result.rows:
        f, c = row.field, row.comparison
        rows.append(
            [
                label(f.name),
                f.format(c.baseline_mean),
                f.format(c.candidate_mean),
                _change(c),
                f"{c.n_baseline}/{c.n_candidate}",
                "–" if c.p_value is None else f"{c.p_value:.3g}",
                c.verdict,
            ]
        )
    notes = [
        "Mann–Whitney U on the per-request samples (n: A/B); a change is called only when it is significant "
        f"(p < 0.05) and at least {result.min_effect:.0%}."
    ]
    if result.skipped:
        notes.append("Not compared (no samples in either run): " + ", ".join(result.skipped) + ".")
    return TextTable(columns, rows, notes)


def benchmark_comparison(result: RunComparison) -> TextTable | None:
    """Public benchmarks: each category's pass rate (95% CI), $/success and J/success, A above B (the
    report's benchmark table over the two runs); None for suites of our own."""
    runs = [result.baseline, result.candidate]
    frame = category_frame(runs)
    return benchmark_table(runs, frame.sort_values("category", kind="stable") if not frame.empty else frame)
