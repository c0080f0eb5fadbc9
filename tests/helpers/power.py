"""Recorded sensor layouts, rebuilt in temporary directories with the real paths, names and units.

- Orin Nano (JetPack 6, driver ``ina3221``): ``1-0040/hwmon/hwmon1`` with rails VDD_IN, VDD_CPU_GPU_CV,
  VDD_SOC on channels 1-3 (``in{n}_label``, ``in{n}_input`` mV, ``curr{n}_input`` mA), shunt-voltage
  channels 4-6 (no labels), the sum-of-shunts channel 7 (``in7_label``, ``in7_input``, and its current
  ``curr4_input``), limits (``curr{n}_crit``, ``curr{n}_max``), ``update_interval``; plus a second
  monitor at ``1-0041`` whose channels are all labelled "NC" (unconnected).
- AGX Orin (driver ``ina3221``, two monitors, no VDD_IN): VDD_GPU_SOC, VDD_CPU_CV, VIN_SYS_5V0 and
  VDDQ_VDD2_1V8AO.
- RAPL: ``/sys/class/powercap/intel-rapl:0`` (package-0) with subzones ``intel-rapl:0:0`` (core) and
  ``intel-rapl:0:1`` (dram), ``energy_uj`` and ``max_energy_range_uj`` (262143328850 µJ on Intel parts).
- amdgpu: ``/sys/class/drm/card1/device/hwmon/hwmon4`` (Strix Halo APU) with ``name`` amdgpu and
  ``power1_input``/``power1_average`` in µW.

Values are what such boards show at light load (Orin Nano Super idling at ~5 W on VDD_IN).
"""

from __future__ import annotations

import datetime
import json
import plistlib
from pathlib import Path

ORIN_NANO_RAILS = {"VDD_IN": (5072, 1004), "VDD_CPU_GPU_CV": (5072, 141), "VDD_SOC": (5072, 353)}
ORIN_NANO_WATTS = {k: mv * ma / 1e6 for k, (mv, ma) in ORIN_NANO_RAILS.items()}
AGX_ORIN_RAILS = {
    "VDD_GPU_SOC": (5008, 812),
    "VDD_CPU_CV": (5008, 395),
    "VIN_SYS_5V0": (4984, 516),
    "VDDQ_VDD2_1V8AO": (4992, 120),
}
AGX_ORIN_WATTS = {k: mv * ma / 1e6 for k, (mv, ma) in AGX_ORIN_RAILS.items()}
RAPL_MAX_UJ = 262143328850


def _write(path: Path, text: str | int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")
    return path


def set_value(path: Path, value: int) -> None:
    """Rewrite a sysfs-like file *in place* (same inode), as the kernel's value changes under an open fd."""
    with path.open("r+") as f:
        f.seek(0)
        f.truncate()
        f.write(f"{value}\n")


def _ina3221(hwmon: Path, rails: dict[str, tuple[int, int]], *, sum_channel: bool = True) -> None:
    _write(hwmon / "name", "ina3221")
    _write(hwmon / "update_interval", 5)
    for n, (label, (mv, ma)) in enumerate(rails.items(), start=1):
        _write(hwmon / f"in{n}_label", label)
        _write(hwmon / f"in{n}_input", mv)
        _write(hwmon / f"curr{n}_input", ma)
        _write(hwmon / f"curr{n}_crit", 5000)
        _write(hwmon / f"curr{n}_max", 4000)
        _write(hwmon / f"in{n + 3}_input", ma * 5)  # shunt voltage, µV-ish; unlabeled
    if sum_channel:
        _write(hwmon / "in7_label", "sum of shunt voltages")
        _write(hwmon / "in7_input", sum(ma for _, ma in rails.values()) * 5)
        _write(hwmon / "curr4_input", sum(ma for _, ma in rails.values()))


def orin_nano_tree(root: Path) -> Path:
    drv = root / "sys/bus/i2c/drivers/ina3221"
    _ina3221(drv / "1-0040/hwmon/hwmon1", ORIN_NANO_RAILS)
    _ina3221(drv / "1-0041/hwmon/hwmon2", {"NC": (0, 0), "NC_2": (0, 0), "NC_3": (0, 0)}, sum_channel=False)
    return drv / "1-0040/hwmon/hwmon1"


def agx_orin_tree(root: Path) -> None:
    drv = root / "sys/bus/i2c/drivers/ina3221"
    items = list(AGX_ORIN_RAILS.items())
    _ina3221(drv / "1-0040/hwmon/hwmon2", dict(items[:3]))
    _ina3221(drv / "1-0041/hwmon/hwmon3", {items[3][0]: items[3][1], "NC": (0, 0)})


def rapl_tree(root: Path, package_uj: int = 1_000_000, dram_uj: int = 50_000, *, psys: bool = False) -> Path:
    base = root / "sys/class/powercap"
    pkg = base / "intel-rapl:0"
    _write(pkg / "name", "package-0")
    _write(pkg / "energy_uj", package_uj)
    _write(pkg / "max_energy_range_uj", RAPL_MAX_UJ)
    _write(base / "intel-rapl:0:0/name", "core")
    _write(base / "intel-rapl:0:0/energy_uj", package_uj // 2)
    _write(base / "intel-rapl:0:0/max_energy_range_uj", RAPL_MAX_UJ)
    _write(base / "intel-rapl:0:1/name", "dram")
    _write(base / "intel-rapl:0:1/energy_uj", dram_uj)
    _write(base / "intel-rapl:0:1/max_energy_range_uj", 65_712_999_613)
    if psys:
        _write(base / "intel-rapl:1/name", "psys")
        _write(base / "intel-rapl:1/energy_uj", 3 * package_uj)
        _write(base / "intel-rapl:1/max_energy_range_uj", RAPL_MAX_UJ)
    _write(base / "intel-rapl-mmio:0/name", "package-0")  # the MMIO twin: not a RAPL counter we read
    return pkg / "energy_uj"


def amdgpu_tree(root: Path, *, micro_watts: int = 48_250_000, average_only: bool = False) -> Path:
    hwmon = root / "sys/class/drm/card1/device/hwmon/hwmon4"
    _write(hwmon / "name", "amdgpu")
    _write(hwmon / "power1_average", micro_watts)
    if not average_only:
        _write(hwmon / "power1_input", micro_watts)
    _write(hwmon / "power1_cap", 120_000_000)
    _write(root / "sys/class/drm/card0/device/hwmon/hwmon0/name", "nvme")  # another hwmon: ignored
    return hwmon / ("power1_average" if average_only else "power1_input")


# ---------------------------------------------------------------------------------- Apple streams
def powermetrics_plist(cpu_mw: float, gpu_mw: float, ane_mw: float, elapsed_ns: int = 100_000_000) -> bytes:
    """One sample as powermetrics -f plist prints it (trimmed to the keys it always has)."""
    sample = {
        "is_delta": True,
        "elapsed_ns": elapsed_ns,
        "hw_model": "Mac16,10",
        "kern_osversion": "24F74",
        "timestamp": datetime.datetime(2026, 11, 26, 4, 17, 43),
        "processor": {
            "clusters": [{"name": "E-Cluster", "freq_hz": 1.02e9, "idle_ratio": 0.81}],
            "cpu_energy": int(cpu_mw * elapsed_ns / 1e9),
            "cpu_power": cpu_mw,
            "gpu_energy": int(gpu_mw * elapsed_ns / 1e9),
            "gpu_power": gpu_mw,
            "ane_energy": int(ane_mw * elapsed_ns / 1e9),
            "ane_power": ane_mw,
            "combined_power": cpu_mw + gpu_mw + ane_mw,
        },
        "gpu": {"freq_hz": 1.398e9, "idle_ratio": 0.12},
    }
    return plistlib.dumps(sample, fmt=plistlib.FMT_XML)


def powermetrics_stream(samples: list[tuple[float, float, float]], elapsed_ns: int = 100_000_000) -> bytes:
    """Samples separated by NUL bytes, which powermetrics writes before each sample after the first."""
    return b"\x00".join(powermetrics_plist(*s, elapsed_ns=elapsed_ns) for s in samples)


def macmon_line(cpu: float, gpu: float, ane: float, ram: float, sys_power: float, ts: str) -> str:
    return json.dumps(
        {
            "timestamp": ts,
            "temp": {"cpu_temp_avg": 43.7, "gpu_temp_avg": 36.9},
            "memory": {"ram_total": 25769803776, "ram_usage": 20985479168, "swap_total": 0, "swap_usage": 0},
            "ecpu_usage": [1100, 0.08],
            "pcpu_usage": [1800, 0.015],
            "gpu_usage": [461, 0.02],
            "cpu_power": cpu,
            "gpu_power": gpu,
            "ane_power": ane,
            "all_power": cpu + gpu + ane,
            "sys_power": sys_power,
            "ram_power": ram,
            "gpu_ram_power": 0.001,
        }
    )
