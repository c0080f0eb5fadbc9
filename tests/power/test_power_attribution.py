"""Energy attribution on synthetic traces with known energy: trapezoidal integration of power samples, counter
interpolation across RAPL wraparounds, NVML-like stepped counters, apportioning of short requests,
overlapping requests, idle subtraction, and the estimated label."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from bench.power.attribution import (
    EnergyCurve,
    EnergyShare,
    Window,
    attribute,
    effective_period_s,
    window_energy,
)
from bench.power.base import PowerSample
from bench.power.rapl import Rapl
from bench.power.trace import TraceWriter, read_trace, trace_from_samples
from tests.helpers.power import rapl_tree, set_value

SEC = 1_000_000_000


def power_at(t_s: float) -> float:
    """A bursty-but-smooth load: 100 W ± 50 W with a 0.7 s period."""
    return 100.0 + 50.0 * math.sin(2 * math.pi * t_s / 0.7)


def energy_between(t0_s: float, t1_s: float) -> float:
    """The exact integral of ``power_at``."""
    k = 0.7 / (2 * math.pi)
    return 100.0 * (t1_s - t0_s) - 50.0 * k * (math.cos(t1_s / k) - math.cos(t0_s / k))


def sampled_trace(
    duration_s: float, hz: float = 100.0, jitter_s: float = 0.001, seed: int = 1
) -> list[PowerSample]:
    rng = random.Random(seed)
    out, t = [], 0.0
    while t <= duration_s:
        ts = max(t + rng.uniform(-jitter_s, jitter_s), 0.0)
        out.append(PowerSample(t_ns=int(ts * SEC), power_w=power_at(ts)))
        t += 1 / hz
    return out


def random_windows(rng: random.Random, n: int, lo_s: float, hi_s: float, span_s: float) -> list[Window]:
    """``n`` back-to-back windows of random length with random gaps, inside ``span_s`` (not overlapping)."""
    lengths = [rng.uniform(lo_s, hi_s) for _ in range(n)]
    room = span_s - 0.1 - sum(lengths)
    assert room > 0
    gaps = [rng.random() for _ in range(n)]
    out, t = [], 0.05
    for i, d in enumerate(lengths):
        t += room * gaps[i] / sum(gaps)
        out.append(Window(f"t{i}", int(t * SEC), int((t + d) * SEC)))
        t += d
    return out


def rel_err(got: float | None, want: float) -> float:
    assert got is not None
    return abs(got - want) / want


# --------------------------------------------------------------------------------- sampled power
def test_trapezoid_of_power_samples_is_exact_to_0_1_percent() -> None:
    trace = trace_from_samples(sampled_trace(12.0))
    windows = random_windows(random.Random(7), 8, 0.3, 1.2, 12.0)
    shares = attribute(windows, trace, kind="power", period_s=0.01)
    for w, s in zip(windows, shares, strict=True):
        assert s.source == "sampled"
        assert rel_err(s.energy_j, energy_between(w.start_ns / SEC, w.end_ns / SEC)) < 0.001


def test_piecewise_linear_power_integrates_exactly() -> None:
    samples = [
        PowerSample(t_ns=0, power_w=10.0),
        PowerSample(t_ns=SEC, power_w=30.0),
        PowerSample(t_ns=2 * SEC, power_w=30.0),
    ]
    curve = EnergyCurve(trace_from_samples(samples), "power")
    assert window_energy(curve, 0, 2 * SEC) == pytest.approx(50.0)
    assert window_energy(curve, SEC // 2, 3 * SEC // 2) == pytest.approx(0.5 * (20 + 30) / 2 + 0.5 * 30)
    assert window_energy(curve, -1, SEC) is None  # outside the trace: unknown, never 0


# ------------------------------------------------------------------------------ counters + wraps
def wrapping_rapl_samples(
    root: Path, windows: list[Window], duration_s: float
) -> tuple[list[PowerSample], int]:
    """A RAPL tree whose counter wraps every ~0.5 s (range 50 J at ~100 W) carrying ``power_at``, read by
    the real reader at 10 Hz plus at every window edge, as the sampler does; returns samples and wraps."""
    energy_file = rapl_tree(root, package_uj=49_000_000, dram_uj=0)
    (energy_file.parent / "max_energy_range_uj").write_text("50000000\n")
    dram = root / "sys/class/powercap/intel-rapl:0:1"
    for f in dram.iterdir():
        f.unlink()
    dram.rmdir()
    t_now = [0.0]
    sensor = Rapl(root, clock=lambda: int(t_now[0] * SEC))
    edges = {*(w.start_ns / SEC for w in windows), *(w.end_ns / SEC for w in windows)}
    samples = []
    for t in sorted({*(i / 10 for i in range(int(duration_s * 10) + 1)), *edges}):
        t_now[0] = t
        set_value(energy_file, (49_000_000 + round(energy_between(0.0, t) * 1e6)) % 50_000_000)
        samples.append(sensor.read())
    sensor.close()
    return samples, sensor.wraps


def max_rel_error(windows: list[Window], shares: list[EnergyShare]) -> float:
    return max(
        rel_err(s.energy_j, energy_between(w.start_ns / SEC, w.end_ns / SEC))
        for w, s in zip(windows, shares, strict=True)
    )


def test_rapl_counter_across_wraparounds_is_exact(tmp_path: Path) -> None:
    windows = random_windows(random.Random(3), 8, 0.2, 1.0, 10.0)
    samples, wraps = wrapping_rapl_samples(tmp_path, windows, 10.0)
    assert wraps >= 15  # ~1000 J through a 50 J counter
    shares = attribute(windows, trace_from_samples(samples), kind="counter", period_s=0.001)
    assert all(s.source == "counter" for s in shares)
    assert max_rel_error(windows, shares) < 0.001


def nvml_like(duration_s: float, step_s: float = 0.1, read_hz: float = 100.0) -> list[PowerSample]:
    """A counter that the hardware updates every ``step_s`` (NVML's total energy), read at ``read_hz``,
    with instantaneous power beside it."""
    out, t = [], 0.0
    while t <= duration_s:
        updated = math.floor(t / step_s) * step_s
        out.append(PowerSample(t_ns=int(t * SEC), power_w=power_at(t), energy_j=energy_between(0.0, updated)))
        t += 1 / read_hz
    return out


def test_stepped_counter_is_reconstructed_between_its_updates() -> None:
    trace = trace_from_samples(nvml_like(12.0))
    curve = EnergyCurve(trace, "counter")
    assert effective_period_s(curve, 0.1) == pytest.approx(0.1, rel=0.05)
    windows = random_windows(random.Random(11), 5, 1.0, 2.0, 11.7)  # the trace runs on past the last
    shares = attribute(windows, trace, kind="counter", period_s=0.1)
    sampled = attribute(windows, trace, kind="power", period_s=0.01)
    for w, c, p in zip(windows, shares, sampled, strict=True):
        truth = energy_between(w.start_ns / SEC, w.end_ns / SEC)
        assert c.source == "counter" and rel_err(c.energy_j, truth) < 0.02
        assert p.source == "sampled" and rel_err(p.energy_j, truth) < 0.001


def test_a_stepped_counter_makes_short_requests_apportioned() -> None:
    trace = trace_from_samples(nvml_like(6.0))
    # task "short": five 0.1 s requests back to back (20 ms gaps); task "long": one 2 s request
    windows = [Window("short", int((1 + 0.12 * i) * SEC), int((1.1 + 0.12 * i) * SEC)) for i in range(5)]
    windows.append(Window("long", 3 * SEC, 5 * SEC))
    shares = attribute(windows, trace, kind="counter", period_s=0.1)
    assert [s.source for s in shares] == ["apportioned"] * 5 + ["counter"]
    # the short task's window (1.0 .. 1.58 s) is shorter than 10 periods: the run's mean power while
    # requests ran (all 2.5 s of them) is used instead
    busy = sum(energy_between(w.start_ns / SEC, w.end_ns / SEC) for w in windows) / 2.5
    for s in shares[:5]:
        assert s.energy_j == pytest.approx(busy * 0.1, rel=0.02)


# ---------------------------------------------------------------------------------- apportioning
def constant_trace(levels: list[tuple[float, float, float]], hz: float = 100.0) -> list[PowerSample]:
    """Power samples of a piecewise-constant load: (start s, end s, watts) segments."""
    out = []
    for a, b, w in levels:
        n = round((b - a) * hz)
        out += [PowerSample(t_ns=round((a + i / hz) * SEC), power_w=w) for i in range(n)]
    return out


def test_short_requests_get_their_tasks_window_by_duration_share() -> None:
    # task A: four 20 ms requests with 5 ms gaps at 100 W (gaps 100 W too), inside a 0.2 s task window
    trace = trace_from_samples(constant_trace([(0.0, 1.0, 100.0)]))
    durations = [0.02, 0.03, 0.02, 0.05]
    windows, t = [], 0.1
    for d in durations:
        windows.append(Window("A", round(t * SEC), round((t + d) * SEC)))
        t += d + 0.005
    shares = attribute(windows, trace, kind="power", period_s=0.002)  # 10 periods of 10 ms samples
    span = t - 0.005 - 0.1
    for d, s in zip(durations, shares, strict=True):
        assert s.source == "apportioned"
        assert s.energy_j == pytest.approx(100.0 * span * d / sum(durations), rel=1e-6)


def test_nothing_long_enough_leaves_energy_empty() -> None:
    trace = trace_from_samples(constant_trace([(0.0, 1.0, 50.0)]))
    shares = attribute([Window("A", 10_000_000, 20_000_000)], trace, kind="power", period_s=0.1)
    assert shares[0].energy_j is None and shares[0].source is None


def test_overlapping_requests_share_energy_and_idle() -> None:
    trace = trace_from_samples(constant_trace([(0.0, 3.0, 100.0)]))
    windows = [Window("a", 0, 2 * SEC), Window("b", SEC, 2 * SEC)]
    a, b = attribute(windows, trace, kind="power", period_s=0.01, idle_w=20.0)
    assert a.energy_j == pytest.approx(150.0) and b.energy_j == pytest.approx(50.0)  # [1,2] s split in two
    assert a.energy_j + b.energy_j == pytest.approx(200.0)
    assert b.energy_net_j == pytest.approx(50.0 - 20.0 * 0.5) and b.avg_power_w == pytest.approx(100.0)


def test_short_overlapping_requests_are_not_counted_twice() -> None:
    """Two tasks' short requests run side by side (concurrency 2): each task's window spans the other's
    requests too, so shares of that window would count the device's energy twice (400 J for 200 J)."""
    trace = trace_from_samples(constant_trace([(0.0, 3.0, 100.0)]))
    half = SEC // 2
    windows = [Window(g, i * half, (i + 1) * half) for g in ("a", "b") for i in range(4)]
    shares = attribute(windows, trace, kind="power", period_s=0.1, idle_w=20.0)  # 1 s threshold: all short
    assert {s.source for s in shares} == {"apportioned"}
    assert sum(s.energy_j or 0.0 for s in shares) == pytest.approx(200.0, rel=1e-6)  # 100 W × 2 s busy, once
    assert all(s.energy_j == pytest.approx(25.0, rel=1e-6) for s in shares)  # 100 W × 0.25 s (half of 0.5 s)
    assert all(s.energy_net_j == pytest.approx(25.0 - 20.0 * 0.25, rel=1e-6) for s in shares)


def test_net_energy_and_average_power() -> None:
    trace = trace_from_samples(constant_trace([(0.0, 1.0, 20.0), (1.0, 3.0, 80.0), (3.0, 4.0, 20.0)]))
    (s,) = attribute([Window("a", SEC, 3 * SEC)], trace, kind="power", period_s=0.01, idle_w=20.0)
    assert s.energy_j == pytest.approx(160.0, rel=0.01)
    assert s.energy_net_j == pytest.approx(120.0, rel=0.02) and s.avg_power_w == pytest.approx(80.0, rel=0.01)


def test_estimates_are_labelled_estimated() -> None:
    trace = trace_from_samples(constant_trace([(0.0, 2.0, 30.0)]))
    shares = attribute(
        [Window("a", 0, SEC), Window("b", SEC, SEC + 1_000_000)],
        trace,
        kind="power",
        period_s=0.01,
        estimated=True,
    )
    assert [s.source for s in shares] == ["estimated", "estimated"]


def test_zero_length_and_uncovered_windows() -> None:
    trace = trace_from_samples(constant_trace([(0.0, 1.0, 30.0)]))
    shares = attribute([Window("a", 5, 5), Window("b", 2 * SEC, 4 * SEC)], trace, kind="power", period_s=0.01)
    assert all(s.energy_j is None for s in shares)


# ------------------------------------------------------------------------------------- the file
def test_power_csv_rows_reach_the_file_at_each_flush(tmp_path: Path) -> None:
    """Rows are formatted in a batch at flush (about once a second in a run), not per tick."""
    path = tmp_path / "power.csv"
    w = TraceWriter(path, ("VDD_IN",), "power", anchor_ns=0)
    w.write(PowerSample(t_ns=10, power_w=5.0, rails=(5.0,)))
    w.write(PowerSample(t_ns=20, power_w=None, rails=()))
    assert w.rows == 2
    w.flush()
    assert path.read_text().splitlines() == [
        "t_ns,power_w,energy_j,VDD_IN_w",
        "10,5.000000,,5.000000",
        "20,,,",
    ]
    w.write(PowerSample(t_ns=30, power_w=6.0, rails=(6.0,)))
    w.close()
    assert path.read_text().splitlines()[-1] == "30,6.000000,,6.000000" and w.rows == 3


def test_power_csv_roundtrip_and_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "power.csv"
    w = TraceWriter(path, ("VDD_IN", "VDD_SOC"), "power", anchor_ns=1_000)
    for s in sampled_trace(1.0):
        w.write(PowerSample(t_ns=s.t_ns + 1_000, power_w=s.power_w, rails=(s.power_w or 0.0, 1.5)))
    w.close()
    with path.open("a") as f:
        f.write("123456,99.")  # a kill mid-line
    trace = read_trace(path)
    assert path.read_text().splitlines()[0] == "t_ns,power_w,energy_j,VDD_IN_w,VDD_SOC_w"
    assert len(trace) == len(sampled_trace(1.0)) and trace.energy_j is None
    assert trace.power_w is not None and np.all(np.diff(trace.t_ns) >= 0)
