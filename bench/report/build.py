"""Runs → a ``Report``: every table, chart, note and provenance fact a renderer needs, computed once.

Renderers (Markdown, HTML, terminal) only lay this out; none computes a number of its own, so the same
report reads the same in every format. Build order: frames (registry metrics per run, category, task) →
text tables → charts → provenance → notes that explain anything absent, estimated, incomplete or
kept apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from bench import __version__
from bench.buildinfo import tool_commit
from bench.cost.enrich import EnrichOptions
from bench.report import frame as frames
from bench.report.batched_view import batched_table
from bench.report.benchmarks import benchmark_table
from bench.report.charts import ChartResult, build_charts
from bench.report.layout import CATEGORY_COLUMNS, RUN_COLUMNS, TASK_COLUMNS, TERMINAL_COLUMNS
from bench.report.provenance import provenance_table, stale_price_notes
from bench.report.runs import Run, assign_labels, pool_runs
from bench.report.tables import Column, TextTable, frame_rows, metric_table
from bench.results.comparability import differences
from bench.results.metrics.registry import FIELDS
from bench.results.variability import run_warnings

__all__ = ["Report", "ReportOptions", "TaskOutput", "TaskSection", "build_report"]

_GROUP_FIELDS = {
    "energy": frames.ENERGY_FIELDS,
    "cost": frames.COST_FIELDS,
    "roofline": ("roofline_fraction",),
}


@dataclass(frozen=True)
class ReportOptions:
    title: str | None = None
    pool: bool = False
    enrich: EnrichOptions = field(default_factory=EnrichOptions)
    now_utc: str | None = None  # fixed "generated" stamp (tests, reproducible builds)
    charts: bool = True  # the terminal view needs none: skip drawing them
    outputs_per_task: int = 3  # model outputs shown per (task, run) in HTML
    output_chars: int = 2000  # longer outputs are cut, saying so


@dataclass(frozen=True)
class TaskOutput:
    run: str
    repetition: int
    status: str
    passed: bool | None
    text: str
    truncated: bool
    check_detail: str | None


@dataclass
class TaskSection:
    task_id: str
    category: str
    verdicts: list[tuple[str, str]]  # (run label, "2/3") for the summary line
    table: TextTable
    outputs: list[TaskOutput]
    hidden: list[str]  # runs made with --no-text: their texts are not shown


@dataclass
class Report:
    title: str
    generated_utc: str
    tool: str
    runs: list[Run]
    legend: TextTable
    run_table: TextTable
    terminal_table: TextTable  # the run table's short view
    category_table: TextTable
    task_table: TextTable
    tasks: list[TaskSection]
    charts: list[ChartResult]
    provenance: TextTable
    notes: list[str]
    frame: pd.DataFrame  # the combined frame (--csv / --json)
    run_frame: pd.DataFrame
    batched_table: TextTable | None = None  # parallel shapes, llama-batched-bench's fields (batched_view)
    benchmark_table: TextTable | None = None  # public benchmarks: pass rate, $ and J per success (benchmarks)


def _default_title(runs: Sequence[Run]) -> str:
    models = list(dict.fromkeys(r.model_name for r in runs))
    devices = list(dict.fromkeys(r.device_name.split(" (", 1)[0] for r in runs))
    return f"infercost report: {' vs '.join(models)} on {', '.join(devices)}"


def _legend(runs: Sequence[Run]) -> TextTable:
    cols = [("run", "run"), ("model", "model"), ("device", "device"), ("backend", "backend"),
            ("suite", "suite"), ("requests", "measured"), ("run_ids", "bundle")]  # fmt: skip
    rows = [
        [
            r.label,
            r.model_name,
            r.device_name,
            r.backend_name,
            r.suite_name,
            str(len(r.measured)),
            ", ".join(r.run_ids),
        ]
        for r in runs
    ]
    return TextTable([Column(k, h, "left") for k, h in cols], rows)


def _absent_notes(runs: Sequence[Run], run_df: pd.DataFrame, options: EnrichOptions) -> list[str]:
    """One sentence per (metric group, reason): which runs show "–" and why."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    for run, row in zip(runs, frame_rows(run_df), strict=True):
        for group, reason in frames.absent_reasons(run, row, options).items():
            by_reason.setdefault((group, reason), []).append(run.label)
    notes = []
    for (group, reason), labels in by_reason.items():
        names = ", ".join(FIELDS[f].label for f in _GROUP_FIELDS[group])
        if len(labels) == len(runs):
            notes.append(f"Not shown: {names}: {reason}" + (" (every run)." if len(runs) > 1 else "."))
        else:
            notes.append(f"{names}: – for {', '.join(labels)}: {reason}.")
    return notes


def _kept_apart(runs: Sequence[Run]) -> list[str]:
    """Runs that look alike (same model, device, backend, suite) but are separate rows, and why."""
    groups: dict[tuple[str, ...], list[Run]] = {}
    for r in runs:
        groups.setdefault((r.model_name, r.device_name, r.backend_name, str(r.suite_hash)), []).append(r)
    notes = []
    for members in groups.values():
        first = members[0]
        for other in members[1:]:
            diff = differences(first.manifest, other.manifest)
            if diff:
                notes.append(
                    f"{first.label} and {other.label} are kept apart: they differ in {', '.join(diff)}."
                )
            else:
                notes.append(
                    f"{first.label} and {other.label} have the same configuration; they are separate rows "
                    "(pass --pool to pool them)."
                )
    return notes


def _measurement_warnings(run: Run) -> list[str]:
    """What ``infercost run`` warned about when it finished (a busy machine, outliers, repetitions that
    disagree, drift), from each bundle's own records and hygiene readings: a report made on a busy
    machine must not look as trustworthy as one made on a quiet one."""
    out = []
    for m in run.manifests:
        records = run.records if len(run.manifests) == 1 else [x for x in run.records if x.run_id == m.run_id]
        where = run.label if len(run.manifests) == 1 else f"{run.label} ({m.run_id})"
        out += [f"{where}: {w.message}." for w in run_warnings(records, m)]
    return out


def _notes(runs: Sequence[Run]) -> list[str]:
    notes = []
    if any(r.synthetic for r in runs):
        names = ", ".join(r.label for r in runs if r.synthetic)
        notes.append(f"SYNTHETIC DATA ({names}): generated for testing the harness; not a measurement.")
    for r in runs:
        incomplete = [m.run_id for m in r.manifests if not m.complete]
        if incomplete:
            notes.append(
                f"{r.label} is incomplete ({', '.join(incomplete)} stopped early): "
                "its figures cover only the requests that finished."
            )
        if not r.measured:
            notes.append(f"{r.label} has no measured requests: it stopped before its first one finished.")
        if r.pooled:
            notes.append(
                f"{r.label} pools {len(r.manifests)} runs of one configuration: {', '.join(r.run_ids)}."
            )
        for w in r.warnings:
            notes.append(f"{r.label}: {w}.")
        notes += _measurement_warnings(r)
    suites = {r.suite_hash for r in runs}
    if len(suites) > 1:
        notes.append(
            f"These runs span {len(suites)} suites: pass rates and costs per task compare within one suite."
        )
    notes += _kept_apart(runs)
    return notes


def _outputs(run: Run, task_id: str, options: ReportOptions) -> list[TaskOutput]:
    recs = run.by_task.get(task_id, [])[: options.outputs_per_task]
    out = []
    for r in recs:
        text = r.output_text or ""
        if r.status != "ok" and r.error:
            text = text or f"[{r.status}] {r.error}"
        cut = len(text) > options.output_chars
        out.append(
            TaskOutput(
                run.label, r.repetition, r.status, r.passed, text[: options.output_chars], cut, r.check_detail
            )
        )
    return out


def _task_sections(runs: Sequence[Run], task_df: pd.DataFrame, options: ReportOptions) -> list[TaskSection]:
    sections = []
    estimated = {r.label for r in runs if r.energy_estimated}
    order = list(dict.fromkeys(task_df["task_id"])) if not task_df.empty else []
    for task_id in order:
        rows = task_df[task_df["task_id"] == task_id]
        verdicts = [
            (str(r["run"]), f"{int(r['passed'])}/{int(r['checked'])}" if r["checked"] else "–")
            for r in frame_rows(rows)
        ]
        table = metric_table(rows, [("run", "run")], TASK_COLUMNS, estimated_runs=estimated, drop_empty=False)
        outputs: list[TaskOutput] = []
        hidden = []
        for run in runs:
            if run.no_text:
                hidden.append(run.label)
            else:
                outputs += _outputs(run, task_id, options)
        sections.append(TaskSection(task_id, str(rows["category"].iloc[0]), verdicts, table, outputs, hidden))
    return sections


def build_report(runs: list[Run], options: ReportOptions | None = None) -> Report:
    options = options or ReportOptions()
    if options.pool:
        runs = pool_runs(runs)
    assign_labels(runs)
    run_df = frames.run_frame(runs)
    cat_df = frames.category_frame(runs)
    task_df = frames.task_frame(runs)
    estimated = {r.label for r in runs if r.energy_estimated}
    run_table = metric_table(
        run_df, [("run", "run")], RUN_COLUMNS, estimated_runs=estimated, note_dropped=False
    )
    explained = {f for group in _GROUP_FIELDS.values() for f in group}
    unexplained = [n for n in run_table.dropped if n not in explained]
    run_table.notes = _absent_notes(runs, run_df, options.enrich) + run_table.notes
    if unexplained:
        run_table.notes.append(
            "Not shown, no run has a value: " + ", ".join(FIELDS[n].label for n in unexplained) + "."
        )
    cat_sorted = cat_df.sort_values("category", kind="stable") if not cat_df.empty else cat_df
    category_table = metric_table(
        cat_sorted, [("category", "category"), ("run", "run")], CATEGORY_COLUMNS, estimated_runs=estimated
    )
    task_sorted = task_df.sort_values("task_id", kind="stable") if not task_df.empty else task_df
    task_table = metric_table(
        task_sorted, [("task_id", "task"), ("run", "run")], TASK_COLUMNS, estimated_runs=estimated
    )
    now = options.now_utc or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    on = dt.date.fromisoformat(options.now_utc[:10]) if options.now_utc else None  # price ages
    commit = tool_commit()
    return Report(
        title=options.title or _default_title(runs),
        generated_utc=now,
        tool=f"infercost {__version__}" + (f" · commit {commit}" if commit else " · commit not known"),
        runs=runs,
        legend=_legend(runs),
        run_table=run_table,
        terminal_table=metric_table(run_df, [("run", "run")], TERMINAL_COLUMNS, estimated_runs=estimated),
        category_table=category_table,
        task_table=task_table,
        tasks=_task_sections(runs, task_df, options),
        charts=build_charts(runs, run_df, options.enrich) if options.charts else [],
        provenance=provenance_table(runs, options.enrich, on),
        notes=_notes(runs) + stale_price_notes(runs, on),
        frame=frames.combined_frame(run_df, cat_df, task_df),
        run_frame=run_df,
        batched_table=batched_table(runs),
        benchmark_table=benchmark_table(runs, cat_sorted),
    )
