"""``csv:FILE``: an external trace (a wall meter, a smart plug, a lab power analyser) of UTC times and watts.

This is the only way to see what the *wall* sees (PSU, board, fans, SSD). The meter logs on its own clock;
the harness records a wall-clock anchor (``time.time_ns()`` next to ``perf_counter_ns()``) when metering
starts, and every row is placed on the run's clock as ``anchor_perf + (row_utc − anchor_wall)``. The two
clocks must agree (NTP on both), and any offset between them shifts every window: check the idle phase in
``power.csv`` lines up.

Format: a header row naming a time column (``timestamp``, ``time``, ``utc``, ``datetime`` or ``ts``) and a
watts column (``watts``, ``power_w``, ``power``, ``w``); times are ISO 8601 (``2026-11-26T04:17:43.120Z``;
a time without an offset is taken as UTC) or Unix epoch seconds (milliseconds when above 1e11). Rows are
power samples, integrated with the trapezoidal rule; a meter that logs once a second has a period of 1 s,
so requests shorter than ~10 s get apportioned energy.

The file may not exist yet when the run starts (many plugs export after the fact): the trace is copied
into the bundle's ``power.csv`` at the end of the run if the file is there, and read from ``FILE`` when the
bundle is read otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import statistics
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.power.base import Kind, PowerSample
from bench.power.trace import MAX_TRACE_BYTES
from bench.userfiles import open_regular

__all__ = ["CsvTrace", "parse_external", "place_on_run_clock"]

NAME = "csv"
_TIME = ("timestamp", "time", "utc", "datetime", "ts", "date")
_WATTS = ("watts", "power_w", "power", "w", "watt")


def _parse_time_ns(text: str) -> int:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return int(value * (1e6 if value > 1e11 else 1e9))
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    delta = stamp - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def parse_external(path: Path) -> list[tuple[int, float]]:
    """``(utc_ns, watts)`` rows, sorted; a bad file is a one-line ``UsageError`` naming file and line.
    Only a regular file is read (a FIFO or /dev/zero named as a meter's trace is refused, not waited on)."""
    raw = open_regular(path, UsageError, "power trace", MAX_TRACE_BYTES)
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader, [])]
        t_col = next((header.index(n) for n in _TIME if n in header), None)
        w_col = next((header.index(n) for n in _WATTS if n in header), None)
        if t_col is None or w_col is None:
            raise UsageError(
                f"{path}: line 1 must name a time column ({', '.join(_TIME)}) and a watts column "
                f"({', '.join(_WATTS)}); got {header}"
            )
        rows: list[tuple[int, float]] = []
        for n, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                rows.append((_parse_time_ns(row[t_col]), float(row[w_col])))
            except (ValueError, IndexError):
                raise UsageError(
                    f"{path}: line {n}: expected an ISO 8601 or epoch time and a number of watts, got {row}"
                ) from None
    rows.sort()
    return rows


def place_on_run_clock(
    rows: list[tuple[int, float]], anchor_wall_ns: int, anchor_perf_ns: int
) -> list[PowerSample]:
    """External UTC rows as samples on the ``perf_counter_ns`` clock of the run."""
    return [PowerSample(t_ns=anchor_perf_ns + (utc - anchor_wall_ns), power_w=w) for utc, w in rows]


class CsvTrace:
    """Not sampled live: the trace is imported from ``path`` after the run."""

    name = NAME
    kind: Kind = "power"
    estimated = False
    live = False
    rail_names: tuple[str, ...] = ()

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        self.period_s = 0.0  # not known until the file exists: read from the trace's own intervals then
        if self.path.exists():
            rows = parse_external(self.path)
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(rows) if b[0] > a[0]]
            if gaps:
                self.period_s = statistics.median(gaps) / 1e9

    def samples(self, anchor_wall_ns: int, anchor_perf_ns: int) -> list[PowerSample]:
        if not self.path.exists():
            return []
        return place_on_run_clock(parse_external(self.path), anchor_wall_ns, anchor_perf_ns)

    def read(self) -> PowerSample:
        raise RuntimeError("an external trace is imported after the run, not read live")

    def info(self) -> dict[str, Any]:
        return {
            "total": "external meter (as logged in the file)",
            "file": str(self.path),
            "aligned_by": "wall-clock anchor (anchor_wall_ns ↔ anchor_perf_ns)",
        }

    def close(self) -> None:
        pass
