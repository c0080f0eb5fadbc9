"""A sweep as rows: one per cell, its settings and figures, and whether it is on a Pareto front.

Each done cell's bundle is read and enriched like any run (``bench.report.runs``), so its pass rate,
latency, throughput, energy and cost are the figures ``infercost report`` shows for that bundle.
"Latency" on the fronts is the p95 of end-to-end request latency (what a user waits for a whole answer);
TTFT p95 is in the table beside it. Two fronts, both minimised (``bench.results.pareto``):

- cost: ($/success, latency p95), the cheapest settings for a given wait;
- energy: (J/task, latency p95), the most frugal ones.

A cell missing a figure (no price, no power sensor) is on neither front and dominates none: it was not
measured, so it cannot be recommended. Failed and unfinished cells are rows with their status and no
figures.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cost.options import EnrichOptions
from bench.errors import BenchError
from bench.report.runs import Run, load_run
from bench.report.tables import Column, TextTable
from bench.results.metrics.aggregate import run_metrics
from bench.results.metrics.registry import FIELDS
from bench.results.pareto import pareto_mask
from bench.results.sweep import SweepManifest, read_sweep

__all__ = ["FRONTS", "SweepRow", "SweepView", "load_sweep", "sweep_json", "sweep_table"]

# front name → the two metrics it minimises
FRONTS: dict[str, tuple[str, str]] = {
    "cost": ("cost_per_success_usd", "e2e_p95_ms"),
    "energy": ("energy_per_task_j", "e2e_p95_ms"),
}


@dataclass
class SweepRow:
    cell_id: str
    settings: dict[str, Any]
    status: str
    error: str | None
    path: Path
    run: Run | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    fronts: dict[str, bool] = field(default_factory=dict)  # front name → on it

    @property
    def label(self) -> str:
        return " ".join(f"{k}={_value(v)}" for k, v in self.settings.items())

    @property
    def dominated(self) -> bool:
        """Measured on some front's axes, and on none of the fronts it was measured for."""
        measured = [name for name in FRONTS if _has(self.metrics, FRONTS[name])]
        return bool(measured) and not any(self.fronts.get(name) for name in measured)


@dataclass
class SweepView:
    path: Path
    manifest: SweepManifest
    rows: list[SweepRow]

    @property
    def axes(self) -> list[str]:
        return list(self.manifest.axes)

    def done(self) -> list[SweepRow]:
        return [r for r in self.rows if r.run is not None]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


def _has(metrics: dict[str, Any], keys: Sequence[str]) -> bool:
    return all(metrics.get(k) is not None for k in keys)


def load_sweep(path: str | Path, options: EnrichOptions | None = None) -> SweepView:
    """Read a sweep directory: every done cell's bundle enriched, the fronts marked."""
    sweep_dir = Path(path)
    manifest = read_sweep(sweep_dir)
    rows: list[SweepRow] = []
    for cell in manifest.cells:
        row = SweepRow(cell.id, dict(cell.settings), cell.status, cell.error, sweep_dir / cell.path)
        if cell.status == "done":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    row.run = load_run(row.path, options)
            except BenchError as exc:
                row.status, row.error = "unreadable", str(exc).splitlines()[0]
        if row.run is not None:  # the figures `infercost report` shows for the cell's bundle
            row.metrics = run_metrics(row.run.records, row.run.manifest, intervals=False)
        rows.append(row)
    for name, keys in FRONTS.items():
        points = [[r.metrics.get(k) for k in keys] for r in rows]
        for row, on in zip(rows, pareto_mask(points), strict=True):
            row.fronts[name] = on
    return SweepView(sweep_dir, manifest, rows)


# (registry field, header) of the figure columns, in table order; values read as every view shows them
_FIGURES: tuple[tuple[str, str], ...] = (
    ("pass_rate", "pass"),
    ("ttft_p95_ms", "TTFT p95 ms"),
    ("e2e_p95_ms", "latency p95 ms"),
    ("decode_tps_mean", "tok/s per stream"),
    ("output_tps_total", "tok/s aggregate"),
    ("energy_per_task_j", "J/task"),
    ("cost_per_task_usd", "$/task"),
    ("cost_per_success_usd", "$/success"),
)


def _marks(row: SweepRow) -> str:
    marks = [sym for name, sym in (("cost", "$"), ("energy", "J")) if row.fronts.get(name)]
    if marks:
        return "*" + "".join(marks)
    return "dominated" if row.dominated else ""


def sweep_table(view: SweepView) -> TextTable:
    """One row per cell: id, each axis, status, the figures, the Pareto marks (``*$``: on the cost front,
    ``*J``: on the energy front, ``dominated``: on neither)."""
    columns = [Column("cell", "cell", "left")]
    columns += [Column(a, a, "left") for a in view.axes]
    columns.append(Column("status", "status", "left"))
    columns += [Column(k, header, description=FIELDS[k].description) for k, header in _FIGURES]
    columns.append(Column("pareto", "Pareto", "left"))
    rows = []
    for r in view.rows:
        cells = [r.cell_id, *(_value(r.settings.get(a, "")) for a in view.axes), r.status]
        est = bool(r.metrics.get("energy_estimated"))
        cells += [FIELDS[k].format(r.metrics.get(k), estimated=est) for k, _ in _FIGURES]
        cells.append(_marks(r))
        rows.append(cells)
    notes = [
        "Pareto: *$ on the front of ($/success, latency p95), *J on that of (J/task, latency p95); "
        "latency p95 is end-to-end per request; a cell without a figure is on neither front"
    ]
    notes += [f"{r.cell_id} failed: {r.error}" for r in view.rows if r.error]
    if any(r.metrics.get("energy_per_task_j") is None for r in view.done()):
        notes.append(
            "J/task – : no power sensor measured that cell (or its requests ran in a resumed session)"
        )
    return TextTable(columns=columns, rows=rows, notes=notes)


_JSON_METRICS = (
    "n",
    "errors",
    "pass_rate",
    "ttft_p95_ms",
    "e2e_p95_ms",
    "decode_tps_mean",
    "output_tps_total",
    "request_throughput_rps",
    "energy_per_task_j",
    "cost_per_task_usd",
    "cost_per_success_usd",
)


def sweep_json(view: SweepView) -> dict[str, Any]:
    """The table as data (``sweep --json``, ``report SWEEP_DIR --json``)."""
    return {
        "sweep_dir": str(view.path),
        "sweep_id": view.manifest.sweep_id,
        "suite": view.manifest.suite,
        "axes": view.manifest.axes,
        "cells": [
            {
                "id": r.cell_id,
                "settings": r.settings,
                "status": r.status,
                "error": r.error,
                "path": str(r.path),
                "pareto": r.fronts,
                "dominated": r.dominated,
                "metrics": {k: r.metrics.get(k) for k in _JSON_METRICS},
            }
            for r in view.rows
        ],
    }
