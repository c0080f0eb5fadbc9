"""RAPL energy counters (Intel, and AMD Zen on recent kernels) from the Linux powercap tree.

``/sys/class/powercap/intel-rapl:<n>/`` holds one zone per package (``name`` = ``package-0``, or ``psys``
for the whole platform on some laptops), subzones ``intel-rapl:<n>:<m>`` (``core``, ``uncore``, ``dram``);
each has ``energy_uj`` (cumulative µJ) and ``max_energy_range_uj`` (where it wraps). Wraps are undone here,
reading often enough that at most one can happen between two readings.

The total is ``psys`` where it exists, else the packages plus their ``dram`` subzones (DRAM is outside the
package domain on servers); ``core``/``uncore`` are inside the package and are not added again.

``energy_uj`` is readable by root only since the PLATYPUS fix (CVE-2020-8694, kernel 5.10): reading it
unprivileged lets a process watch another's power, which the attack used to leak secrets. The fix text
grants read access on a machine you control, and says what that trades away.

Why not Zeus here: its RAPL reader spawns a polling process per zone to count wraps and returns window
totals; reading the counter directly is a few lines and keeps the raw trace.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.power.base import (
    CounterUnwrapper,
    Kind,
    PowerSample,
    SensorAbsent,
    SensorUnreadable,
    close_fds,
    open_readable,
    read_int,
)

__all__ = ["FIX", "Rapl", "find_zones"]

NAME = "rapl"
BASE = "sys/class/powercap"
FIX = (
    "energy_uj is root-only since CVE-2020-8694 (PLATYPUS); on a machine you control grant read access: "
    "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/intel-rapl:*:*/energy_uj "
    "(until reboot), or persistently with the udev rule "
    '\'ACTION=="add", SUBSYSTEM=="powercap", RUN+="/bin/chmod a+r /sys%p/energy_uj"\' '
    "in /etc/udev/rules.d/99-infercost-rapl.rules; or run infercost as root"
)


class Zone:
    __slots__ = ("dir", "max_range_uj", "name")

    def __init__(self, dir: Path, name: str, max_range_uj: int) -> None:
        self.dir = dir
        self.name = name
        self.max_range_uj = max_range_uj


def find_zones(root: Path = Path("/")) -> list[Zone]:
    """The zones that make up the total (see module docstring), in a stable order."""
    base = root / BASE
    top: list[Zone] = []
    dram: list[Zone] = []
    for d in sorted(base.glob("intel-rapl:*")):
        m = re.fullmatch(r"intel-rapl:(\d+)(?::(\d+))?", d.name)
        if not m:
            continue
        try:
            name = (d / "name").read_text().strip()
            max_range = int((d / "max_energy_range_uj").read_text())
        except (OSError, ValueError):
            continue
        zone = Zone(d, name, max_range)
        if m.group(2) is None:
            top.append(zone)
        elif name == "dram":
            dram.append(zone)
    psys = [z for z in top if z.name == "psys"]
    if psys:
        return psys
    return [z for z in top if z.name.startswith("package")] + dram


class Rapl:
    """Cumulative energy of the package (and DRAM) domains."""

    name = NAME
    kind: Kind = "counter"
    estimated = False
    live = True
    period_s = 0.001  # RAPL updates about every millisecond

    def __init__(self, root: Path = Path("/"), *, clock: Callable[[], int] = time.perf_counter_ns) -> None:
        zones = find_zones(root)
        if not zones:
            raise SensorAbsent(NAME, f"no RAPL zones under /{BASE}")
        self._clock = clock
        self._fds: list[int] = []
        try:
            for z in zones:
                self._fds.append(open_readable(z.dir / "energy_uj", NAME, FIX))
        except BaseException:
            self.close()
            raise
        self._zones = zones
        self._unwrap = [CounterUnwrapper(z.max_range_uj) for z in zones]
        self.rail_names = tuple(
            z.name if z.name != "dram" else f"dram-{z.dir.name.split(':')[1]}" for z in zones
        )
        self.total = " + ".join(self.rail_names)
        self.read()

    @property
    def wraps(self) -> int:
        return sum(u.wraps for u in self._unwrap)

    def read(self) -> PowerSample:
        t = self._clock()
        try:
            rails = tuple(u.update(read_int(fd)) / 1e6 for u, fd in zip(self._unwrap, self._fds, strict=True))
        except PermissionError:
            raise SensorUnreadable(NAME, "energy_uj: permission denied", fix=FIX) from None
        return PowerSample(t_ns=t, energy_j=sum(rails), rails=rails)

    def info(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rails_unit": "J (cumulative)",
            "paths": [str(z.dir) for z in self._zones],
            "max_energy_range_uj": [z.max_range_uj for z in self._zones],
            "wraps": self.wraps,
        }

    def close(self) -> None:
        close_fds(self._fds)
        self._fds = []
