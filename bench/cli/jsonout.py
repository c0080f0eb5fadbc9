"""Every command's ``--json``: one JSON document on stdout, nothing else there, and a format version.

``emit`` stamps the document with ``"format": "infercost-KIND/N"`` (``FORMATS``: bump N when a field
changes meaning or goes; adding a field keeps it; a document a lower layer also writes to files, the
report's frame, carries its own) and writes it the same way for every command: UTF-8
text, no NaN or Infinity (JSON has neither: such a value is written as null), values JSON does not
know (dates, paths) as strings. Notes and warnings go to stderr, so ``infercost X --json | jq`` works.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

__all__ = ["FORMATS", "emit", "format_id"]

FORMATS = {
    "summary": 2,  # infercost run --json (2: the metric core's populations; an agent task counts once)
    "db-summary": 1,
    "query": 1,
    "history": 2,  # 2: registry metric names; a point's value is the run's figure
    "compare": 1,
    "gate": 1,
    "choose": 1,
    "breakeven": 1,
    "sweep": 1,
    "doctor": 1,
    "device": 1,
    "prices": 1,  # infercost prices --json: the price database's models
}


def format_id(kind: str) -> str:
    return f"infercost-{kind}/{FORMATS[kind]}"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def emit(kind: str | None, doc: dict[str, Any]) -> None:
    """Print ``doc`` as the command's JSON document, its format version first (``kind`` None: the
    document carries its own ``format``, e.g. the report's frame, ``bench.report.export``)."""
    if kind is None:
        assert "format" in doc, "a JSON document without a format version"
        body = doc
    else:
        body = {"format": format_id(kind), **{k: v for k, v in doc.items() if k != "format"}}
    sys.stdout.write(json.dumps(_finite(body), indent=2, default=str, ensure_ascii=False, allow_nan=False))
    sys.stdout.write("\n")
