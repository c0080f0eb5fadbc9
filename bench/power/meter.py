"""Power metering for one run: idle baseline, sampler thread, request-edge marks, ``manifest.power``.

``bench.run.orchestrate.execute_run`` calls ``start`` once the bundle exists and before the first request,
passes the runner's progress callback through ``wrap`` (which marks request edges), and calls ``stop``
when the runner returns, fails or is interrupted. Nothing here computes per-request energy: that is
derived at read time (``bench.power.records``) from ``power.csv`` and ``manifest.power``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from bench.power.base import PowerSensor
from bench.power.registry import Selection
from bench.power.sampler import DEFAULT_RATE_HZ, PowerSampler, poll_hz
from bench.power.trace import POWER_CSV
from bench.results.schema import Manifest, PowerFacts

__all__ = ["DEFAULT_IDLE_SECONDS", "PowerMeter"]

DEFAULT_IDLE_SECONDS = 5.0
_MARGIN_NS = 5_000_000_000


class _Writer(Protocol):  # bench.results.bundle.BundleWriter: what the meter reads and sets
    run_dir: Any
    manifest: Manifest

    def write_manifest(self) -> None: ...


def _wall_anchor() -> tuple[int, int]:
    """``time.time_ns()`` and ``perf_counter_ns()`` taken together (perf read either side, averaged)."""
    p0 = time.perf_counter_ns()
    wall = time.time_ns()
    p1 = time.perf_counter_ns()
    return wall, (p0 + p1) // 2


def _stated_idle(sensor: PowerSensor, observed_w: float | None) -> dict[str, Any]:
    """An estimate's idle is the watts the profile states, never what it "measured" before the run: it
    models the whole machine's CPU time, so on a machine busy with other work its idle window reads up to
    ``max_w`` (seen: 45 W for a stated 5 W), and every request's energy above idle came out near zero.
    The observed figure is kept beside it, for the reader who wants to see the machine was busy."""
    stated = sensor.info().get("idle_w_profile") if sensor.estimated else None
    if not isinstance(stated, (int, float)):
        return {}
    return {"idle_w": float(stated), "idle_w_observed": observed_w, "idle_w_from": "stated (estimate sensor)"}


class PowerMeter:
    def __init__(
        self,
        selection: Selection,
        *,
        rate_hz: float = DEFAULT_RATE_HZ,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
    ) -> None:
        self.selection = selection
        self.sensor: PowerSensor | None = selection.sensor
        self.rate_hz = rate_hz
        self.idle_seconds = idle_seconds
        self.sampler: PowerSampler | None = None
        self._power: dict[str, Any] = {}

    def start(self, writer: _Writer) -> None:
        sel = self.selection
        if self.sensor is None:
            writer.manifest.power = PowerFacts(sensor="none", selected_by=sel.selected_by, reason=sel.reason)
            writer.write_manifest()
            return
        s = self.sensor
        anchor = writer.manifest.anchor_perf_ns
        wall_ns, perf_ns = _wall_anchor()
        self._power = {
            "sensor": s.name if s.name != "csv" else sel.spec,
            "selected_by": sel.selected_by,
            "kind": s.kind,
            "estimated": s.estimated,
            "period_s": s.period_s,
            "rate_hz": poll_hz(s, self.rate_hz) if s.live else None,
            "rails": list(s.rail_names),
            **s.info(),
            "trace": POWER_CSV,
            "anchor_wall_ns": wall_ns,
            "anchor_perf_ns": perf_ns,
            "idle_seconds": self.idle_seconds,
            "idle_w": None,
        }
        if sel.tried:
            self._power["auto_skipped"] = {name: why for name, why in sel.tried}
        writer.manifest.power = PowerFacts.model_validate(self._power)
        self.sampler = PowerSampler(s, writer.run_dir / POWER_CSV, anchor, rate_hz=self.rate_hz)
        self.sampler.start()
        if self.idle_seconds > 0:
            idle = self.sampler.measure_idle(self.idle_seconds)
            self._power.update(idle_w=idle.idle_w, idle_start_ns=idle.start_ns, idle_end_ns=idle.end_ns)
            self._power.update(_stated_idle(s, idle.idle_w))
            writer.manifest.power = PowerFacts.model_validate(self._power)
        if self.idle_seconds < self.sampler.settle_s():  # let a slow counter move before the first request
            time.sleep(self.sampler.settle_s() - self.idle_seconds)
        writer.write_manifest()

    def wrap(self, on_progress: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
        """The runner's progress callback, taking a sensor reading at each request's start and end."""
        sampler = self.sampler
        if sampler is None or not sampler.sensor.live:
            return on_progress

        def hook(event: Any) -> None:
            if event.kind in ("request_start", "request_end"):
                sampler.mark()
            if on_progress is not None:
                on_progress(event)

        return hook

    def stop(self, writer: _Writer) -> None:
        """Stop sampling, import an external trace, record the sampler's figures. Idempotent."""
        if self.sampler is None or self.sensor is None:
            self.close()
            return
        sampler, self.sampler = self.sampler, None
        s = self.sensor
        if not s.live and hasattr(s, "samples"):
            path = getattr(s, "path", None)
            if path is not None and not path.exists():  # the run ended and the meter's file never came
                self._power["external_missing"] = str(path)
            samples = s.samples(self._power["anchor_wall_ns"], self._power["anchor_perf_ns"])
            lo, hi = writer.manifest.anchor_perf_ns - _MARGIN_NS, time.perf_counter_ns() + _MARGIN_NS
            kept = [x for x in samples if lo <= x.t_ns <= hi]  # the run ± a margin, not the meter's whole day
            sampler.write_samples(kept)
            self._power["imported_rows"] = len(kept)
        stats = sampler.stop()
        self._power.update(
            samples=stats.rows,
            read_errors=stats.errors,
            last_error=stats.last_error,
            overruns=stats.overruns,
            stopped_early=stats.stopped_early,
            sampler_cpu_share=round(stats.cpu_share, 5) if s.live else None,
            **({"rate_lowered": stats.rate_lowered} if stats.rate_lowered else {}),
            **({"wraps": w} if (w := s.info().get("wraps")) else {}),
        )
        writer.manifest.power = PowerFacts.model_validate(self._power)
        writer.write_manifest()
        self.close()

    def close(self) -> None:
        if self.sensor is not None:
            self.sensor.close()
            self.sensor = None
