"""``power.csv``: the raw power trace of a run, one row per reading, written as the run goes.

Columns: ``t_ns`` (``perf_counter_ns`` relative to the manifest's ``anchor_perf_ns``, the same clock and
origin as every request's ``start_ns``/``end_ns``), ``power_w`` (instantaneous total, empty where the sensor
has none), ``energy_j`` (cumulative total since the sensor opened, wraps undone, empty for power-only
sensors), then one column per rail named ``<rail>_w`` (power sensors) or ``<rail>_j`` (counters). What the
total covers, the sensor and its period are in ``manifest.power``.

The file is flushed about once a second, so a crash or kill keeps all but the last second of the trace;
a torn last line is ignored when reading.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from bench.errors import BundleError
from bench.power.base import Kind, PowerSample
from bench.userfiles import open_regular

__all__ = ["POWER_CSV", "Trace", "TraceWriter", "read_trace", "trace_from_samples"]

POWER_CSV = "power.csv"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _column(rail: str, kind: Kind) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.:-]+", "_", rail)
    return f"{safe}_{'j' if kind == 'counter' else 'w'}"


def _fmt(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return ""
    return f"{value:.{digits}f}"


class TraceWriter:
    """Appends samples to ``power.csv``; the caller flushes (the sampler does, about once a second).

    ``write`` only keeps the sample; rows are formatted and written at ``flush``, in one batch. Measured
    on the 2-vCPU VM during llama.cpp decode: formatting and writing one row per 10 ms tick cost the
    sampler thread ~0.5% of a core (each tick runs with caches the decode has just evicted), as much as
    waking the thread at all; batched once a second it is a few microseconds per row. What a kill loses
    is unchanged: the rows since the last flush were only in the file object's buffer before.
    """

    def __init__(self, path: Path, rail_names: tuple[str, ...], kind: Kind, anchor_ns: int) -> None:
        self.path = path
        self.anchor_ns = anchor_ns
        self.n_rails = len(rail_names)
        new = not path.exists() or path.stat().st_size == 0
        self._f: IO[str] = path.open("a", encoding="utf-8", newline="")
        if new:
            header = ["t_ns", "power_w", "energy_j", *(_column(r, kind) for r in rail_names)]
            self._f.write(",".join(header) + "\n")
        self._pending: list[PowerSample] = []
        self.rows = 0

    def write(self, s: PowerSample) -> None:
        self._pending.append(s)
        self.rows += 1

    def _row(self, s: PowerSample) -> str:
        # exactly one field per rail column: a sample with fewer rails leaves the rest empty
        rails = [_fmt(v, 6) for v in s.rails[: self.n_rails]]
        rails += [""] * (self.n_rails - len(rails))
        tail = "".join("," + v for v in rails)
        return f"{s.t_ns - self.anchor_ns},{_fmt(s.power_w, 6)},{_fmt(s.energy_j, 6)}{tail}\n"

    @property
    def closed(self) -> bool:
        return self._f.closed

    def flush(self) -> None:
        if self._f.closed:
            return
        pending, self._pending = self._pending, []
        if pending:
            self._f.write("".join(map(self._row, pending)))
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            os.fsync(self._f.fileno())
            self._f.close()


@dataclass(frozen=True)
class Trace:
    """A trace read back: times (ns, relative to the anchor) with total power and/or cumulative energy.

    Missing values are NaN; a column that is entirely missing is None. ``rails`` holds the per-rail
    columns by rail name (watts for power sensors, cumulative joules for counters: the column suffix says
    which), for splitting energy by rail (Jetson CPU vs GPU, Apple CPU/GPU/ANE).
    """

    t_ns: IntArray
    power_w: FloatArray | None
    energy_j: FloatArray | None
    rails: dict[str, FloatArray] = field(default_factory=dict)
    rail_counters: bool = False  # the rail columns are cumulative joules (``_j``), not watts (``_w``)

    def __len__(self) -> int:
        return int(self.t_ns.size)

    def rail(self, name: str) -> Trace:
        """One rail as a trace of its own (its column as the total), for the same attribution."""
        values = self.rails[name]
        if self.rail_counters:
            return Trace(t_ns=self.t_ns, power_w=None, energy_j=values)
        return Trace(t_ns=self.t_ns, power_w=values, energy_j=None)


def _array(values: list[float]) -> FloatArray | None:
    arr = np.asarray(values, dtype=np.float64)
    return None if arr.size == 0 or bool(np.all(np.isnan(arr))) else arr


def trace_from_samples(samples: list[PowerSample], anchor_ns: int = 0) -> Trace:
    """In-memory samples (tests, the GPU check) as a ``Trace``, sorted by time."""
    samples = sorted(samples, key=lambda s: s.t_ns)
    nan = float("nan")
    return Trace(
        t_ns=np.asarray([s.t_ns - anchor_ns for s in samples], dtype=np.int64),
        power_w=_array([nan if s.power_w is None else s.power_w for s in samples]),
        energy_j=_array([nan if s.energy_j is None else s.energy_j for s in samples]),
    )


MAX_TRACE_BYTES = 2**30  # 100 Hz for a day is ~300 MB; a FIFO, /dev/zero or a sparse 1 TB file is refused


def read_trace(path: Path) -> Trace:
    """Read ``power.csv`` (a regular file of at most ``MAX_TRACE_BYTES``, else ``BundleError``); rows
    that do not parse (a torn last line) are skipped."""
    t: list[int] = []
    p: list[float] = []
    e: list[float] = []
    raw = open_regular(path, BundleError, "power trace", MAX_TRACE_BYTES)
    with io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header or header[:3] != ["t_ns", "power_w", "energy_j"]:
            raise ValueError(f"{path}: not an infercost power trace (header {header!r})")
        names = [c[:-2] for c in header[3:]]
        counters = bool(header[3:]) and all(c.endswith("_j") for c in header[3:])
        rails: list[list[float]] = [[] for _ in names]
        nan = math.nan
        for row in reader:
            if len(row) < 3:
                continue
            try:
                ti = int(row[0])
                pi = float(row[1]) if row[1] else nan
                ei = float(row[2]) if row[2] else nan
                ri = [float(v) if v else nan for v in row[3 : 3 + len(names)]]
            except ValueError:
                continue
            t.append(ti)
            p.append(pi)
            e.append(ei)
            for k, column in enumerate(rails):
                column.append(ri[k] if k < len(ri) else nan)
    order = np.argsort(np.asarray(t, dtype=np.int64), kind="stable")
    rail_arrays = {
        n: arr[order] for n, col in zip(names, rails, strict=True) if (arr := _array(col)) is not None
    }
    return Trace(
        t_ns=np.asarray(t, dtype=np.int64)[order],
        power_w=None if (arr := _array(p)) is None else arr[order],
        energy_j=None if (arr2 := _array(e)) is None else arr2[order],
        rails=rail_arrays,
        rail_counters=counters,
    )
