"""Energy per request, derived from the raw trace when a bundle is read (pure functions, numpy only).

Two ways to get energy over a window ``[t0, t1]`` (docs/power.md, "How it is measured"):

- **counter** (NVML total energy, RAPL, interval averages accumulated): the cumulative energy at the window
  edges, interpolated, subtracted. A counter that moves in steps (NVML: every ~100 ms, however often it is
  read) is reconstructed between the readings where it *changed*, so an edge that falls between two updates
  gets the energy accrued so far rather than a whole step or none of it.
- **sampled** (instantaneous power): the trapezoidal integral of the piecewise-linear power curve between
  the edges (the power at each edge interpolated from its neighbouring samples).

Both are exact for what they model: a counter that grows linearly between its updates, and a power curve
that is linear between samples (``tests/power/test_power_attribution.py`` checks 0.1% on synthetic traces with
known energy, RAPL wraparound included).

A request shorter than ``min_periods`` (10) sensor periods cannot be measured on its own: the counter may
not move at all inside it, or a few samples decide everything. It gets energy **apportioned** from the
window of all repetitions of its task (contiguous: the runner runs them back to back), by its share of
their summed duration: ``E_i = E(task window) × d_i / Σ d_j``. If even that window is too short, it gets
the run's mean power while requests were in flight (all requests' energy over all their time) × d_i; if
the requests' total time is too short too, the energy is left empty rather than guessed.
The period used is the larger of the sensor's nominal period and the period seen in the trace (the median
gap between readings that changed).

Requests that overlap (concurrent requests) share each instant's energy equally among the requests in
flight, so the energy of a run is never counted twice. Net energy subtracts the idle baseline over the
time attributed to the request; ``avg_power_w`` is energy over that time. A short request in a run whose
requests overlap is not apportioned from its task's window: that window's energy also fed the other
requests in flight, so shares of it would count those joules again. It gets the run's mean power while
requests were in flight × its share of the busy time (each instant divided among the requests in
flight), so the shares of all requests add up to the busy energy once (docs/capacity.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from bench.power.base import Kind
from bench.power.trace import Trace

__all__ = [
    "MIN_PERIODS",
    "EnergyCurve",
    "EnergyShare",
    "EnergySource",
    "Window",
    "attribute",
    "effective_period_s",
    "idle_power_w",
    "window_energy",
]

EnergySource = Literal["counter", "sampled", "apportioned", "estimated"]
MIN_PERIODS = 10

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Window:
    """A request's window on the run's clock (ns relative to the manifest anchor) and its group (task)."""

    group: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class EnergyShare:
    """What one request is attributed; all None where the trace cannot say."""

    energy_j: float | None = None
    energy_net_j: float | None = None
    avg_power_w: float | None = None
    source: EnergySource | None = None


class EnergyCurve:
    """Cumulative energy (J) as a function of time (ns) from one column of a trace; NaN outside it."""

    def __init__(self, trace: Trace, kind: Kind) -> None:
        t = trace.t_ns.astype(np.float64)
        if kind == "counter":
            if trace.energy_j is None:
                raise ValueError("the trace has no energy_j column")
            ok = ~np.isnan(trace.energy_j)
            t, e = t[ok], trace.energy_j[ok]
            moved = np.flatnonzero(np.diff(e) != 0) + 1  # readings where the counter changed
            self._describe(t, e, moved)
            # Only readings where the counter moved are current; a reading before the first move or after
            # the last may lag the energy already used by up to a whole update period, so the curve (and
            # what it can measure) runs from the first change to the last.
            self.xs, self.ys = t[moved], e[moved]
        else:
            if trace.power_w is None:
                raise ValueError("the trace has no power_w column")
            ok = ~np.isnan(trace.power_w)
            t, p = t[ok], trace.power_w[ok]
            self.xs, self.power = t, p
            steps = np.diff(t) * (p[1:] + p[:-1]) / 2.0 / 1e9
            self.ys = np.concatenate(([0.0], np.cumsum(steps))) if t.size else t
            self._describe(t, p, np.flatnonzero(np.diff(p) != 0) + 1)
            self.sample_gap_s = float(np.median(np.diff(t))) / 1e9 if t.size > 1 else 0.0
        self.kind: Kind = kind

    def _describe(self, t: FloatArray, v: FloatArray, moved: npt.NDArray[np.intp]) -> None:
        """How often the readings changed: a source slower than its reader repeats values."""
        pairs = max(v.size - 1, 1)
        self.flat_share = 1.0 - moved.size / pairs
        # a median over a handful of changes says nothing (a constant synthetic trace, a stalled sensor)
        self.change_gap_s = float(np.median(np.diff(t[moved]))) / 1e9 if moved.size > 10 else 0.0
        self.sample_gap_s = 0.0

    def __len__(self) -> int:
        return int(self.xs.size)

    def at(self, t_ns: npt.ArrayLike) -> FloatArray:
        t = np.asarray(t_ns, dtype=np.float64)
        if self.xs.size < 2:
            return np.full(t.shape, np.nan)
        out = np.full(t.shape, np.nan)
        inside = (t >= self.xs[0]) & (t <= self.xs[-1])
        ti = t[inside]
        if self.kind == "counter":
            out[inside] = np.interp(ti, self.xs, self.ys)
        else:
            k = np.clip(np.searchsorted(self.xs, ti, side="right") - 1, 0, self.xs.size - 2)
            p_t = np.interp(ti, self.xs, self.power)
            out[inside] = self.ys[k] + (ti - self.xs[k]) * (self.power[k] + p_t) / 2.0 / 1e9
        return out


def window_energy(curve: EnergyCurve, t0_ns: int, t1_ns: int) -> float | None:
    """Energy (J) between two instants on the trace's clock; None outside the trace."""
    c = curve.at([t0_ns, t1_ns])
    if np.isnan(c).any():
        return None
    return float(c[1] - c[0])


def idle_power_w(curve: EnergyCurve, t0_ns: int, t1_ns: int) -> float | None:
    """Mean power over a window (the idle baseline measured before the run)."""
    if t1_ns <= t0_ns:
        return None
    e = window_energy(curve, t0_ns, t1_ns)
    return None if e is None else e / ((t1_ns - t0_ns) / 1e9)


def effective_period_s(curve: EnergyCurve, nominal_s: float) -> float:
    """The time resolution of the trace: the source's nominal update period, raised to what the trace shows.

    Where many consecutive readings repeat (more than 10%), the source may update more slowly than it was
    read, and the median gap between changes is its real period (NVML's counter: ~100 ms); a sensor whose
    readings merely repeat now and then (quantized steady power) has a median change gap of a tick or two.
    A counter that changes between every two readings updates at least as often as it is read; its request
    edges are read directly (``PowerSampler.mark``), so its nominal period stands. Power samples are also
    limited by how often they were taken.
    """
    period = max(nominal_s, curve.sample_gap_s)
    if curve.flat_share > 0.1:
        period = max(period, curve.change_gap_s)
    return period


def _shared(curve: EnergyCurve, starts: FloatArray, ends: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per window: energy and time, each instant shared equally among the windows in flight."""
    edges = np.unique(np.concatenate((starts, ends)))
    c = curve.at(edges)
    seg_e, seg_t = np.diff(c), np.diff(edges)
    i0 = np.searchsorted(edges, starts)
    i1 = np.searchsorted(edges, ends)
    count = np.zeros(edges.size, dtype=np.int64)
    np.add.at(count, i0, 1)
    np.add.at(count, i1, -1)
    active = np.cumsum(count)[:-1]
    busy = active > 0
    missing = busy & np.isnan(seg_e)
    e_per = np.where(busy & ~missing, np.nan_to_num(seg_e) / np.maximum(active, 1), 0.0)
    t_per = np.where(busy, seg_t / np.maximum(active, 1), 0.0)
    cum_e = np.concatenate(([0.0], np.cumsum(e_per)))
    cum_t = np.concatenate(([0.0], np.cumsum(t_per)))
    cum_missing = np.concatenate(([0], np.cumsum(missing)))
    energy = cum_e[i1] - cum_e[i0]
    energy[(cum_missing[i1] - cum_missing[i0]) > 0] = np.nan
    return energy, cum_t[i1] - cum_t[i0]


def attribute(
    windows: Sequence[Window],
    trace: Trace,
    *,
    kind: Kind,
    period_s: float,
    idle_w: float | None = None,
    estimated: bool = False,
    min_periods: int = MIN_PERIODS,
) -> list[EnergyShare]:
    """Energy of every window (see the module docstring for the rules); one ``EnergyShare`` per window."""
    out = [EnergyShare()] * len(windows)
    valid = [i for i, w in enumerate(windows) if w.end_ns > w.start_ns]
    if not valid or len(trace) < 2:
        return out
    try:
        curve = EnergyCurve(trace, kind)
    except ValueError:
        return out
    threshold_ns = min_periods * effective_period_s(curve, period_s) * 1e9
    starts = np.asarray([windows[i].start_ns for i in valid], dtype=np.float64)
    ends = np.asarray([windows[i].end_ns for i in valid], dtype=np.float64)
    direct_e, direct_t = _shared(curve, starts, ends)

    def span(members: list[int]) -> tuple[float | None, float, float]:
        s, e = min(starts[j] for j in members), max(ends[j] for j in members)
        total_d = float(sum(ends[j] - starts[j] for j in members))
        if e - s < threshold_ns:
            return None, float(e - s), total_d
        return window_energy(curve, int(s), int(e)), float(e - s), total_d

    groups: dict[str, list[int]] = defaultdict(list)
    for k, i in enumerate(valid):
        groups[windows[i].group].append(k)
    group_span = {g: span(m) for g, m in groups.items()}
    # the run-level fallback: mean power over the time requests were in flight (gaps between tasks,
    # cooldowns, idle phases excluded), from every request's own measurement
    known = ~np.isnan(direct_e)
    busy_ns = float(direct_t[known].sum())
    run_power_w = float(direct_e[known].sum()) / (busy_ns / 1e9) if busy_ns >= threshold_ns else None
    measured: EnergySource = "counter" if kind == "counter" else "sampled"
    # overlapping windows: a request's share of the time is less than its length somewhere
    overlapping = float(direct_t.sum()) < float((ends - starts).sum()) * (1 - 1e-9)

    for k, i in enumerate(valid):
        d = float(ends[k] - starts[k])
        energy: float | None
        if d >= threshold_ns:
            energy = None if np.isnan(direct_e[k]) else float(direct_e[k])
            t_ns = float(direct_t[k])
            source = measured
        elif overlapping:
            t_ns = float(direct_t[k])
            energy = None if run_power_w is None else run_power_w * t_ns / 1e9
            source = "apportioned"
        else:
            e_win, len_win, sum_d = group_span[windows[i].group]
            if e_win is not None:
                energy, t_ns = e_win * d / sum_d, len_win * d / sum_d
            else:
                energy = None if run_power_w is None else run_power_w * d / 1e9
                t_ns = d
            source = "apportioned"
        if energy is None or t_ns <= 0:
            continue
        seconds = t_ns / 1e9
        out[i] = EnergyShare(
            energy_j=energy,
            energy_net_j=None if idle_w is None else energy - idle_w * seconds,
            avg_power_w=energy / seconds,
            source="estimated" if estimated else source,
        )
    return out
