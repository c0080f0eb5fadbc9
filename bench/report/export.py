"""The combined report frame as CSV or JSON (``infercost report --csv FILE --json FILE``).

Columns are the identity columns, ``level`` (run | category | task) and the registry's metrics under their
registry names (units are in the names). The JSON file also carries the registry itself (label, unit,
direction, meaning of every metric column), so a reader needs no other document to interpret it.
Absent values are empty in CSV and null in JSON, never zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bench.report.tables import frame_rows
from bench.results.metrics.registry import fields_json

__all__ = ["JSON_FORMAT", "frame_json", "write_csv", "write_json"]

JSON_FORMAT = "infercost-report/1"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


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
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
