"""Run hygiene: the state of the machine at the start and end of a run, recorded in the manifest.

A number measured on a busy, hot, battery-powered or power-capped machine is a different number; so
before the model loads and after the last request, infercost records (``manifest.hygiene``):

- ``cpu_busy_pct``: system-wide CPU use over a short window while infercost itself sleeps (psutil), so it
  is what *other* programs use, with the ``top_processes`` by CPU (names only: command lines can hold
  secrets) and the 1-minute load average;
- ``cpu_governors``: scaling governor → number of CPUs (``/sys/devices/system/cpu/cpu*/cpufreq``);
  ``platform_profile`` (``/sys/firmware/acpi/platform_profile``: low-power, balanced, performance);
- ``power_mode``: the Jetson power mode from ``nvpmodel -q`` where that tool exists;
- ``on_battery`` / ``battery_pct`` (psutil), ``temperatures_c`` (psutil, hottest reading per sensor chip),
  ``cpu_freq_mhz`` and ``boot_time`` (a resumed run checks it did not cross a reboot).

Every reading is optional: containers, VMs and macOS lack most of sysfs, and a missing reading is
``None`` or empty, never an error. The variability warnings (``bench.results.variability``) read these back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from bench.results.schema import HygieneSnapshot

__all__ = [
    "SYS_ROOT",
    "battery_state",
    "cpu_activity",
    "cpu_governors",
    "nvpmodel_mode",
    "parse_nvpmodel",
    "platform_profile",
    "snapshot",
    "temperatures",
]

SYS_ROOT = Path("/sys")
DEFAULT_WINDOW_S = 0.5
TOP_PROCESSES = 3

_NVP_NAME = re.compile(r"^\s*NV Power Mode\s*:\s*(.+?)\s*$", re.MULTILINE)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or None
    except OSError:
        return None


def cpu_governors(sys_root: Path = SYS_ROOT) -> dict[str, int]:
    """Scaling governor → how many CPUs use it; empty where cpufreq is not exposed (VMs, containers)."""
    counts: dict[str, int] = {}
    base = sys_root / "devices" / "system" / "cpu"
    with contextlib.suppress(OSError):
        for gov_file in sorted(base.glob("cpu[0-9]*/cpufreq/scaling_governor")):
            value = _read(gov_file)
            if value:
                counts[value] = counts.get(value, 0) + 1
    return counts


def platform_profile(sys_root: Path = SYS_ROOT) -> str | None:
    """The ACPI platform profile (laptops: low-power, balanced, performance), where the firmware has one."""
    return _read(sys_root / "firmware" / "acpi" / "platform_profile")


def parse_nvpmodel(text: str) -> dict[str, Any] | None:
    """``nvpmodel -q`` prints ``NV Power Mode: 15W`` and then the mode's number on a line of its own."""
    m = _NVP_NAME.search(text)
    if not m:
        return None
    mode_id = None
    for line in text[m.end() :].splitlines():
        if line.strip().isdigit():
            mode_id = int(line.strip())
            break
    return {"name": m.group(1), "id": mode_id}


def nvpmodel_mode(timeout_s: float = 5.0) -> dict[str, Any] | None:
    """The Jetson power mode, or None off Jetson (no ``nvpmodel``) or when it cannot be queried."""
    exe = shutil.which("nvpmodel")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "-q"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvpmodel(proc.stdout) if proc.returncode == 0 else None


def battery_state() -> dict[str, Any] | None:
    """``{"on_battery": bool, "battery_pct": float}``, or None on machines without a battery."""
    try:
        bat = psutil.sensors_battery()
    except (AttributeError, NotImplementedError, OSError, RuntimeError):
        return None
    if bat is None:
        return None
    plugged = bat.power_plugged
    return {
        "on_battery": None if plugged is None else not plugged,
        "battery_pct": round(float(bat.percent), 1),
    }


def temperatures(readings: dict[str, list[Any]] | None = None) -> dict[str, float]:
    """The hottest current reading of each sensor chip, °C (``psutil.sensors_temperatures`` shape)."""
    if readings is None:
        try:
            readings = psutil.sensors_temperatures()
        except (AttributeError, NotImplementedError, OSError, RuntimeError):
            return {}
    out: dict[str, float] = {}
    for chip, entries in (readings or {}).items():
        values = [float(e.current) for e in entries if e.current is not None and -50 < e.current < 200]
        if values:
            out[chip] = round(max(values), 1)
    return out


def cpu_activity(window_s: float = DEFAULT_WINDOW_S, top_n: int = TOP_PROCESSES) -> dict[str, Any]:
    """System-wide CPU use over ``window_s`` while this process sleeps, and the busiest other processes.

    ``cpu_busy_pct`` is a share of all logical CPUs (100 = every CPU busy); a process's ``cpu_pct`` is a
    share of one CPU, as ``top`` shows it.
    """
    me = os.getpid()
    procs: list[psutil.Process] = []
    for proc in psutil.process_iter(["name"]):
        if proc.pid == me:
            continue
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
            procs.append(proc)
    psutil.cpu_percent(None)
    time.sleep(window_s)
    busy = float(psutil.cpu_percent(None))
    top: list[dict[str, Any]] = []
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            pct = float(proc.cpu_percent(None))
            if pct >= 1.0:
                top.append({"name": proc.info.get("name") or "?", "pid": proc.pid, "cpu_pct": round(pct, 1)})
    top.sort(key=lambda p: -float(p["cpu_pct"]))
    load: float | None = None
    with contextlib.suppress(OSError, AttributeError):
        load = round(os.getloadavg()[0], 2)
    return {"cpu_busy_pct": round(busy, 1), "load_avg_1m": load, "top_processes": top[:top_n]}


def _cpu_freq_mhz() -> float | None:
    try:
        freq = psutil.cpu_freq()
    except (AttributeError, NotImplementedError, OSError, RuntimeError):
        return None
    return round(float(freq.current), 0) if freq and freq.current else None


def _boot_time_utc() -> str | None:
    try:
        stamp = psutil.boot_time()
    except (OSError, RuntimeError):
        return None
    when = dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def snapshot(window_s: float = DEFAULT_WINDOW_S, sys_root: Path = SYS_ROOT) -> HygieneSnapshot:
    """Everything above, as the manifest's typed snapshot."""
    bat = battery_state() or {}
    reading = {
        "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "window_s": window_s,
        **cpu_activity(window_s),
        "cpu_governors": cpu_governors(sys_root),
        "platform_profile": platform_profile(sys_root),
        "power_mode": nvpmodel_mode(),
        "on_battery": bat.get("on_battery"),
        "battery_pct": bat.get("battery_pct"),
        "temperatures_c": temperatures(),
        "cpu_freq_mhz": _cpu_freq_mhz(),
        "boot_time": _boot_time_utc(),
    }
    return HygieneSnapshot.model_validate(reading)
