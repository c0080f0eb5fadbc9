"""The combined report frame as CSV or JSON (``infercost report --csv FILE --json FILE``).

Columns are the identity columns, ``level`` (run | category | task) and the registry's metrics under their
registry names (units are in the names). The JSON file also carries the registry itself (label, unit,
direction, meaning of every metric column), so a reader needs no other document to interpret it.
Absent values are empty in CSV and null in JSON, never zero. Control characters in text from bundles are
neutralized (``bench.textsafe``): shown escaped in CSV cells, written as JSON escapes in JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.tables import frame_rows
from bench.results.metrics.registry import fields_json
from bench.textsafe import neutralize_controls

__all__ = ["JSON_FORMAT", "frame_json", "write_csv", "write_json"]

JSON_FORMAT = "infercost-report/1"


def _safe(value: Any) -> Any:
    return neutralize_controls(value) if isinstance(value, str) else value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.map(_safe).to_csv(path, index=False)


def frame_json(frame: pd.DataFrame, *, title: str, generated_utc: str, tool: str) -> dict[str, Any]:
    rows = frame_rows(frame)
    fields = fields_json(frame.columns)
    return {
        "format": JSON_FORMAT,
        "title": title,
        "generated_utc": generated_utc,
        "tool": tool,
        "fields": fields,
        "rows": rows,
    }


def write_json(frame: pd.DataFrame, path: Path, *, title: str, generated_utc: str, tool: str) -> None:
    data = frame_json(frame, title=title, generated_utc=generated_utc, tool=tool)
    text = json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)
    path.write_text(neutralize_controls(text) + "\n", encoding="utf-8")  # \u202e escapes: still JSON
