"""Frames → text tables (header + formatted cells + notes), the one shape every renderer draws.

Cells are formatted once here from the field registry (label, unit, format, interval fields), so the
terminal, Markdown and HTML tables of a report show the same strings. Conventions:

- an absent value is "–" and a note under the table says why; a column no row has is left out and named;
- a metric with an interval reads "value (low–high)" (95%: Wilson for pass rates, bootstrap for means);
- an energy figure, or a cost built from one, that comes from a model rather than a sensor reads "≈value".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from bench.results.metrics.display import ESTIMATE_MARK, ESTIMATE_NOTE
from bench.results.metrics.registry import FIELDS, INTERVALS

__all__ = ["Column", "TextTable", "cell", "frame_rows", "header", "label", "metric_table"]


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    align: Literal["left", "right"] = "right"
    description: str = ""


@dataclass
class TextTable:
    columns: list[Column]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # metric columns left out: no row has a value


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars → Python
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain dicts: NaN (absent) → None, numpy scalars → Python numbers."""
    return [{str(k): _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def label(name: str) -> str:
    """The registry label with its unit where the label does not carry one ("TTFT p50 ms", "$/task")."""
    return FIELDS[name].header


def header(name: str) -> str:
    text = label(name)
    if name in INTERVALS:
        text += " (95% CI)"
    if name == "passed":
        text = "passed"
    return text


def cell(name: str, row: Mapping[str, Any], *, estimated: bool = False) -> str:
    """One formatted metric value of a frame row (registry format, interval, estimate mark)."""
    f = FIELDS[name]
    value = row.get(name)
    if name == "passed" and not _absent(row.get("checked")):
        return f"{f.format(value)}/{FIELDS['checked'].format(row.get('checked'))}"
    text = f.format(None if _absent(value) else value)
    if _absent(value):
        return text
    if name in INTERVALS:
        lo, hi = (row.get(k) for k in INTERVALS[name])
        if not _absent(lo) and not _absent(hi):
            lo_s, hi_s = f.format(lo), f.format(hi)
            if lo_s.endswith("%") and hi_s.endswith("%"):
                lo_s = lo_s[:-1]
            text += f" ({lo_s}–{hi_s})"
    if estimated and f.energy_backed:
        text = ESTIMATE_MARK + text
    return text


def metric_table(
    frame: pd.DataFrame,
    id_columns: Sequence[tuple[str, str]],
    metrics: Sequence[str],
    *,
    estimated_runs: set[str] | None = None,
    drop_empty: bool = True,
    note_dropped: bool = True,
) -> TextTable:
    """A table of ``frame`` rows: identity columns (key, header) then registry metrics.

    ``estimated_runs``: labels (the frame's ``run`` column) whose energy comes from an estimate. Metric
    columns with no value in any row are dropped (``drop_empty``) and named in a note (unless the caller
    explains them itself: ``note_dropped=False``).
    """
    estimated_runs = estimated_runs or set()
    records = frame_rows(frame)
    shown, dropped = [], []
    for name in metrics:
        if drop_empty and all(_absent(r.get(name)) for r in records):
            dropped.append(name)
        else:
            shown.append(name)
    columns = [Column(key, title, "left") for key, title in id_columns]
    columns += [Column(name, header(name), "right", FIELDS[name].description) for name in shown]
    rows = []
    for r in records:
        est = r.get("run") in estimated_runs
        ids = ["–" if _absent(r.get(key)) else str(r.get(key)) for key, _ in id_columns]
        rows.append(ids + [cell(name, r, estimated=est) for name in shown])
    notes = []
    if dropped and records and note_dropped:
        notes.append("Not shown, no row has a value: " + ", ".join(FIELDS[n].label for n in dropped) + ".")
    if estimated_runs & {r.get("run") for r in records} and any(FIELDS[n].energy_backed for n in shown):
        notes.append(f"{ESTIMATE_NOTE}.")
    return TextTable(columns, rows, notes, dropped)
