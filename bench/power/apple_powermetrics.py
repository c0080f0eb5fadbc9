"""Apple Silicon through ``powermetrics`` (ships with macOS; needs root, so it runs under ``sudo -n``).

``powermetrics --samplers cpu_power,gpu_power,ane_power -i MS -f plist`` prints one XML plist per sample,
separated by NUL bytes (written *before* each sample, so a sample is complete at ``</plist>``). Keys used:
``elapsed_ns`` (the sample's interval) and ``processor.cpu_power``, ``processor.gpu_power``,
``processor.ane_power``, ``processor.combined_power`` in mW (combined = CPU + GPU + ANE: it excludes DRAM,
SSD, display and PSU; the profile's ``wall_factor`` covers the rest). The man page calls these figures
estimates: they are Apple's on-die energy model, the same numbers Activity Monitor and every Mac power
tool show, and are recorded as such in the manifest.

A sudoers line lets the harness start it without a password prompt (``infercost doctor`` prints it).
Zeus uses ``zeus-apple-silicon`` (a compiled IOReport extension) instead; ``apple-macmon`` here reads the
same IOReport data without sudo and without a compiled dependency.
"""

from __future__ import annotations

import getpass
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.power.base import SensorAbsent, SensorUnreadable
from bench.power.stream import Interval, StreamSensor

__all__ = ["POWERMETRICS", "PlistStreamParser", "interval_from_plist", "open_powermetrics", "sudoers_fix"]

NAME = "apple-powermetrics"
POWERMETRICS = "/usr/bin/powermetrics"
RAILS = ("cpu", "gpu", "ane")


def sudoers_fix(user: str | None = None) -> str:
    user = user or getpass.getuser()
    line = f"{user} ALL=(root) NOPASSWD: {POWERMETRICS}"
    return (
        f"allow it without a password prompt: echo '{line}' | sudo tee /etc/sudoers.d/infercost-powermetrics "
        "&& sudo chmod 0440 /etc/sudoers.d/infercost-powermetrics"
    )


def interval_from_plist(sample: dict[str, Any]) -> Interval:
    """One decoded plist → average watts over its ``elapsed_ns``."""
    proc = sample.get("processor")
    if not isinstance(proc, dict):
        raise ValueError("plist sample has no 'processor' dict (needs --samplers cpu_power,...)")
    elapsed = sample.get("elapsed_ns")
    if not isinstance(elapsed, int) or elapsed <= 0:
        raise ValueError("plist sample has no positive 'elapsed_ns'")
    rails = tuple(float(proc.get(f"{r}_power", 0.0)) / 1000.0 for r in RAILS)
    combined = proc.get("combined_power")
    total = float(combined) / 1000.0 if combined is not None else sum(rails)
    return Interval(seconds=elapsed / 1e9, total_w=total, rails_w=rails)


class PlistStreamParser:
    """Incremental parser of powermetrics' NUL-separated plist stream."""

    _END = b"</plist>"

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Interval]:
        self._buf.extend(data)
        out: list[Interval] = []
        while True:
            end = self._buf.find(self._END)
            if end < 0:
                break
            chunk = bytes(self._buf[: end + len(self._END)])
            del self._buf[: end + len(self._END)]
            doc = chunk.strip(b"\x00 \t\r\n")
            try:
                sample = plistlib.loads(doc)
            except Exception as exc:  # plistlib raises ExpatError, ValueError, ...
                raise ValueError(f"not a plist ({type(exc).__name__}: {exc})") from None
            if isinstance(sample, dict):
                out.append(interval_from_plist(sample))
        return out


def _sudo_allowed() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        r = subprocess.run(["sudo", "-n", "-l", POWERMETRICS], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def check_available() -> None:
    """Raise ``SensorAbsent``/``SensorUnreadable`` unless powermetrics can be started without a prompt."""
    if sys.platform != "darwin" or not Path(POWERMETRICS).exists():
        raise SensorAbsent(NAME, f"{POWERMETRICS} not found (macOS only)")
    if not _sudo_allowed():
        raise SensorUnreadable(NAME, "needs root, and sudo asks for a password", fix=sudoers_fix())


def open_powermetrics(
    interval_ms: int = 100, *, argv: list[str] | None = None, check: bool = True
) -> StreamSensor:
    """Start powermetrics (or ``argv``: a recorded stream in tests) and wait for its first sample."""
    if argv is None:
        if check:
            check_available()
        prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
        argv = [
            *prefix, POWERMETRICS, "--samplers", "cpu_power,gpu_power,ane_power",
            "-i", str(interval_ms), "-f", "plist",
        ]  # fmt: skip
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise SensorAbsent(NAME, f"{argv[0]} not found")
    return StreamSensor(
        NAME,
        argv,
        PlistStreamParser(),
        period_s=interval_ms / 1000.0,
        rail_names=RAILS,
        total="processor.combined_power (CPU + GPU + ANE; no DRAM, SSD, display, PSU); Apple's estimates",
        first_sample_timeout_s=max(5.0, 3 * interval_ms / 1000.0),
    )
