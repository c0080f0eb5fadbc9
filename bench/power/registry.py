"""Sensor names, ``auto`` selection, and probes for ``infercost doctor``.

``auto`` tries the sensors in this order and takes the first that opens: ``nvml`` (a GPU's own energy
counter), ``jetson-ina3221``, ``apple-macmon`` (no sudo), ``apple-powermetrics``, ``rapl`` (an energy
counter), ``amdgpu-hwmon`` (smoothed power: after RAPL), then ``estimate`` if the profile gives ``idle_w``
and ``max_w``, else nothing. When the profile offloads layers to a GPU (``n_gpu_layers`` ≠ 0), RAPL (the
CPU package) moves after ``amdgpu-hwmon``: a discrete GPU's work would not show in the CPU's counter.
A sensor named by ``--power`` or the profile's ``power_sensor`` is insisted on:
if it cannot be read the run stops before its first request (exit 4) with the reason and the fix.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from bench.errors import UsageError
from bench.power.base import PowerSensor, SensorAbsent, SensorError, SensorUnreadable

__all__ = [
    "AUTO_ORDER",
    "SENSOR_NAMES",
    "Probe",
    "Selection",
    "check_power_options",
    "open_sensor",
    "probe_sensors",
    "select_for_device",
    "select_sensor",
]

AUTO_ORDER = ("nvml", "jetson-ina3221", "apple-macmon", "apple-powermetrics", "rapl", "amdgpu-hwmon")
SENSOR_NAMES = ("auto", "none", *AUTO_ORDER, "estimate", "csv:FILE")
APPLE_INTERVAL_MS = 100


@dataclass(frozen=True)
class Selection:
    """The sensor a run will use (None: no energy) and how it was chosen."""

    sensor: PowerSensor | None
    spec: str
    selected_by: Literal["auto", "flag", "profile"]
    reason: str | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """What ``doctor`` reports for one sensor."""

    name: str
    present: bool
    readable: bool
    detail: str
    fix: str | None = None


def open_sensor(
    name: str,
    *,
    root: Path = Path("/"),
    idle_w: float | None = None,
    max_w: float | None = None,
    profile: str = "the device profile",
) -> PowerSensor:
    """Open one sensor by name; raises ``SensorAbsent``/``SensorUnreadable`` (exit 4) or ``UsageError``."""
    if name.startswith("csv:"):
        from bench.power.csv_trace import CsvTrace

        if not name[4:]:
            raise _no_csv_file()
        return CsvTrace(Path(name[4:]))
    factories: dict[str, Callable[[], PowerSensor]] = {
        "nvml": _nvml,
        "jetson-ina3221": lambda: _jetson(root),
        "apple-macmon": _macmon,
        "apple-powermetrics": _powermetrics,
        "rapl": lambda: _rapl(root),
        "amdgpu-hwmon": lambda: _amdgpu(root),
        "estimate": lambda: _estimate(idle_w, max_w, profile),
    }
    if name not in factories:
        raise _unknown_sensor(name)
    return factories[name]()


def _no_csv_file() -> UsageError:
    return UsageError("--power csv:FILE needs a file name after 'csv:'")


def _unknown_sensor(name: str) -> UsageError:
    return UsageError(f"unknown power sensor '{name}' (known: {', '.join(SENSOR_NAMES)})")


def _nvml() -> PowerSensor:
    from bench.power.nvml import Nvml

    return Nvml()


def _jetson(root: Path) -> PowerSensor:
    from bench.power.jetson_ina3221 import JetsonIna3221

    return JetsonIna3221(root)


def _rapl(root: Path) -> PowerSensor:
    from bench.power.rapl import Rapl

    return Rapl(root)


def _amdgpu(root: Path) -> PowerSensor:
    from bench.power.amdgpu_hwmon import AmdgpuHwmon

    return AmdgpuHwmon(root)


def _macmon() -> PowerSensor:
    from bench.power.apple_macmon import open_macmon

    if sys.platform != "darwin":
        raise SensorAbsent("apple-macmon", "macOS only")
    return open_macmon(APPLE_INTERVAL_MS)


def _powermetrics() -> PowerSensor:
    from bench.power.apple_powermetrics import open_powermetrics

    return open_powermetrics(APPLE_INTERVAL_MS)


def _estimate(idle_w: float | None, max_w: float | None, profile: str) -> PowerSensor:
    from bench.power.estimate import Estimate

    return Estimate(idle_w, max_w, profile=profile)


def select_sensor(
    spec: str,
    *,
    selected_by: Literal["auto", "flag", "profile"],
    root: Path = Path("/"),
    idle_w: float | None = None,
    max_w: float | None = None,
    profile: str = "the device profile",
    order: tuple[str, ...] = AUTO_ORDER,
) -> Selection:
    """Resolve ``auto``/``none``/a name into an opened sensor (see the module docstring)."""
    if spec == "none":
        return Selection(None, spec, selected_by, reason="power measurement off (--power none)")
    if spec != "auto":
        sensor = open_sensor(spec, root=root, idle_w=idle_w, max_w=max_w, profile=profile)
        return Selection(sensor, spec, selected_by)
    tried: list[tuple[str, str]] = []
    unreadable: list[str] = []
    for name in order:
        try:
            return Selection(open_sensor(name, root=root), "auto", "auto", tried=tried)
        except SensorError as exc:
            tried.append((name, exc.reason))
            if isinstance(exc, SensorUnreadable):
                unreadable.append(name)
        except (OSError, ValueError) as exc:  # an odd sysfs must not stop a run that only asked for auto
            tried.append((name, f"{type(exc).__name__}: {exc}"))
    if idle_w is not None and max_w is not None:
        return Selection(
            open_sensor("estimate", idle_w=idle_w, max_w=max_w, profile=profile), "auto", "auto", tried=tried
        )
    reason = "no readable power sensor" + (
        f" ({', '.join(unreadable)} present but unreadable: run `infercost doctor`)"
        if unreadable
        else "; set idle_w and max_w in the device profile for an estimate, or use --power csv:FILE"
    )
    return Selection(None, "auto", "auto", reason=reason, tried=tried)


class _Device(Protocol):  # bench.devices.profiles.DeviceProfile, without importing pydantic here
    @property
    def kind(self) -> str: ...
    @property
    def power_sensor(self) -> str | None: ...
    @property
    def idle_w(self) -> float | None: ...
    @property
    def max_w(self) -> float | None: ...
    @property
    def origin(self) -> str: ...


def check_power_options(flag: str | None, device: _Device, *, rate_hz: float, idle_s: float) -> None:
    """Everything about a run's power options that can be checked without opening a sensor.

    Runs open their sensor only after the engine has loaded (NVML initialised before llama.cpp's CUDA
    context crashed the model load, see ``bench/power/nvml.py``); this catches a typo, a bad rate or an
    estimate without its wattages before anything loads (exit 2).
    """
    if not (rate_hz > 0 and math.isfinite(rate_hz)):
        raise UsageError(f"--power-hz {rate_hz:g}: must be positive")
    if not (idle_s >= 0 and math.isfinite(idle_s)):
        raise UsageError(f"--idle-seconds {idle_s:g}: must be 0 or more")
    if device.kind in ("cloud", "rented"):
        return
    spec = flag or device.power_sensor or "auto"
    if spec.startswith("csv:"):
        if not spec[4:]:
            raise _no_csv_file()
    elif spec == "estimate":
        _estimate(device.idle_w, device.max_w, _profile_label(device))  # pure arithmetic: opens nothing
    elif spec not in ("auto", "none", *AUTO_ORDER):
        raise _unknown_sensor(spec)


def _profile_label(device: _Device) -> str:
    return "the auto-detected profile" if device.origin == "auto" else f"device profile {device.origin}"


def select_for_device(
    flag: str | None, device: _Device, *, rate_hz: float, idle_s: float, root: Path = Path("/")
) -> Selection:
    """A run's sensor: ``--power`` over the profile's ``power_sensor`` over auto (cloud: none)."""
    check_power_options(flag, device, rate_hz=rate_hz, idle_s=idle_s)
    if device.kind == "cloud":
        return Selection(None, "none", "auto", reason="a cloud API: its energy is in the token price")
    if device.kind == "rented":  # the GPU is elsewhere: a sensor here would measure the wrong machine
        return Selection(None, "none", "auto", reason="a rented GPU: its energy is in the hourly rate")
    spec = flag or device.power_sensor or "auto"
    settings = getattr(device, "llama_cpp", None)
    order: tuple[str, ...] = AUTO_ORDER
    if getattr(settings, "n_gpu_layers", 0):  # the work is on a GPU: its sensor before the CPU's RAPL
        order = (*(n for n in AUTO_ORDER if n != "rapl"), "rapl")
    by: Literal["auto", "flag", "profile"] = "profile" if device.power_sensor else "auto"
    if flag:
        by = "flag"
    return select_sensor(
        spec,
        selected_by=by,
        idle_w=device.idle_w,
        max_w=device.max_w,
        profile=_profile_label(device),
        order=order,
        root=root,
    )


def probe_sensors(
    *,
    root: Path = Path("/"),
    idle_w: float | None = None,
    max_w: float | None = None,
    names: tuple[str, ...] = AUTO_ORDER,
) -> list[Probe]:
    """Open and close each sensor once: present? readable? and if not, the fix."""
    probes: list[Probe] = []
    for name in names:
        try:
            sensor = open_sensor(name, root=root, idle_w=idle_w, max_w=max_w)
        except SensorUnreadable as exc:
            probes.append(Probe(name, True, False, exc.reason, exc.fix))
            continue
        except SensorAbsent as exc:
            probes.append(Probe(name, False, False, exc.reason, exc.fix))
            continue
        except UsageError as exc:
            probes.append(Probe(name, False, False, exc.message, exc.fix))
            continue
        try:
            total = sensor.info().get("total", "")
            detail = f"{sensor.kind}, period {sensor.period_s * 1000:g} ms; total: {total}"
            if sensor.rail_names:
                detail += f"; rails: {', '.join(sensor.rail_names)}"
        finally:
            sensor.close()
        probes.append(Probe(name, True, True, detail))
    return probes
