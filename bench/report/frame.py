"""Runs → pandas frames: one row per run, per (run, category) and per (run, task).

Every metric column is a registry field computed by the metric core (``bench.results.metrics.aggregate``:
``run_metrics`` per run, ``group_metrics``'s ``columns_metrics`` per category and task, over masks of the
run's ``RecordColumns``: its records are read once), so the report's numbers are the after-run summary's
numbers. The combined frame (all three levels, a ``level`` column telling them
apart) is what ``--csv`` and ``--json`` export. Absent figures stay NaN/None, never zero; ``absent``
explains, per run and metric group, why a figure is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bench.cost.options import EnrichOptions
from bench.cost.pricing import cost_inputs
from bench.cost.roofline import roofline_fraction
from bench.report.cost_view import local_cost_gap
from bench.report.runs import Run
from bench.results.metrics.aggregate import columns_metrics
from bench.results.metrics.registry import FIELDS
from bench.results.schema import PowerFacts

__all__ = ["ID_COLUMNS", "absent_reasons", "category_frame", "combined_frame", "run_frame", "task_frame"]

# identity columns in every row (metrics follow, in registry order)
ID_COLUMNS = ["run", "run_id", "model", "device", "backend", "suite", "suite_hash", "kind"]

# metric groups whose absence is explained (the rest are measured on every run)
ENERGY_FIELDS = ("energy_per_task_j", "j_per_token")
COST_FIELDS = ("cost_per_task_usd", "cost_per_success_usd", "usd_per_mtok_out")


def _identity(run: Run) -> dict[str, Any]:
    return {
        "run": run.label,
        "run_id": ",".join(run.run_ids),
        "model": run.model_name,
        "device": run.device_name,
        "backend": run.backend_name,
        "suite": run.suite_name,
        "suite_hash": run.suite_hash,
        "kind": run.manifest.device.kind,
    }


def _energy_source(run: Run) -> str | None:
    sources = run.energy_sources
    if not sources:
        return None
    return "+".join(sorted(sources))


def _metrics(run: Run, where: np.ndarray | None = None, *, intervals: bool = True) -> dict[str, Any]:
    """A group's figures (``where``: a mask over the run's records, ``RecordColumns.groups``), or the
    whole run's (None: ``Run.metrics``, throughput included)."""
    m = dict(run.metrics) if where is None else columns_metrics(run.columns, where, intervals=intervals)
    if m.get("roofline_fraction") is None:
        m["roofline_fraction"] = roofline_fraction(run.manifest, m.get("decode_tps_mean"))[0]
    return {name: m.get(name) for name in FIELDS}


def run_frame(runs: Sequence[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        rows.append({**_identity(run), **_metrics(run), "energy_source": _energy_source(run)})
    return pd.DataFrame(rows, columns=[*ID_COLUMNS, *FIELDS, "energy_source"])


def category_frame(runs: Sequence[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        for cat, where in run.columns.groups("category").items():
            rows.append({**_identity(run), "category": cat, **_metrics(run, where)})
    return pd.DataFrame(rows, columns=[*ID_COLUMNS, "category", *FIELDS])


def task_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Per task: no bootstrap (hundreds of groups; the per-task tables show no interval)."""
    rows = []
    for run in runs:
        for task_id, where in run.columns.groups("task_id").items():
            rows.append(
                {
                    **_identity(run),
                    "task_id": task_id,
                    "category": run.by_task[task_id][0].category,
                    **_metrics(run, where, intervals=False),
                }
            )
    return pd.DataFrame(rows, columns=[*ID_COLUMNS, "task_id", "category", *FIELDS])


def combined_frame(run: pd.DataFrame, category: pd.DataFrame, task: pd.DataFrame) -> pd.DataFrame:
    """All three levels in one frame (``level`` = run | category | task), for CSV/JSON export."""
    parts = [
        run.assign(level="run"),
        category.assign(level="category"),
        task.assign(level="task"),
    ]
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)
    cols = ["level", *ID_COLUMNS, "category", "task_id", *FIELDS, "energy_source"]
    return frame.reindex(columns=cols)


def _cost_gap(run: Run, options: EnrichOptions | None) -> str:
    """Why a priced device's run has no dollars: for a local one, the part its prices or records lack
    (the after-run summary's words, ``local_cost_gap``), priced as the report prices it (``options``)."""
    inp = cost_inputs(run.manifest, options)
    gap = None
    if inp.kind == "local":
        gap = local_cost_gap(
            kwh_known=inp.kwh_usd is not None,
            energy_known=any(r.cost_energy_usd is not None for r in run.measured),
            price_known=inp.hardware_usd is not None,
            hardware_known=any(r.cost_hardware_usd is not None for r in run.measured),
        )
    return gap or "no cost was derived for its requests by this version of infercost"


def absent_reasons(run: Run, metrics: dict[str, Any], options: EnrichOptions | None = None) -> dict[str, str]:
    """For each metric group missing from this run's row: why (keys: "energy", "cost", "roofline");
    ``options``: the prices the report was asked for (--kwh-usd, --hardware-usd), which the reason counts."""
    reasons: dict[str, str] = {}
    device = run.manifest.device
    if all(metrics.get(f) is None for f in ENERGY_FIELDS):
        power = run.manifest.power or PowerFacts()
        sensor = power.sensor
        if device.kind == "cloud":
            reasons["energy"] = "a cloud API reports no energy"
        elif device.kind == "rented":
            reasons["energy"] = "a rented GPU's energy is in its hourly rate"
        elif not power.ran:
            why = power.reason
            reasons["energy"] = "no power sensor ran" + (f" ({why})" if why else "")
        else:
            reasons["energy"] = f"sensor {sensor} ran but no energy was attributed to requests"
    if all(metrics.get(f) is None for f in COST_FIELDS):
        reasons["cost"] = (
            "the device profile gives no prices" if device.pricing is None else _cost_gap(run, options)
        )
    if metrics.get("roofline_fraction") is None:
        reasons["roofline"] = roofline_fraction(run.manifest, metrics.get("decode_tps_mean"))[1] or "unknown"
    return reasons
