"""Jetson Orin (Nano, NX, AGX): the INA3221 rail monitors in sysfs.

Layout (JetPack 5/6): ``/sys/bus/i2c/drivers/ina3221/<bus-addr>/hwmon/hwmon<N>/`` (older kernels name the
driver ``ina3221x``; ``hwmonN`` changes between boards and boots, so it is globbed) with ``in{n}_label``
(rail name), ``in{n}_input`` (bus voltage, mV) and ``curr{n}_input`` (mA); power = mV × mA / 1000 mW.
Channel 7 is the sum-of-shunts channel and labels containing "NC" are unconnected: both are skipped.

The total is ``VDD_IN`` (the module's input rail) where the board has one (Orin Nano/NX); AGX Orin has no
``VDD_IN``, so the total there is the sum of its rails, and the manifest says which. Either way it excludes
the carrier board, NVMe, USB and PSU losses (the profile's ``wall_factor`` covers those).

The power mode (``nvpmodel -q``) is recorded: the same board at 7 W and at MAXN is a different device.

Why not Zeus (ML.ENERGY) here: its Jetson reader integrates the rails itself in a separate process at
~10 Hz (rectangles) and returns window totals, so it cannot give the raw trace this harness keeps in
``power.csv``, and it only looks under the ``ina3221x`` driver path.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.power.base import (
    Kind,
    PowerSample,
    SensorAbsent,
    SensorUnreadable,
    close_fds,
    open_readable,
    read_int,
)

__all__ = ["JetsonIna3221", "Rail", "find_rails", "nvpmodel_mode", "parse_nvpmodel"]

NAME = "jetson-ina3221"
GLOB = "sys/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*"
_SUM_CHANNEL = 7
_FIX = "run as root, or: sudo chmod a+r /sys/bus/i2c/drivers/ina3221*/*/hwmon/hwmon*/{in,curr}*_input"


class Rail:
    """One INA3221 channel: its label and the two attribute files that give its power."""

    __slots__ = ("channel", "current", "label", "voltage")

    def __init__(self, label: str, channel: int, voltage: Path, current: Path) -> None:
        self.label = label
        self.channel = channel
        self.voltage = voltage
        self.current = current


def find_rails(root: Path = Path("/")) -> list[Rail]:
    """Every connected rail on every INA3221, in a stable order (device path, then channel)."""
    rails: list[Rail] = []
    for hwmon in sorted(root.glob(GLOB)):
        for label_file in sorted(hwmon.glob("in*_label")):
            m = re.fullmatch(r"in(\d+)_label", label_file.name)
            if not m:
                continue
            channel = int(m.group(1))
            if channel == _SUM_CHANNEL:
                continue
            try:
                label = label_file.read_text().strip()
            except OSError:
                continue
            if not label or "NC" in label:  # unconnected channel
                continue
            voltage, current = hwmon / f"in{channel}_input", hwmon / f"curr{channel}_input"
            if voltage.exists() and current.exists():
                rails.append(Rail(label, channel, voltage, current))
    return rails


def parse_nvpmodel(text: str) -> dict[str, Any] | None:
    """``nvpmodel -q`` prints ``NV Power Mode: MAXN_SUPER`` then the mode id on the next line."""
    m = re.search(r"NV Power Mode:\s*(\S+)\s*\n\s*(\d+)", text)
    if m:
        return {"name": m.group(1), "id": int(m.group(2))}
    m = re.search(r"NV Power Mode:\s*(\S+)", text)
    return {"name": m.group(1), "id": None} if m else None


def nvpmodel_mode(binary: str | None = None) -> dict[str, Any] | None:
    """The current power mode, or None where ``nvpmodel`` is missing or fails."""
    exe = binary or shutil.which("nvpmodel")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, "-q"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_nvpmodel(out.stdout + out.stderr)


class JetsonIna3221:
    """Instantaneous rail power from the INA3221 monitors."""

    name = NAME
    kind: Kind = "power"
    estimated = False
    live = True

    def __init__(
        self,
        root: Path = Path("/"),
        *,
        clock: Callable[[], int] = time.perf_counter_ns,
        nvpmodel: str | None = None,
    ) -> None:
        rails = find_rails(root)
        if not rails:
            raise SensorAbsent(NAME, "no INA3221 rails under /sys/bus/i2c/drivers/ina3221*")
        self._clock = clock
        self._fds: list[tuple[int, int]] = []
        try:
            for rail in rails:
                self._fds.append(
                    (open_readable(rail.voltage, NAME, _FIX), open_readable(rail.current, NAME, _FIX))
                )
        except BaseException:
            self.close()
            raise
        self._rails = rails
        self.rail_names = tuple(r.label for r in rails)
        labels = [r.label for r in rails]
        self._total_index = labels.index("VDD_IN") if "VDD_IN" in labels else None
        self.total = (
            "VDD_IN (module input; excludes carrier board, NVMe, USB and PSU losses)"
            if self._total_index is not None
            else f"sum of rails {' + '.join(labels)} (this board has no VDD_IN, e.g. AGX Orin)"
        )
        interval = rails[0].voltage.parent / "update_interval"
        try:
            self.period_s = max(int(interval.read_text()) / 1000.0, 0.001)
        except (OSError, ValueError):
            self.period_s = 0.01
        self.mode = nvpmodel_mode(nvpmodel)
        if all(v == 0.0 for v in self.read().rails):
            self.close()
            raise SensorUnreadable(NAME, "every rail reads 0 W", fix="check the ina3221 driver (dmesg)")

    def read(self) -> PowerSample:
        t = self._clock()
        watts = tuple(read_int(v) * read_int(c) / 1e6 for v, c in self._fds)
        total = watts[self._total_index] if self._total_index is not None else sum(watts)
        return PowerSample(t_ns=t, power_w=total, rails=watts)

    def info(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rails_unit": "W",
            "paths": sorted({str(r.voltage.parent) for r in self._rails}),
            "power_mode": self.mode,
        }

    def close(self) -> None:
        close_fds([fd for pair in self._fds for fd in pair])
        self._fds = []
