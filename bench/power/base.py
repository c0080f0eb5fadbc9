"""The one small protocol every power sensor implements, and the sample it returns.

A sensor is either a **counter** (cumulative energy: NVML total energy, RAPL ``energy_uj``, or a stream of
contiguous interval averages such as powermetrics/macmon, which add up to the same thing) or a **power**
sensor (instantaneous watts: Jetson INA3221 rails, amdgpu hwmon, an external wall meter). The distinction
decides how energy is derived (docs/power.md, "How it is measured"): a counter is interpolated at the
window edges; power samples are integrated with the trapezoidal rule. Averaged power readings (NVML's
1-second ``nvmlDeviceGetPowerUsage``) are never integrated.

This module and the sensor readers import nothing beyond the standard library (numpy only in
``attribution``), so the NVML check can run on a GPU machine that has neither pydantic nor psutil.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bench.errors import EnvironmentNotReady

__all__ = [
    "CounterUnwrapper",
    "Kind",
    "PowerSample",
    "PowerSensor",
    "SensorAbsent",
    "SensorError",
    "SensorUnreadable",
    "close_fds",
    "open_readable",
    "read_int",
]

Kind = Literal["counter", "power"]


@dataclass(frozen=True, slots=True)
class PowerSample:
    """One reading. ``t_ns`` is ``perf_counter_ns`` (the clock of every request stamp).

    ``power_w`` is instantaneous total power; ``energy_j`` is cumulative total energy since the sensor was
    opened, with counter wraparounds already undone. ``rails`` follow the sensor's ``rail_names``: watts
    for a power sensor, cumulative joules for a counter.
    """

    t_ns: int
    power_w: float | None = None
    energy_j: float | None = None
    rails: tuple[float, ...] = ()


class PowerSensor(Protocol):
    """What the sampler needs from a sensor.

    ``period_s`` is the nominal update period of the *source* (NVML's energy counter moves every ~100 ms
    however often it is read); requests shorter than ~10 periods get apportioned energy. ``live`` is False
    for a trace recorded elsewhere (``csv:FILE``), which is imported after the run instead of sampled.
    """

    name: str
    kind: Kind
    period_s: float
    estimated: bool
    live: bool
    rail_names: tuple[str, ...]

    def read(self) -> PowerSample: ...

    def info(self) -> dict[str, Any]:
        """Facts for ``manifest.power``: what the total covers, paths, power mode, caveats."""
        ...

    def close(self) -> None: ...


class SensorError(EnvironmentNotReady):
    """A sensor that cannot be used; ``fix`` says how to make it usable (exit 4)."""

    def __init__(self, sensor: str, message: str, *, fix: str | None = None) -> None:
        super().__init__(f"power sensor '{sensor}': {message}", fix=fix)
        self.sensor = sensor
        self.reason = message


class SensorAbsent(SensorError):
    """The hardware or tool is not on this machine."""


class SensorUnreadable(SensorError):
    """The sensor exists but cannot be read (permissions, sudo, an all-zero channel); ``fix`` says how."""


def open_readable(path: Path, sensor: str, fix: str | None = None) -> int:
    """Open a sysfs attribute for repeated ``os.pread``; a permission problem becomes ``SensorUnreadable``.

    ``os.access`` is checked first so that tests (which run as root) can simulate a file root alone may
    read; a directory where a file should be (a broken tree) is reported the same way.
    """
    if not os.access(path, os.R_OK):
        raise SensorUnreadable(sensor, f"{path}: permission denied", fix=fix)
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        raise SensorUnreadable(sensor, f"{path}: permission denied", fix=fix) from None
    except FileNotFoundError:
        raise SensorAbsent(sensor, f"{path}: no such file") from None
    except OSError as exc:
        raise SensorUnreadable(sensor, f"{path}: cannot open ({exc.strerror})", fix=fix) from None
    try:
        os.pread(fd, 64, 0)
    except OSError as exc:
        os.close(fd)
        raise SensorUnreadable(sensor, f"{path}: cannot read ({exc.strerror})", fix=fix) from None
    return fd


def close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def read_int(fd: int) -> int:
    """A sysfs attribute re-read from offset 0 (the kernel regenerates it on every read)."""
    return int(os.pread(fd, 64, 0))


class CounterUnwrapper:
    """Turns a raw counter that wraps at ``max_range`` into a monotonic count since the first reading.

    A reading lower than the previous one means the counter passed ``max_range`` once (RAPL: at 120 W a
    package counter wraps in ~9 minutes; the sampler reads it many times a second, so two wraps between
    readings cannot happen).
    """

    __slots__ = ("_first", "_last", "_offset", "max_range", "wraps")

    def __init__(self, max_range: int) -> None:
        self.max_range = max_range
        self._first: int | None = None
        self._last = 0
        self._offset = 0
        self.wraps = 0

    def update(self, raw: int) -> int:
        if self._first is None:
            self._first = self._last = raw
            return 0
        if raw < self._last:
            self._offset += self.max_range
            self.wraps += 1
        self._last = raw
        return raw + self._offset - self._first
