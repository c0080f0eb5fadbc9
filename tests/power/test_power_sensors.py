"""Sensor readers on recorded layouts: Jetson INA3221, RAPL, amdgpu hwmon, powermetrics, macmon, estimate,
external CSV traces, and the registry's auto/insist rules."""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest

from bench.errors import EnvironmentNotReady, UsageError
from bench.power import rapl as rapl_mod
from bench.power.amdgpu_hwmon import AmdgpuHwmon
from bench.power.apple_macmon import MacmonParser, open_macmon
from bench.power.apple_powermetrics import PlistStreamParser, open_powermetrics, sudoers_fix
from bench.power.base import CounterUnwrapper, SensorAbsent, SensorUnreadable
from bench.power.csv_trace import CsvTrace, parse_external, place_on_run_clock
from bench.power.estimate import Estimate
from bench.power.jetson_ina3221 import JetsonIna3221, find_rails, parse_nvpmodel
from bench.power.rapl import Rapl
from bench.power.registry import open_sensor, select_sensor
from tests.helpers.power import (
    AGX_ORIN_WATTS,
    ORIN_NANO_WATTS,
    RAPL_MAX_UJ,
    agx_orin_tree,
    amdgpu_tree,
    macmon_line,
    orin_nano_tree,
    powermetrics_stream,
    rapl_tree,
    set_value,
)


class Clock:
    """A hand-driven perf_counter_ns."""

    def __init__(self, t: int = 0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def deny(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Tests run as root, where chmod does not stop reads: simulate a root-only file through os.access."""
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, *a, **k: False if str(p).endswith(name) else real(p, mode)
    )


# ----------------------------------------------------------------------------------------- Jetson
def test_orin_nano_rails_total_is_vdd_in(tmp_path: Path) -> None:
    orin_nano_tree(tmp_path)
    rails = find_rails(tmp_path)
    assert [r.label for r in rails] == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]  # no channel 7, no "NC"
    s = JetsonIna3221(tmp_path, nvpmodel="/nonexistent/nvpmodel")
    sample = s.read()
    assert s.rail_names == ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")
    assert sample.power_w == pytest.approx(ORIN_NANO_WATTS["VDD_IN"])  # 5072 mV × 1004 mA = 5.09 W
    assert sample.rails == pytest.approx(tuple(ORIN_NANO_WATTS.values()))
    assert s.kind == "power" and s.period_s == pytest.approx(0.005)  # update_interval 5 ms
    assert s.info()["total"].startswith("VDD_IN")
    s.close()


def test_orin_nano_follows_changing_values(tmp_path: Path) -> None:
    hwmon = orin_nano_tree(tmp_path)
    s = JetsonIna3221(tmp_path, nvpmodel="/nonexistent")
    set_value(hwmon / "curr1_input", 3010)  # load: ~15 W on VDD_IN
    assert s.read().power_w == pytest.approx(5.072 * 3.010)
    s.close()


def test_agx_orin_total_is_sum_of_rails_and_says_so(tmp_path: Path) -> None:
    agx_orin_tree(tmp_path)
    s = JetsonIna3221(tmp_path, nvpmodel="/nonexistent")
    assert set(s.rail_names) == set(AGX_ORIN_WATTS)
    assert s.read().power_w == pytest.approx(sum(AGX_ORIN_WATTS.values()))
    assert "sum of rails" in s.info()["total"] and "no VDD_IN" in s.info()["total"]
    s.close()


def test_jetson_absent_and_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SensorAbsent):
        JetsonIna3221(tmp_path)
    orin_nano_tree(tmp_path)
    deny(monkeypatch, "curr1_input")
    with pytest.raises(SensorUnreadable) as exc:
        JetsonIna3221(tmp_path, nvpmodel="/nonexistent")
    assert exc.value.exit_code == 4 and "chmod" in str(exc.value)


def test_nvpmodel_mode_recorded(tmp_path: Path) -> None:
    assert parse_nvpmodel("NV Power Mode: MAXN_SUPER\n2\n") == {"name": "MAXN_SUPER", "id": 2}
    assert parse_nvpmodel("NVPM WARN: ...\nNV Power Mode: 15W\n0\n") == {"name": "15W", "id": 0}
    fake = tmp_path / "nvpmodel"
    fake.write_text('#!/bin/sh\n[ "$1" = "-q" ] && printf "NV Power Mode: 7W\\n3\\n"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    orin_nano_tree(tmp_path)
    s = JetsonIna3221(tmp_path, nvpmodel=str(fake))
    assert s.info()["power_mode"] == {"name": "7W", "id": 3}
    s.close()


# ------------------------------------------------------------------------------------------- RAPL
def test_unwrapper_adds_the_range_on_each_wrap() -> None:
    u = CounterUnwrapper(1000)
    assert [u.update(v) for v in (900, 950, 20, 500, 10)] == [0, 50, 120, 600, 1110]
    assert u.wraps == 2


def test_rapl_counter_across_a_wraparound(tmp_path: Path) -> None:
    energy = rapl_tree(tmp_path, package_uj=RAPL_MAX_UJ - 2_000_000, dram_uj=1000)
    clock = Clock()
    s = Rapl(tmp_path, clock=clock)
    assert s.rail_names == ("package-0", "dram-0") and s.kind == "counter"  # core is inside the package
    first = s.read().energy_j
    set_value(energy, 3_000_000)  # passed max_energy_range_uj: 2 J before the wrap + 3 J after
    clock.t = 1_000_000_000
    sample = s.read()
    assert sample.energy_j is not None and first is not None
    assert sample.energy_j - first == pytest.approx(5.0)
    assert s.wraps == 1 and s.info()["wraps"] == 1
    s.close()


def test_rapl_prefers_psys(tmp_path: Path) -> None:
    rapl_tree(tmp_path, psys=True)
    s = Rapl(tmp_path)
    assert s.rail_names == ("psys",)
    s.close()


def test_rapl_root_only_gives_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rapl_tree(tmp_path)
    deny(monkeypatch, "intel-rapl:0/energy_uj")
    with pytest.raises(SensorUnreadable) as exc:
        Rapl(tmp_path)
    text = str(exc.value)
    assert "permission denied" in text and "CVE-2020-8694" in text
    assert "chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj" in text
    assert 'SUBSYSTEM=="powercap"' in text and "udev" in text


def test_rapl_directory_where_a_file_should_be(tmp_path: Path) -> None:
    energy = rapl_tree(tmp_path)
    energy.unlink()
    energy.mkdir()  # a broken tree: open() works on a directory, read() fails
    with pytest.raises(SensorUnreadable) as exc:
        Rapl(tmp_path)
    assert "cannot read" in str(exc.value) and rapl_mod.FIX in str(exc.value)


# ----------------------------------------------------------------------------------------- amdgpu
def test_amdgpu_microwatts(tmp_path: Path) -> None:
    amdgpu_tree(tmp_path, micro_watts=52_200_000)
    s = AmdgpuHwmon(tmp_path)
    assert s.read().power_w == pytest.approx(52.2)
    assert s.rail_names == ("card1:power1_input",) and not s.averaged and s.period_s == 0.01
    s.close()


def test_amdgpu_average_only_is_flagged_and_slow(tmp_path: Path) -> None:
    amdgpu_tree(tmp_path, average_only=True)
    s = AmdgpuHwmon(tmp_path)
    assert s.averaged and s.period_s == 1.0 and s.info()["averaged"] is True
    s.close()


# -------------------------------------------------------------------------------- Apple: parsing
def test_powermetrics_stream_parses_across_chunk_boundaries() -> None:
    data = powermetrics_stream([(1250.0, 3400.0, 0.0), (980.0, 5100.0, 12.0), (150.0, 20.0, 0.0)])
    parser = PlistStreamParser()
    out = []
    for i in range(0, len(data), 97):  # arbitrary pipe reads
        out += parser.feed(data[i : i + 97])
    assert len(out) == 3
    assert out[0].total_w == pytest.approx(4.65) and out[0].seconds == pytest.approx(0.1)
    assert out[1].rails_w == pytest.approx((0.98, 5.1, 0.012))


def test_powermetrics_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        PlistStreamParser().feed(b"<?xml version='1.0'?><plist><dict><key>x</key></plist>")


def test_macmon_lines_use_sys_power_and_timestamps() -> None:
    p = MacmonParser(0.1)
    lines = [
        macmon_line(0.20, 0.02, 0.0, 0.12, 5.88, "2026-11-26T04:38:15.400+00:00"),
        macmon_line(8.40, 14.1, 0.0, 0.90, 31.2, "2026-11-26T04:38:15.600+00:00"),
    ]
    out = p.feed(("\n".join(lines) + "\n").encode())
    assert p.uses_sys_power and [o.total_w for o in out] == pytest.approx([5.88, 31.2])
    assert out[1].seconds == pytest.approx(0.2)  # from the timestamps, not the nominal interval


def test_macmon_without_sys_power_adds_dram() -> None:
    p = MacmonParser(0.1)
    (iv,) = p.feed((macmon_line(2.0, 5.0, 0.5, 0.4, 0.0, "2026-11-26T04:38:15Z") + "\n").encode())
    assert not p.uses_sys_power and iv.total_w == pytest.approx(7.9)


# ------------------------------------------------------------------ Apple: the streaming sensors
def _fake_stream(tmp_path: Path, payload: bytes, delay_s: float = 0.05) -> list[str]:
    """A child process that prints a recorded stream in pieces, then keeps running like the real tools."""
    data = tmp_path / "stream.bin"
    data.write_bytes(payload)
    script = (
        "import sys,time\n"
        f"d=open({str(data)!r},'rb').read()\n"
        "for i in range(0,len(d),200):\n"
        "    sys.stdout.buffer.write(d[i:i+200]); sys.stdout.flush(); time.sleep(%r)\n"
        "time.sleep(30)\n" % delay_s
    )
    return [sys.executable, "-c", script]


def test_powermetrics_sensor_accumulates_interval_averages(tmp_path: Path) -> None:
    stream = powermetrics_stream([(1000.0, 2000.0, 0.0)] * 4, elapsed_ns=100_000_000)
    s = open_powermetrics(100, argv=_fake_stream(tmp_path, stream, 0.01))
    try:
        deadline = time.monotonic() + 5
        while s.info()["samples"] < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        sample = s.read()
        assert s.kind == "counter" and s.rail_names == ("cpu", "gpu", "ane")
        assert sample.energy_j == pytest.approx(4 * 3.0 * 0.1)  # 4 intervals × 3 W × 0.1 s
        assert sample.rails == pytest.approx((0.4, 0.8, 0.0))
    finally:
        s.close()


def test_macmon_all_zero_channels_are_unreadable(tmp_path: Path) -> None:
    line = macmon_line(0.0, 0.0, 0.0, 0.0, 0.0, "2026-11-26T04:38:15Z") + "\n"
    with pytest.raises(SensorUnreadable) as exc:
        open_macmon(100, argv=_fake_stream(tmp_path, (line * 3).encode()))
    assert "0 W" in str(exc.value) and "apple-powermetrics" in str(exc.value)


def test_stream_sensor_that_prints_nothing(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('sudo: a password is required\\n')"]
    with pytest.raises(SensorUnreadable) as exc:
        open_macmon(100, argv=argv)
    assert "password" in str(exc.value)


def test_powermetrics_sudoers_line() -> None:
    fix = sudoers_fix("ada")
    assert "ada ALL=(root) NOPASSWD: /usr/bin/powermetrics" in fix and "/etc/sudoers.d/" in fix


# --------------------------------------------------------------------------------------- estimate
def test_estimate_is_idle_plus_utilization_share() -> None:
    clock = Clock()
    times = iter([(0.0, 10.0), (1.0, 12.0), (1.0, 14.0)])  # busy, total CPU seconds
    s = Estimate(5.0, 25.0, clock=clock, cpu_times=lambda: next(times))
    clock.t = 2_000_000_000
    first = s.read()  # 50% busy for 2 s: 15 W
    assert first.power_w == pytest.approx(15.0) and first.energy_j == pytest.approx(30.0)
    clock.t = 3_000_000_000
    assert s.read().energy_j == pytest.approx(35.0)  # idle for 1 s: 5 W
    assert s.estimated and s.kind == "counter"


def test_estimate_needs_profile_watts() -> None:
    with pytest.raises(UsageError, match="idle_w and max_w"):
        Estimate(None, 25.0, profile="devices/x.toml")


# ------------------------------------------------------------------------------- external traces
def test_external_csv_iso_and_epoch(tmp_path: Path) -> None:
    f = tmp_path / "meter.csv"
    f.write_text("Timestamp,Watts,volts\n2026-11-26T04:17:43.000Z,61.5,230\n2026-11-26T04:17:44Z,63.0,230\n")
    rows = parse_external(f)
    assert rows[1][0] - rows[0][0] == 1_000_000_000 and rows[0][1] == 61.5
    g = tmp_path / "plug.csv"
    g.write_text("ts,power_w\n1795668000.5,40\n1795668001500,41\n")  # seconds, then milliseconds
    assert [t for t, _ in parse_external(g)] == [1_795_668_000_500_000_000, 1_795_668_001_500_000_000]
    assert CsvTrace(f).period_s == pytest.approx(1.0)


def test_external_csv_alignment_by_wall_anchor() -> None:
    rows = [(1_000_000_000_500, 50.0)]
    (s,) = place_on_run_clock(rows, anchor_wall_ns=1_000_000_000_000, anchor_perf_ns=7_000)
    assert s.t_ns == 7_000 + 500 and s.power_w == 50.0


def test_external_csv_errors_name_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("time,watts\n2026-11-26T04:17:43Z,61\nyesterday,62\n")
    with pytest.raises(UsageError, match=r"bad.csv: line 3"):
        parse_external(f)
    h = tmp_path / "nohead.csv"
    h.write_text("a,b\n1,2\n")
    with pytest.raises(UsageError, match="time column"):
        parse_external(h)


# --------------------------------------------------------------------------------------- registry
SYSFS = ("jetson-ina3221", "rapl", "amdgpu-hwmon")  # auto's order without NVML/Apple (host-independent)


def test_unknown_sensor_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown power sensor 'rapel'"):
        open_sensor("rapel")


def test_insisted_sensor_unreadable_is_exit_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rapl_tree(tmp_path)
    deny(monkeypatch, "energy_uj")
    with pytest.raises(EnvironmentNotReady) as exc:
        select_sensor("rapl", selected_by="flag", root=tmp_path)
    assert exc.value.exit_code == 4 and "chmod" in str(exc.value)


def test_auto_picks_the_first_readable(tmp_path: Path) -> None:
    orin_nano_tree(tmp_path)
    rapl_tree(tmp_path)
    sel = select_sensor("auto", selected_by="auto", root=tmp_path, order=SYSFS)
    assert sel.sensor is not None and sel.sensor.name == "jetson-ina3221" and sel.tried == []
    sel.sensor.close()


def test_auto_falls_back_to_estimate_then_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rapl_tree(tmp_path)
    deny(monkeypatch, "energy_uj")
    sel = select_sensor("auto", selected_by="auto", root=tmp_path, idle_w=5, max_w=20, order=SYSFS)
    assert sel.sensor is not None and sel.sensor.name == "estimate"
    assert [n for n, _ in sel.tried] == list(SYSFS)
    none = select_sensor("auto", selected_by="auto", root=tmp_path, order=SYSFS)
    assert none.sensor is None and none.reason and "rapl present but unreadable" in none.reason
    assert "doctor" in none.reason


def test_gpu_offload_puts_the_gpu_sensor_before_rapl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.devices.profiles import DeviceProfile
    from bench.power import registry

    rapl_tree(tmp_path)
    amdgpu_tree(tmp_path)
    monkeypatch.setattr(registry, "AUTO_ORDER", ("rapl", "amdgpu-hwmon"))  # host-independent
    cpu = DeviceProfile(name="cpu box")
    gpu = DeviceProfile.model_validate({"name": "gpu box", "llama_cpp": {"n_gpu_layers": -1}})
    for device, want in ((cpu, "rapl"), (gpu, "amdgpu-hwmon")):
        sel = registry.select_for_device(None, device, rate_hz=100, idle_s=1, root=tmp_path)
        assert sel.sensor is not None and sel.sensor.name == want and sel.selected_by == "auto"
        sel.sensor.close()
    cloud = DeviceProfile.model_validate(
        {
            "name": "api",
            "kind": "cloud",
            "backend": "openai_http",
            "base_url": "http://x",
            "model": "m",
            "input_usd_per_mtok": 0.15,
            "output_usd_per_mtok": 0.6,
            "as_of": "2026-08-05",
            "source": "test",
        }
    )
    assert registry.select_for_device("rapl", cloud, rate_hz=100, idle_s=1).sensor is None
    with pytest.raises(UsageError, match="--power-hz"):
        registry.select_for_device(None, cpu, rate_hz=0, idle_s=1)
    with pytest.raises(UsageError, match="--idle-seconds"):
        registry.select_for_device(None, cpu, rate_hz=100, idle_s=-1)
