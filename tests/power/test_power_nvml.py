"""NVML on a real NVIDIA GPU (skips cleanly without one): the energy counter, instantaneous power, the
sampler at 100 Hz and attribution on the trace it writes.

On the GPU machine (see ../shared/gpu/README.md): ``python3 -m pytest -m gpu tests/power/test_power_nvml.py``.
Imports only the standard library, numpy, pytest and nvidia-ml-py (no pydantic there)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.gpu
pynvml = pytest.importorskip("pynvml")


@pytest.fixture(autouse=True, scope="module")
def _gpu() -> None:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVIDIA GPU here ({exc})")
    pynvml.nvmlShutdown()


def test_counter_and_instant_power() -> None:
    from bench.power.nvml import Nvml

    s = Nvml()
    try:
        assert s.kind == "counter" and s.instant_power, "needs Volta+ and a driver with POWER_INSTANT"
        a = s.read()
        time.sleep(0.5)
        b = s.read()
        assert a.energy_j is not None and b.energy_j is not None and b.power_w is not None
        watts = (b.energy_j - a.energy_j) / ((b.t_ns - a.t_ns) / 1e9)
        assert 5.0 < watts < 2000.0 and 5.0 < b.power_w < 2000.0
        assert len(b.rails) == len(s.rail_names) >= 1
        assert s.info()["counter"] == "nvmlDeviceGetTotalEnergyConsumption"
    finally:
        s.close()
        s.close()  # idempotent


def test_sampler_trace_counter_and_sampled_agree_at_idle(tmp_path: Path) -> None:
    from bench.power.attribution import EnergyCurve, Window, attribute, effective_period_s
    from bench.power.nvml import Nvml
    from bench.power.sampler import PowerSampler
    from bench.power.trace import read_trace

    s = Nvml()
    anchor = time.perf_counter_ns()
    sampler = PowerSampler(s, tmp_path / "power.csv", anchor, rate_hz=100)
    sampler.start()
    idle = sampler.measure_idle(2.0)
    stats = sampler.stop()
    s.close()
    assert stats.rows >= 150 and stats.errors == 0 and stats.cpu_share < 0.05
    assert idle.idle_w is not None and 5.0 < idle.idle_w < 1000.0
    trace = read_trace(tmp_path / "power.csv")
    period = effective_period_s(EnergyCurve(trace, "counter"), s.period_s)
    assert 0.005 <= period <= 0.5  # the counter's own update period (~0.1 s on an H200)
    window = [Window("idle", idle.start_ns + 300_000_000, idle.end_ns - 300_000_000)]
    (counter,) = attribute(window, trace, kind="counter", period_s=s.period_s)
    (sampled,) = attribute(window, trace, kind="power", period_s=0.01)
    assert counter.source == "counter" and sampled.source == "sampled"
    assert counter.energy_j is not None and sampled.energy_j is not None
    assert abs(sampled.energy_j - counter.energy_j) / counter.energy_j < 0.05  # steady idle power


def test_auto_picks_nvml() -> None:
    from bench.power.registry import select_sensor

    sel = select_sensor("auto", selected_by="auto")
    assert sel.sensor is not None and sel.sensor.name == "nvml"
    sel.sensor.close()
