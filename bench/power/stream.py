"""Sensors that are a child process printing one sample per interval (powermetrics, macmon).

Each sample they print is the *average* power over an interval that starts where the previous one ended
(both read Apple's IOReport energy deltas). Contiguous interval averages add up exactly to the energy
used, so they are accumulated here into a cumulative counter (``kind = "counter"``) stamped when the
sample arrives, rather than treated as instantaneous power. The interval (``-i MS``) is the sensor's period:
requests shorter than ~10 intervals get apportioned energy.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.power.base import Kind, PowerSample, SensorAbsent, SensorUnreadable

__all__ = ["Interval", "StreamParser", "StreamSensor"]


@dataclass(frozen=True, slots=True)
class Interval:
    """One printed sample: average watts (total and per rail) over ``seconds``."""

    seconds: float
    total_w: float
    rails_w: tuple[float, ...]


class StreamParser(Protocol):
    def feed(self, data: bytes) -> list[Interval]: ...


class StreamSensor:
    """Runs ``argv``, parses its output on a reader thread, and serves the accumulated counter."""

    kind: Kind = "counter"
    estimated = False
    live = True

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        parser: StreamParser,
        *,
        period_s: float,
        rail_names: tuple[str, ...],
        total: str,
        first_sample_timeout_s: float = 5.0,
        clock: Callable[[], int] = time.perf_counter_ns,
    ) -> None:
        self.name = name
        self.period_s = period_s
        self.rail_names = rail_names
        self.total = total
        self.argv = list(argv)
        self._parser = parser
        self._clock = clock
        self._lock = threading.Lock()
        self._energy = 0.0
        self._rails = [0.0] * len(rail_names)
        self._latest = PowerSample(t_ns=clock(), energy_j=0.0, rails=tuple(self._rails))
        self._samples = 0
        self._first = threading.Event()
        self._first_interval: Interval | None = None
        self._stderr: deque[str] = deque(maxlen=5)
        self._eof = False
        try:
            self._proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except FileNotFoundError:
            raise SensorAbsent(name, f"{self.argv[0]} is not installed") from None
        except OSError as exc:
            raise SensorUnreadable(name, f"cannot start {self.argv[0]}: {exc.strerror}") from None
        self._reader = threading.Thread(target=self._read_stdout, name=f"{name}-reader", daemon=True)
        self._err_reader = threading.Thread(target=self._read_stderr, name=f"{name}-stderr", daemon=True)
        self._reader.start()
        self._err_reader.start()
        if not self._first.wait(first_sample_timeout_s) or self._first_interval is None:
            if self._eof:
                self._err_reader.join(timeout=1)
            why = "; ".join(self._stderr) or "no sample printed"
            self.close()
            within = f"{first_sample_timeout_s:g} s"
            raise SensorUnreadable(name, f"{self.argv[0]} gave no sample within {within} ({why})")
        first = self._first_interval
        if first.total_w == 0.0 and all(v == 0.0 for v in first.rails_w):
            self.close()
            raise SensorUnreadable(
                name,
                "every channel reads 0 W (seen with some macOS/chip combinations)",
                fix="try the other Apple sensor (apple-macmon, apple-powermetrics) or csv:FILE",
            )

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            try:
                intervals = self._parser.feed(data)
            except ValueError as exc:
                self._stderr.append(f"unparseable output: {exc}")
                continue
            now = self._clock()
            for iv in intervals:
                self._add(now, iv)
        self._eof = True
        self._first.set()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            text = line.decode("utf-8", "replace").strip()
            if text:
                self._stderr.append(text)

    def _add(self, t_ns: int, iv: Interval) -> None:
        with self._lock:
            self._energy += iv.total_w * iv.seconds
            for i, w in enumerate(iv.rails_w[: len(self._rails)]):
                self._rails[i] += w * iv.seconds
            self._latest = PowerSample(t_ns=t_ns, energy_j=self._energy, rails=tuple(self._rails))
            self._samples += 1
        if self._first_interval is None:
            self._first_interval = iv
            self._first.set()

    def read(self) -> PowerSample:
        if self._eof:
            why = "; ".join(self._stderr) or f"exit code {self._proc.poll()}"
            raise RuntimeError(f"{self.argv[0]} stopped: {why}")
        with self._lock:
            return self._latest

    def info(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "rails_unit": "J (cumulative, from interval averages)",
            "command": " ".join(self.argv),
            "samples": self._samples,
        }

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)
        self._reader.join(timeout=3)
        self._err_reader.join(timeout=3)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
