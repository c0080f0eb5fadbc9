"""Apple Silicon through ``macmon`` (no sudo): ``macmon pipe -i MS`` prints one JSON object per line.

Keys used (watts, each the average over the interval since the previous line): ``cpu_power``,
``gpu_power``, ``ane_power``, ``all_power`` (CPU + GPU + ANE), ``ram_power`` and ``sys_power`` (the whole
system, when the Mac reports it; 0 or absent otherwise). The total is ``sys_power`` where the first sample
reports it, else ``all_power + ram_power``, fixed for the whole run and named in the manifest. The interval
of a line is the difference of consecutive ``timestamp`` values (the nominal ``-i`` for the first line).
Install with ``brew install macmon``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from typing import Any

from bench.power.base import SensorAbsent
from bench.power.stream import Interval, StreamSensor

__all__ = ["MacmonParser", "open_macmon"]

NAME = "apple-macmon"
RAILS = ("cpu", "gpu", "ane", "ram")
INSTALL = "brew install macmon (or: cargo install macmon)"


def _num(obj: dict[str, Any], key: str) -> float:
    v = obj.get(key)
    return float(v) if isinstance(v, (int, float)) else 0.0


def _timestamp_s(obj: dict[str, Any]) -> float | None:
    ts = obj.get("timestamp")
    if not isinstance(ts, str):
        return None
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class MacmonParser:
    """Incremental parser of ``macmon pipe`` JSON lines."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._buf = bytearray()
        self._last_ts: float | None = None
        self.uses_sys_power: bool | None = None

    def feed(self, data: bytes) -> list[Interval]:
        self._buf.extend(data)
        out: list[Interval] = []
        while (nl := self._buf.find(b"\n")) >= 0:
            line = bytes(self._buf[:nl]).strip()
            del self._buf[: nl + 1]
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"not JSON: {exc}") from None
            if isinstance(obj, dict):
                out.append(self._interval(obj))
        return out

    def _interval(self, obj: dict[str, Any]) -> Interval:
        if self.uses_sys_power is None:
            self.uses_sys_power = _num(obj, "sys_power") > 0
        ts = _timestamp_s(obj)
        seconds = self.interval_s
        if ts is not None and self._last_ts is not None and 0 < ts - self._last_ts < 60:
            seconds = ts - self._last_ts
        self._last_ts = ts
        rails = tuple(_num(obj, f"{r}_power") for r in RAILS)
        if self.uses_sys_power:
            total = _num(obj, "sys_power")
        else:
            total = (_num(obj, "all_power") or sum(rails[:3])) + rails[3]
        return Interval(seconds=seconds, total_w=total, rails_w=rails)


def open_macmon(interval_ms: int = 100, *, argv: list[str] | None = None) -> StreamSensor:
    """Start ``macmon pipe`` (or ``argv``: a recorded stream in tests) and wait for its first sample."""
    if argv is None:
        exe = shutil.which("macmon")
        if exe is None:
            raise SensorAbsent(NAME, "macmon is not installed", fix=INSTALL)
        argv = [exe, "pipe", "-i", str(interval_ms)]
    parser = MacmonParser(interval_ms / 1000.0)
    sensor = StreamSensor(
        NAME,
        argv,
        parser,
        period_s=interval_ms / 1000.0,
        rail_names=RAILS,
        total="",
        first_sample_timeout_s=max(5.0, 3 * interval_ms / 1000.0),
    )
    sensor.total = (
        "sys_power (whole system, as the Mac reports it)"
        if parser.uses_sys_power
        else "all_power + ram_power (CPU + GPU + ANE + DRAM; this Mac reports no sys_power)"
    )
    return sensor
