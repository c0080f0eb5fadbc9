"""The power sampler: a background thread reading a sensor at a fixed rate into ``power.csv``.

- Rate: instantaneous power is read at 100 Hz by default, the rate at which it was measured to land
  within a fraction of a percent of the energy counter on an H200 (docs/figures.md). A pure counter (RAPL,
  the Apple streams, the estimate) does not need that: ``mark()`` reads it at each request edge (called
  from the runner's progress events, just before dispatch and just after the stream ends) and the thread
  reads it at ``COUNTER_HZ`` between edges, which catches every wraparound (RAPL wraps after minutes) and
  keeps the idle and apportioning windows covered. NVML gives both and is read at the full rate.
- Overhead: one sensor read per tick, rows formatted once a second; the thread's own CPU time is
  measured (``time.thread_time_ns``) and recorded in the manifest (``sampler_cpu_share``: of one core).
  A sensor whose reads are pathologically slow must not steal the engine's CPU: when the thread took
  more than ``RATE_CAP_SHARE`` of a core over a second, it lowers its rate (never below ``MIN_RATE_HZ``)
  to aim at ``RATE_TARGET_SHARE``, and the manifest says so (``rate_lowered``). Seen on an H200 under
  gVisor: one NVML read cost ~4.5 ms, so 100 Hz took 45% of a core.
- Crash safety: rows are flushed about once a second and fsynced at the end.
- A failing read is counted and skipped; the run never stops because of its power sensor. After 100
  failures in a row the sampler stops and the manifest says why.
- The idle baseline is the mean power over ``measure_idle(seconds)`` before the run starts.

Standard library + numpy only (runs on a GPU machine without the rest of infercost's dependencies).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.power.attribution import EnergyCurve, idle_power_w
from bench.power.base import PowerSample, PowerSensor
from bench.power.trace import TraceWriter, trace_from_samples

__all__ = [
    "COUNTER_HZ",
    "DEFAULT_RATE_HZ",
    "MIN_RATE_HZ",
    "RATE_CAP_SHARE",
    "RATE_TARGET_SHARE",
    "THROTTLE_WINDOW_S",
    "IdleBaseline",
    "PowerSampler",
    "SamplerStats",
    "poll_hz",
]

DEFAULT_RATE_HZ = 100.0
COUNTER_HZ = 10.0
RATE_CAP_SHARE = 0.05  # above this share of a core over a second, the sampler slows down ...
RATE_TARGET_SHARE = 0.01  # ... to aim at this share (the overhead goal)
THROTTLE_WINDOW_S = 1.0  # the share is judged over at least this long, whatever the flush interval
MIN_RATE_HZ = 1.0
_MAX_CONSECUTIVE_ERRORS = 100


def poll_hz(sensor: PowerSensor, rate_hz: float) -> float:
    """How often the thread reads: ``rate_hz`` for instantaneous power, at most ``COUNTER_HZ`` for a pure
    counter (its request edges are read by ``mark()``)."""
    if sensor.kind == "power" or getattr(sensor, "instant_power", False):
        return rate_hz
    return min(rate_hz, COUNTER_HZ)


@dataclass(frozen=True)
class SamplerStats:
    rows: int
    errors: int
    overruns: int
    wall_s: float
    thread_cpu_s: float
    last_error: str | None
    stopped_early: bool
    rate_lowered: dict[str, float] | None = None  # {"from_hz", "to_hz", "cpu_share", "after_s"}

    @property
    def cpu_share(self) -> float:
        """The sampler thread's CPU time as a share of one core over the sampling time."""
        return self.thread_cpu_s / self.wall_s if self.wall_s > 0 else 0.0


@dataclass(frozen=True)
class IdleBaseline:
    start_ns: int  # relative to the anchor
    end_ns: int
    idle_w: float | None


class PowerSampler:
    """Owns the trace file while a run goes; the caller owns (and closes) the sensor."""

    def __init__(
        self,
        sensor: PowerSensor,
        path: Path,
        anchor_ns: int,
        *,
        rate_hz: float = DEFAULT_RATE_HZ,
        flush_every_s: float = 1.0,
    ) -> None:
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.sensor = sensor
        self.path = path
        self.anchor_ns = anchor_ns
        self.rate_hz = poll_hz(sensor, rate_hz)
        self.flush_every_s = flush_every_s
        self._writer = TraceWriter(path, sensor.rail_names, sensor.kind, anchor_ns)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_t: int | None = None
        self._collect: list[PowerSample] | None = None
        self._errors = 0
        self._consecutive = 0
        self._overruns = 0
        self._last_error: str | None = None
        self._stopped_early = False
        self._thread_cpu_ns = 0
        self._rate_lowered: dict[str, float] | None = None
        self._t_start = 0.0
        self._t_stop = 0.0
        self._stats: SamplerStats | None = None

    # ----------------------------------------------------------------------------------------- api
    def start(self) -> None:
        self._t_start = time.perf_counter()
        self.mark()
        if self.sensor.live:
            self._thread = threading.Thread(target=self._loop, name="infercost-power", daemon=True)
            self._thread.start()

    @property
    def rows(self) -> int:
        """Rows written to ``power.csv`` so far."""
        return self._writer.rows

    def mark(self) -> None:
        """One reading now (a request edge); safe to call from any thread."""
        if self.sensor.live and not self._stopped_early:
            self._sample()

    def measure_idle(self, seconds: float) -> IdleBaseline:
        """Sleep ``seconds`` while sampling; the mean power over that window is the idle baseline."""
        self._collect = []
        t0 = time.perf_counter_ns()
        self.mark()
        time.sleep(max(seconds, 0.0))
        self.mark()
        t1 = time.perf_counter_ns()
        with self._lock:
            samples, self._collect = self._collect, None
        idle: float | None = None
        if self.sensor.live and len(samples) >= 2:
            try:
                curve = EnergyCurve(trace_from_samples(samples), self.sensor.kind)
                if len(curve) >= 2:  # over what the curve covers (a counter: its first to last change)
                    idle = idle_power_w(curve, int(curve.xs[0]), int(curve.xs[-1]))
            except ValueError:
                idle = None
        return IdleBaseline(start_ns=t0 - self.anchor_ns, end_ns=t1 - self.anchor_ns, idle_w=idle)

    def settle_s(self) -> float:
        """How long to keep reading around the requests so that the source has updated past their edges
        (two of its periods, at most a second): a counter's last update before ``stop`` must come after the
        last request ended, or that request has no measured end."""
        return min(2.0 * max(self.sensor.period_s, 1.0 / self.rate_hz), 1.0) if self.sensor.live else 0.0

    def stop(self, *, settle: bool = True) -> SamplerStats:
        """Stop the thread (after ``settle_s``), take a last reading, flush, close the trace. Idempotent."""
        if self._stats is not None:
            return self._stats
        if settle and self._thread is not None and not self._stopped_early:
            time.sleep(self.settle_s())
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.mark()
        self._t_stop = time.perf_counter()
        with self._lock:
            self._writer.close()
        self._stats = SamplerStats(
            rows=self._writer.rows,
            errors=self._errors,
            overruns=self._overruns,
            wall_s=self._t_stop - self._t_start,
            thread_cpu_s=self._thread_cpu_ns / 1e9,
            last_error=self._last_error,
            stopped_early=self._stopped_early,
            rate_lowered=self._rate_lowered,
        )
        return self._stats

    def write_samples(self, samples: list[PowerSample]) -> None:
        """Rows from elsewhere (an external trace imported after the run)."""
        with self._lock:
            for s in sorted(samples, key=lambda s: s.t_ns):
                self._writer.write(s)

    # ------------------------------------------------------------------------------------ internals
    def _sample(self) -> None:
        with self._lock:
            try:
                s = self.sensor.read()
            except Exception as exc:  # a sensor hiccup must never take the run down
                self._errors += 1
                self._consecutive += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                if self._consecutive >= _MAX_CONSECUTIVE_ERRORS:
                    self._stopped_early = True
                    self._stop.set()
                return
            self._consecutive = 0
            if s.t_ns == self._last_t:  # a streaming sensor with no new sample since the last read
                return
            self._last_t = s.t_ns
            if not self._writer.closed:
                self._writer.write(s)
            if self._collect is not None:
                self._collect.append(s)

    def _loop(self) -> None:
        cpu0 = time.thread_time_ns()
        interval = 1.0 / self.rate_hz
        next_t = time.perf_counter() + interval
        last_flush = window_start = time.perf_counter()
        cpu_at_window = cpu0
        sleep, clock, stop = time.sleep, time.perf_counter, self._stop
        while not stop.is_set():
            # time.sleep costs about half what Event.wait does per tick; stop() waits at most one tick
            delay = next_t - clock()
            if delay > 0:
                sleep(delay)
                if stop.is_set():
                    break
            self._sample()
            next_t += interval
            now = time.perf_counter()
            if now - next_t > interval:  # fell more than a tick behind (a stalled machine): skip ahead
                self._overruns += 1
                next_t = now + interval
            if now - last_flush >= self.flush_every_s:
                with self._lock:
                    self._writer.flush()
                last_flush = now
            if now - window_start >= THROTTLE_WINDOW_S:
                # judged over a full window, not per flush: a quarter-second window on a busy machine
                # once read 5.1% for a cheap sysfs sensor (thread start-up and cache misses dominate it)
                cpu = time.thread_time_ns()
                interval = self._throttled(interval, (cpu - cpu_at_window) / 1e9 / (now - window_start), now)
                window_start, cpu_at_window = now, cpu
        self._thread_cpu_ns = time.thread_time_ns() - cpu0

    def _throttled(self, interval: float, cpu_share: float, now: float) -> float:
        """The tick interval after a second that cost ``cpu_share`` of a core (see the module docstring)."""
        rate = 1.0 / interval
        if cpu_share <= RATE_CAP_SHARE or rate <= MIN_RATE_HZ:
            return interval
        new_rate = max(rate * RATE_TARGET_SHARE / cpu_share, MIN_RATE_HZ)
        first = self._rate_lowered or {"from_hz": rate, "cpu_share": round(cpu_share, 4)}
        self._rate_lowered = {**first, "to_hz": round(new_rate, 3), "after_s": round(now - self._t_start, 3)}
        return 1.0 / new_rate
