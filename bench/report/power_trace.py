"""Read a bundle's ``power.csv`` (the raw power trace) for plotting: seconds from the first sample, watts.

The trace is written by the power layer (``t_ns,power_w,energy_j,<rail>_w|_j``); this reader also accepts
other likely column names (time: ``perf_ns``/``t_s``/``elapsed_s``/``t_ms``/ISO ``utc``; power: ``watts``/
``power_mw``/any ``*_w``). For counter sensors, whose ``power_w`` is empty, power comes from the cumulative
``energy_j``. When it cannot tell, it says which columns it found rather than plotting a guess. Long
traces are reduced to at most ``max_points`` bins (mean, min, max) so a six-hour 100 Hz trace draws as
fast as a short one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BundleError
from bench.power.trace import MAX_TRACE_BYTES
from bench.userfiles import open_regular

__all__ = ["PowerTrace", "read_power_trace"]

_TIME_SCALES = {
    "t_ns": 1e-9, "time_ns": 1e-9, "perf_ns": 1e-9, "timestamp_ns": 1e-9, "ns": 1e-9,
    "t_ms": 1e-3, "time_ms": 1e-3, "elapsed_ms": 1e-3,
    "t_s": 1.0, "time_s": 1.0, "elapsed_s": 1.0, "seconds": 1.0, "t": 1.0,
}  # fmt: skip
_TIME_ISO = ("utc", "time_utc", "timestamp_utc", "timestamp", "time")
_POWER_SCALES = {"power_w": 1.0, "total_w": 1.0, "watts": 1.0, "w": 1.0, "power": 1.0, "power_mw": 1e-3}


@dataclass(frozen=True)
class PowerTrace:
    t_s: np.ndarray  # seconds since the first sample (bin centres when reduced)
    power_w: np.ndarray  # mean watts per point
    low_w: np.ndarray | None  # per-bin min/max when reduced, else None
    high_w: np.ndarray | None
    n_samples: int
    power_column: str


def _time_seconds(df: pd.DataFrame) -> tuple[np.ndarray | None, str | None]:
    cols = {c.lower(): c for c in df.columns}
    for name, scale in _TIME_SCALES.items():
        if name in cols:
            values = pd.to_numeric(df[cols[name]], errors="coerce").to_numpy(dtype=float)
            return values * scale, cols[name]
    for name in _TIME_ISO:
        if name in cols:
            stamps = pd.to_datetime(df[cols[name]], errors="coerce", utc=True)
            values = (stamps - stamps.min()).dt.total_seconds().to_numpy(dtype=float)
            return values, cols[name]
    return None, None


def _power_watts(df: pd.DataFrame) -> tuple[np.ndarray | None, str | None]:
    cols = {c.lower(): c for c in df.columns}
    for name, scale in _POWER_SCALES.items():
        if name in cols:
            return pd.to_numeric(df[cols[name]], errors="coerce").to_numpy(dtype=float) * scale, cols[name]
    for low, col in cols.items():
        if low.endswith("_w"):
            return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float), col
    return None, None


def _power_from_energy(t: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, str, np.ndarray]:
    """Counter sensors (RAPL, NVML total energy) log cumulative joules: power = ΔJ / Δt between readings,
    placed at the midpoint of each interval; readings where the counter did not move are merged."""
    ok = np.isfinite(t) & np.isfinite(energy)
    t, energy = t[ok], energy[ok]
    order = np.argsort(t, kind="stable")
    t, energy = t[order], energy[order]
    moved = np.concatenate([[True], np.diff(energy) != 0]) if energy.size else np.zeros(0, dtype=bool)
    t, energy = t[moved], energy[moved]
    dt = np.diff(t)
    keep = dt > 0
    power = np.diff(energy)[keep] / dt[keep]
    mid = ((t[:-1] + t[1:]) / 2)[keep]
    return power, "energy_j (ΔJ/Δt)", mid


def read_power_trace(path: Path, max_points: int = 2000) -> tuple[PowerTrace | None, str | None]:
    """(trace, None), or (None, why it cannot be plotted). Only a regular file is read (a FIFO or a link
    to /dev/zero in a bundle would hang the report or fill memory)."""
    try:
        with open_regular(path, BundleError, "power trace", MAX_TRACE_BYTES) as f:
            df = pd.read_csv(f, comment="#")
    except (OSError, ValueError, BundleError) as exc:
        return None, f"{path.name} cannot be read ({exc})"
    t, _ = _time_seconds(df)
    w, w_col = _power_watts(df)
    if t is not None and (w is None or not np.isfinite(w).any()) and "energy_j" in df.columns:
        w, w_col, t = _power_from_energy(
            t, pd.to_numeric(df["energy_j"], errors="coerce").to_numpy(dtype=float)
        )
    if t is None or w is None or w_col is None:
        found = ", ".join(map(str, df.columns)) or "none"
        return None, f"{path.name} has no recognisable time and power columns (found: {found})"
    ok = np.isfinite(t) & np.isfinite(w)
    t, w = t[ok], w[ok]
    if t.size < 2:
        return None, f"{path.name} has fewer than two samples"
    order = np.argsort(t, kind="stable")
    t, w = t[order] - t[order][0], w[order]
    if t.size <= max_points:
        return PowerTrace(t, w, None, None, int(t.size), str(w_col)), None
    edges = np.linspace(t[0], t[-1], max_points + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max_points - 1)
    counts = np.bincount(idx, minlength=max_points)
    keep = counts > 0
    sums = np.bincount(idx, weights=w, minlength=max_points)
    lows = np.full(max_points, np.inf)
    highs = np.full(max_points, -np.inf)
    np.minimum.at(lows, idx, w)
    np.maximum.at(highs, idx, w)
    centres = (edges[:-1] + edges[1:]) / 2
    return (
        PowerTrace(
            centres[keep],
            sums[keep] / counts[keep],
            lows[keep],
            highs[keep],
            int(t.size),
            str(w_col),
        ),
        None,
    )
