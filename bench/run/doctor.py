"""``infercost doctor``: is this machine ready to measure? A list of checks, each with a state and advice.

Shaped like pyperf's ``system show``: every check says what it found and, where something is wrong, the
exact fix (the sudoers line for powermetrics, the chmod or udev rule for RAPL, installing macmon).

States: ``ok``; ``info`` (a fact worth recording, e.g. a sensor this machine does not have); ``warn`` (the
numbers will be valid but noisier or partial: a power-saving CPU governor, background load, no sensor at
all); ``fail`` (the numbers would be wrong or missing for a reason you can fix: a sensor that exists but
cannot be read, a sensor you asked for that cannot be read, running on battery). ``doctor`` exits 0 when
nothing fails and 4 otherwise.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import psutil

from bench.power.jetson_ina3221 import nvpmodel_mode
from bench.power.registry import AUTO_ORDER, Probe, probe_sensors

__all__ = ["Check", "is_ready", "run_checks"]

State = Literal["ok", "info", "warn", "fail"]
HOT_C = 85.0
BUSY_CORES = 0.10  # other processes using more than a tenth of a core: warn


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_ready(checks: list[Check]) -> bool:
    return not any(c.state == "fail" for c in checks)


# ---------------------------------------------------------------------------------------- sensors
def sensor_checks(probes: list[Probe], insist: str | None) -> list[Check]:
    """One row per sensor, then the verdict: which one a run would use."""
    checks: list[Check] = []
    for p in probes:
        if p.readable:
            checks.append(Check(f"sensor {p.name}", "ok", p.detail))
        elif p.present:
            checks.append(Check(f"sensor {p.name}", "fail", f"present but unreadable: {p.detail}", p.fix))
        else:
            detail = f"not available: {p.detail}" + (f" (to add it: {p.fix})" if p.fix else "")
            checks.append(Check(f"sensor {p.name}", "info", detail))
    readable = [p.name for p in probes if p.readable]
    unreadable = [p for p in probes if p.present and not p.readable]
    if insist and insist not in ("auto", "none"):
        match = next((p for p in probes if p.name == insist), None)
        if match is None and insist.startswith("csv:"):
            checks.append(Check("power sensor", "ok", f"{insist}: external trace, imported after the run"))
        elif match is None:
            checks.append(Check("power sensor", "fail", f"{insist}: not a sensor doctor knows"))
        elif match.readable:
            checks.append(Check("power sensor", "ok", f"{insist} (asked for) is readable"))
        else:
            checks.append(Check("power sensor", "fail", f"{insist} (asked for): {match.detail}", match.fix))
    elif readable:
        checks.append(Check("power sensor", "ok", f"auto would use {readable[0]}"))
    elif unreadable:
        names = ", ".join(p.name for p in unreadable)
        checks.append(Check("power sensor", "fail", f"{names} present but unreadable", unreadable[0].fix))
    else:
        checks.append(
            Check(
                "power sensor",
                "warn",
                "no power sensor on this machine: runs will record no energy",
                "set idle_w and max_w in the device profile for an (estimated) figure, "
                "or log a wall meter and pass --power csv:FILE",
            )
        )
    return checks


# ----------------------------------------------------------------------------------------- system
def power_mode_check(nvpmodel: str | None = None) -> Check | None:
    mode = nvpmodel_mode(nvpmodel)
    if mode is None:
        return None
    mid = "" if mode["id"] is None else f" (mode {mode['id']})"
    return Check(
        "power mode",
        "info",
        f"nvpmodel: {mode['name']}{mid}; recorded in every run (7 W and MAXN are different devices)",
    )


def battery_check(battery: Callable[[], Any] | None = None) -> Check:
    try:
        b = (battery or psutil.sensors_battery)()
    except (AttributeError, OSError, NotImplementedError):
        b = None
    if b is None:
        return Check("power supply", "ok", "no battery: mains")
    if b.power_plugged is False:
        return Check(
            "power supply",
            "fail",
            f"on battery ({b.percent:.0f}%): power management changes clocks and what the sensors see",
            "plug in the charger and re-run",
        )
    return Check("power supply", "ok", f"on mains (battery {b.percent:.0f}%)")


def governor_check(root: Path = Path("/")) -> Check:
    files = sorted(root.glob("sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor"))
    governors: set[str] = set()
    for f in files:
        try:
            governors.add(f.read_text().strip())
        except OSError:
            continue
    if not governors:
        where = "macOS manages it" if sys.platform == "darwin" else "no cpufreq (a VM or container?)"
        return Check("cpu governor", "info", where)
    text = ", ".join(sorted(governors))
    if governors == {"performance"}:
        return Check("cpu governor", "ok", text)
    return Check(
        "cpu governor",
        "warn",
        f"{text}: clocks follow load, so rates vary between runs",
        "sudo cpupower frequency-set -g performance (or compare only runs made the same way)",
    )


def temperature_check(temps: Callable[[], dict[str, Any]] | None = None) -> Check:
    read = temps or getattr(psutil, "sensors_temperatures", None)
    try:
        found = read() if read else {}
    except (OSError, RuntimeError):
        found = {}
    hottest: tuple[float, str, float | None] | None = None
    for chip, entries in (found or {}).items():
        for e in entries:
            if e.current is None:
                continue
            label = f"{chip}/{e.label}" if e.label else chip
            if hottest is None or e.current > hottest[0]:
                hottest = (float(e.current), label, e.high)
    if hottest is None:
        return Check("temperature", "info", "no temperature sensors readable")
    current, label, high = hottest
    limit = min(HOT_C, high) if high else HOT_C
    if current >= limit:
        return Check(
            "temperature", "warn", f"{label} at {current:.0f} °C: likely throttling", "let it cool first"
        )
    return Check("temperature", "ok", f"hottest {label} at {current:.0f} °C")


def load_check(seconds: float = 0.5) -> Check:
    """CPU used by *other* processes over a short window (this process excluded)."""
    me = os.getpid()
    procs = []
    for p in psutil.process_iter(["pid", "name"]):
        try:
            p.cpu_percent(None)
            procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    psutil.cpu_percent(None)
    time.sleep(seconds)
    busy: list[tuple[float, str]] = []
    for p in procs:
        if p.pid == me:
            continue
        try:
            busy.append((p.cpu_percent(None) / 100.0, p.info.get("name") or str(p.pid)))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    other = sum(c for c, _ in busy)
    top = ", ".join(f"{n} {c:.2f}" for c, n in sorted(busy, reverse=True)[:3] if c >= 0.01)
    if other > BUSY_CORES:
        return Check(
            "background load",
            "warn",
            f"other processes use {other:.2f} cores ({top})",
            "stop them or re-run when the machine is idle: they share the CPU and the power budget",
        )
    return Check("background load", "ok", f"other processes use {other:.2f} cores")


def run_checks(
    *,
    root: Path = Path("/"),
    idle_w: float | None = None,
    max_w: float | None = None,
    insist: str | None = None,
    load_seconds: float = 0.5,
    nvpmodel: str | None = None,
) -> list[Check]:
    names = AUTO_ORDER + (("estimate",) if insist == "estimate" or (idle_w and max_w) else ())
    checks = sensor_checks(probe_sensors(root=root, idle_w=idle_w, max_w=max_w, names=names), insist)
    mode = power_mode_check(nvpmodel)
    if mode is not None:
        checks.append(mode)
    checks += [battery_check(), governor_check(root), temperature_check(), load_check(load_seconds)]
    return checks
