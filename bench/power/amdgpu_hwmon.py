"""AMD GPUs and APUs (Strix Halo / Ryzen AI Max) through the amdgpu hwmon interface.

``/sys/class/drm/card<N>/device/hwmon/hwmon<M>/`` with ``name`` = ``amdgpu`` and ``power1_input`` (current
socket power) or, on older kernels, only ``power1_average``, both in µW. On an APU the figure covers the
whole package, CPU included (PPT). The firmware smooths it, and ``power1_average`` is an average over a
window the driver does not document: the manifest says which file was read, and the sensor's period is
taken as 1 s for ``power1_average`` so that requests shorter than ~10 s get apportioned energy from a
longer window rather than integrated from a smoothed curve. Where RAPL is readable on the same machine it
is preferred (an energy counter beats a smoothed power reading).

amd-smi reported N/A on gfx1151 with ROCm 7.2, and Zeus reads AMD GPUs through amdsmi, so neither is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.power.base import Kind, PowerSample, SensorAbsent, close_fds, open_readable, read_int

__all__ = ["AmdgpuHwmon", "find_hwmons"]

NAME = "amdgpu-hwmon"
GLOB = "sys/class/drm/card*/device/hwmon/hwmon*"
_FIX = "run as root, or: sudo chmod a+r /sys/class/drm/card*/device/hwmon/hwmon*/power1_*"


def find_hwmons(root: Path = Path("/")) -> list[tuple[Path, Path]]:
    """(hwmon dir, power file) for every amdgpu hwmon, preferring ``power1_input`` to ``power1_average``."""
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for hwmon in sorted(root.glob(GLOB)):
        try:
            if (hwmon / "name").read_text().strip() != "amdgpu":
                continue
        except OSError:
            continue
        real = hwmon.resolve()
        if real in seen:
            continue
        seen.add(real)
        for fname in ("power1_input", "power1_average"):
            if (hwmon / fname).exists():
                found.append((hwmon, hwmon / fname))
                break
    return found


class AmdgpuHwmon:
    """Package (APU) or board (dGPU) power, summed over amdgpu devices."""

    name = NAME
    kind: Kind = "power"
    estimated = False
    live = True

    def __init__(self, root: Path = Path("/"), *, clock: Callable[[], int] = time.perf_counter_ns) -> None:
        found = find_hwmons(root)
        if not found:
            raise SensorAbsent(NAME, "no amdgpu hwmon with power1_input/power1_average under /sys/class/drm")
        self._clock = clock
        self._fds: list[int] = []
        try:
            for _, path in found:
                self._fds.append(open_readable(path, NAME, _FIX))
        except BaseException:
            self.close()
            raise
        self._found = found
        self.averaged = any(p.name == "power1_average" for _, p in found)
        self.period_s = 1.0 if self.averaged else 0.01
        self.rail_names = tuple(f"{h.parents[2].name}:{p.name}" for h, p in found)

    def read(self) -> PowerSample:
        t = self._clock()
        rails = tuple(read_int(fd) / 1e6 for fd in self._fds)
        return PowerSample(t_ns=t, power_w=sum(rails), rails=rails)

    def info(self) -> dict[str, Any]:
        return {
            "total": "amdgpu package/board power (an APU's includes its CPU); firmware-smoothed",
            "rails_unit": "W",
            "paths": [str(p) for _, p in self._found],
            "averaged": self.averaged,
        }

    def close(self) -> None:
        close_fds(self._fds)
        self._fds = []
