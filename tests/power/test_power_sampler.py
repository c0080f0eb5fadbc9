"""The sampler thread: rate, request-edge marks, idle baseline, crash-safe flushing, failing sensors, and
the meter that wires it into a bundle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.power.base import Kind, PowerSample
from bench.power.jetson_ina3221 import JetsonIna3221
from bench.power.meter import PowerMeter
from bench.power.rapl import Rapl
from bench.power.registry import Selection
from bench.power.sampler import COUNTER_HZ, MIN_RATE_HZ, RATE_CAP_SHARE, THROTTLE_WINDOW_S, PowerSampler
from bench.power.trace import read_trace
from tests.helpers.power import ORIN_NANO_WATTS, orin_nano_tree, rapl_tree


def test_power_sensor_sampled_at_the_full_rate_with_marks(tmp_path: Path) -> None:
    orin_nano_tree(tmp_path / "root")
    sensor = JetsonIna3221(tmp_path / "root", nvpmodel="/nonexistent")
    anchor = time.perf_counter_ns()
    sampler = PowerSampler(sensor, tmp_path / "power.csv", anchor, rate_hz=100)
    sampler.start()
    time.sleep(0.5)
    t_mark = time.perf_counter_ns()
    sampler.mark()
    time.sleep(0.3)
    stats = sampler.stop()
    assert sampler.stop() is stats
    trace = read_trace(tmp_path / "power.csv")
    assert 30 <= stats.rows <= 110 and len(trace) == stats.rows  # ~0.8 s + settle at 100 Hz (~82)
    assert trace.power_w is not None and trace.power_w == pytest.approx(ORIN_NANO_WATTS["VDD_IN"])
    assert (trace.t_ns >= t_mark - anchor).any() and trace.t_ns[0] >= 0
    assert stats.errors == 0 and 0 <= stats.cpu_share < 0.2
    sensor.close()


def test_counter_polled_slowly_between_marks(tmp_path: Path) -> None:
    rapl_tree(tmp_path / "root")
    sensor = Rapl(tmp_path / "root")
    sampler = PowerSampler(sensor, tmp_path / "power.csv", time.perf_counter_ns(), rate_hz=100)
    assert sampler.rate_hz == COUNTER_HZ
    sampler.start()
    for _ in range(20):
        sampler.mark()
    time.sleep(0.35)
    stats = sampler.stop(settle=False)
    assert 20 + 1 <= stats.rows <= 20 + 9  # the marks, ~3 ticks at 10 Hz, start and stop
    assert read_trace(tmp_path / "power.csv").energy_j is not None
    sensor.close()


def started_jetson_sampler(tmp_path: Path, flush_every_s: float) -> tuple[JetsonIna3221, PowerSampler]:
    """The Orin Nano layout read by a running 100 Hz sampler into ``tmp_path/power.csv``."""
    orin_nano_tree(tmp_path / "root")
    sensor = JetsonIna3221(tmp_path / "root", nvpmodel="/nonexistent")
    sampler = PowerSampler(
        sensor, tmp_path / "power.csv", time.perf_counter_ns(), flush_every_s=flush_every_s
    )
    sampler.start()
    return sensor, sampler


def test_rows_reach_the_disk_while_the_run_goes(tmp_path: Path) -> None:
    sensor, sampler = started_jetson_sampler(tmp_path, flush_every_s=0.1)
    time.sleep(0.5)
    on_disk = (tmp_path / "power.csv").read_text().splitlines()  # as a crash would leave it
    sampler.stop(settle=False)
    # ~50 ticks at 100 Hz, flushed every 0.1 s; without flushing only the header would be there. A busy
    # CI machine delays ticks (the sampler may even lower its rate, recorded in the manifest), so the
    # bound is what a sampler at a fifth of its rate still leaves on disk.
    assert len(on_disk) - 1 >= 5 and on_disk[0].startswith("t_ns,power_w,energy_j,VDD_IN_w")
    sensor.close()


@dataclass
class FakePower:
    """A live instantaneous-power sensor reading 10 W; subclasses change how a read goes."""

    name: str = "fake"
    kind: Kind = "power"
    period_s: float = 0.01
    estimated: bool = False
    live: bool = True
    rail_names: tuple[str, ...] = ()

    def read(self) -> PowerSample:
        return PowerSample(t_ns=time.perf_counter_ns(), power_w=10.0)

    def info(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


@dataclass
class Flaky(FakePower):
    """A sensor that fails every other read, then always."""

    calls: int = 0
    fail_from: int = 10**9

    def read(self) -> PowerSample:
        self.calls += 1
        if self.calls % 2 == 0 or self.calls >= self.fail_from:
            raise OSError("i2c timeout")
        return super().read()


def test_failing_reads_are_counted_never_raised(tmp_path: Path) -> None:
    sensor = Flaky()
    sampler = PowerSampler(sensor, tmp_path / "power.csv", time.perf_counter_ns(), rate_hz=200)
    sampler.start()
    time.sleep(0.2)
    sampler.mark()
    stats = sampler.stop(settle=False)
    assert stats.errors > 5 and stats.rows > 5 and stats.last_error == "OSError: i2c timeout"
    assert not stats.stopped_early


def test_a_dead_sensor_stops_the_sampler_not_the_run(tmp_path: Path) -> None:
    sensor = Flaky(fail_from=3)
    sampler = PowerSampler(sensor, tmp_path / "power.csv", time.perf_counter_ns(), rate_hz=10)
    sampler.start()
    for _ in range(150):
        sampler.mark()
    stats = sampler.stop()
    assert sensor.calls < 150  # it stopped reading
    assert stats.stopped_early and stats.errors >= 100


class Costly(FakePower):
    """A sensor whose every read burns ~3 ms of CPU (an NVML read under gVisor cost ~4.5 ms)."""

    def read(self) -> PowerSample:
        end = time.thread_time_ns() + 3_000_000
        while time.thread_time_ns() < end:
            pass
        return super().read()


def test_a_sensor_with_costly_reads_is_sampled_less_often(tmp_path: Path) -> None:
    sampler = PowerSampler(Costly(), tmp_path / "power.csv", time.perf_counter_ns(), flush_every_s=0.25)
    sampler.start()
    time.sleep(2.5)
    stats = sampler.stop(settle=False)
    lowered = stats.rate_lowered
    assert lowered is not None and lowered["from_hz"] == 100.0 and lowered["cpu_share"] > RATE_CAP_SHARE
    # aimed at 1% of a core: 3 ms reads -> ~3.3 Hz (bounded below by MIN_RATE_HZ)
    assert MIN_RATE_HZ <= lowered["to_hz"] < 10
    # judged over a whole window, not each quarter-second flush (a short window misjudged a cheap sensor)
    assert lowered["after_s"] >= THROTTLE_WINDOW_S
    assert stats.cpu_share < 0.5 and stats.rows < 160  # 100 Hz for 2.5 s would be 250 rows


def test_a_cheap_sensor_keeps_its_rate(tmp_path: Path) -> None:
    sensor, sampler = started_jetson_sampler(tmp_path, flush_every_s=0.25)
    time.sleep(1.0)
    stats = sampler.stop(settle=False)
    sensor.close()
    assert stats.rate_lowered is None and stats.rows > 40


class FakeWriter:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.manifest = type("M", (), {"anchor_perf_ns": time.perf_counter_ns(), "power": None})()
        self.writes = 0

    def write_manifest(self) -> None:
        self.writes += 1


def test_meter_idle_baseline_marks_and_manifest(tmp_path: Path) -> None:
    orin_nano_tree(tmp_path / "root")
    sensor = JetsonIna3221(tmp_path / "root", nvpmodel="/nonexistent")
    writer = FakeWriter(tmp_path)
    meter = PowerMeter(Selection(sensor, "auto", "auto"), rate_hz=100, idle_seconds=0.3)
    meter.start(writer)
    power = writer.manifest.power
    assert power.sensor == "jetson-ina3221" and power.kind == "power" and power.rate_hz == 100
    assert power.idle_w == pytest.approx(ORIN_NANO_WATTS["VDD_IN"])
    assert 0 <= power.idle_start_ns < power.idle_end_ns
    seen: list[str] = []
    hook = meter.wrap(lambda ev: seen.append(ev.kind))
    assert hook is not None
    assert meter.sampler is not None
    rows_before = meter.sampler.rows
    for kind in ("request_start", "tokens", "request_end"):
        hook(type("E", (), {"kind": kind})())
    assert seen == ["request_start", "tokens", "request_end"]
    assert meter.sampler.rows >= rows_before + 2
    meter.stop(writer)
    meter.stop(writer)  # idempotent
    power = writer.manifest.power  # the sampler's figures, recorded at the stop
    assert power.samples > 20 and power.read_errors == 0 and power.sampler_cpu_share is not None
    assert power.power_mode is None and power.total.startswith("VDD_IN")
    assert writer.writes >= 2


def test_meter_without_a_sensor_says_why(tmp_path: Path) -> None:
    writer = FakeWriter(tmp_path)
    meter = PowerMeter(Selection(None, "auto", "auto", reason="no readable power sensor"))
    meter.start(writer)
    assert writer.manifest.power.recorded() == {  # only what the meter knows: no None for the rest
        "sensor": "none",
        "selected_by": "auto",
        "reason": "no readable power sensor",
    }
    assert meter.wrap(None) is None
    meter.stop(writer)
    assert not (tmp_path / "power.csv").exists()
