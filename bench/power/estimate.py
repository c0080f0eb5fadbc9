"""The fallback where no sensor can be read (VMs, containers, CI): an *estimate*, always labelled so.

power = ``idle_w`` + (``max_w`` − ``idle_w``) × CPU utilization, with both watts from the device profile
and utilization from the kernel's CPU time counters (psutil) over the interval since the previous reading,
accumulated into an energy counter. It is a model, not a measurement: TDP-times-load estimates have been
seen to miss RAPL by −60% to +190%, they ignore GPUs, memory and the rest of the machine, and they count
every process's CPU time, not only the engine's. Every record it produces says ``energy_source =
"estimated"`` and the summary table marks its numbers with ``~``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.errors import UsageError
from bench.power.base import Kind, PowerSample

__all__ = ["Estimate"]

NAME = "estimate"


class Estimate:
    name = NAME
    kind: Kind = "counter"
    estimated = True
    live = True
    period_s = 0.01  # the kernel counts CPU time in 10 ms ticks
    rail_names: tuple[str, ...] = ()

    def __init__(
        self,
        idle_w: float | None,
        max_w: float | None,
        *,
        profile: str = "the device profile",
        clock: Callable[[], int] = time.perf_counter_ns,
        cpu_times: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        if idle_w is None or max_w is None:
            raise UsageError(
                f"--power estimate needs idle_w and max_w in {profile}",
                fix="add e.g. idle_w = 5.0 and max_w = 25.0 (watts) to the profile, or use a measured sensor",
            )
        if max_w < idle_w:
            raise UsageError(f"{profile}: max_w ({max_w}) is below idle_w ({idle_w})")
        self.idle_w = idle_w
        self.max_w = max_w
        self._clock = clock
        self._cpu_times = cpu_times or _psutil_cpu_times()
        self._energy = 0.0
        self._t = clock()
        self._busy, self._total = self._cpu_times()
        self._util = 0.0

    def read(self) -> PowerSample:
        t = self._clock()
        busy, total = self._cpu_times()
        if total > self._total:
            self._util = min(max((busy - self._busy) / (total - self._total), 0.0), 1.0)
        power = self.idle_w + (self.max_w - self.idle_w) * self._util
        self._energy += power * (t - self._t) / 1e9
        self._t, self._busy, self._total = t, busy, total
        return PowerSample(t_ns=t, power_w=power, energy_j=self._energy)

    def info(self) -> dict[str, Any]:
        return {
            "total": f"ESTIMATE: idle_w {self.idle_w} W + (max_w {self.max_w} W − idle_w) × CPU utilization",
            "idle_w_profile": self.idle_w,
            "max_w_profile": self.max_w,
        }

    def close(self) -> None:
        pass


def _psutil_cpu_times() -> Callable[[], tuple[float, float]]:
    import psutil

    def read() -> tuple[float, float]:
        ct = psutil.cpu_times()
        # Linux counts guest time inside user/nice already (psutil's own cpu_percent removes it too)
        total = sum(ct) - getattr(ct, "guest", 0.0) - getattr(ct, "guest_nice", 0.0)
        idle = ct.idle + getattr(ct, "iowait", 0.0)
        return total - idle, total

    return read
